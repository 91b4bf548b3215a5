#!/usr/bin/env bash
# Session 11 call 5 (H200): the planner at 12 splits below 8k keys (build-s11a, fourth build; model binaries from
# bench/model/build_carry.sh at the same tree). test_backend_cuda (all), memcheck and racecheck on decode tests
# that run it, bench_attention latency (planned plans), keys-at: the planned kernel against the 16-row kernel as planned for it at B1 2k-32k, then the
# model's GPU tests and the Llama-3-8B bench.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s11/c5.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
SECONDS=0
A=build-s11a/carry
export LD_LIBRARY_PATH=$PWD/$A
timeout 300 $A/test_backend_cuda > $OUT/test_backend_cuda.txt 2>&1
echo "test_backend_cuda rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/test_backend_cuda.txt | tail -8
grep -m3 -A8 "Failure" $OUT/test_backend_cuda.txt | head -30
timeout 150 $CS --tool memcheck $A/test_backend_cuda --gtest_filter='*DecodeLatencyPlans:*DecodeManySplits:*DecodeBatchedPaged*' > $OUT/memcheck_decode.txt 2>&1
echo "memcheck rc=$? ${SECONDS}s $(grep 'ERROR SUMMARY' $OUT/memcheck_decode.txt | tail -1)"
timeout 100 $CS --tool racecheck $A/test_backend_cuda --gtest_filter='*DecodeBatchedPaged*' > $OUT/racecheck_keys.txt 2>&1
echo "racecheck rc=$? ${SECONDS}s $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $OUT/racecheck_keys.txt | tail -1)"
fmt() { grep -v nograph | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.rstrip()); continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('splits', ''), d['us'], d['tbps'])
"; }
timeout 120 $A/bench_attention latency > $OUT/bench_latency.txt 2>&1
echo "latency rc=$? ${SECONDS}s"; fmt < $OUT/bench_latency.txt
timeout 60 $A/bench_attention keys-at 1:2048,1:4096,1:8192,1:32768 0.0.0.0 -1.0.0.0 > $OUT/bench_keys_mid.txt 2>&1
echo "keys-at rc=$? ${SECONDS}s"; fmt < $OUT/bench_keys_mid.txt
PAGODA_CARRY=build-gpumodel/carry timeout $((540 - SECONDS)) bash bench/model/gpu_session.sh tests > $OUT/model_tests.txt 2>&1
echo "model tests rc=$? ${SECONDS}s"; grep -E "PASSED|FAILED|memcheck" $OUT/model_tests.txt | head -10
M=build-gpumodel/carry
LD_LIBRARY_PATH=$PWD/$M:$LD_LIBRARY_PATH timeout $((580 - SECONDS)) $M/bench_model_cuda bench/configs/llama-3-8b.json > $OUT/bench-llama-3-8b.md 2>&1
echo "model bench rc=$? ${SECONDS}s"; grep -E "decode|ctx" $OUT/bench-llama-3-8b.md | head -20
