#!/usr/bin/env bash
# Session 10 call 6 (H200): the final tree (build-s10e: main + the 4-chain Q K^T, SASS-identical to call 5's s10d).
# test_backend_cuda (all), memcheck on the decode tests, racecheck on the pair kernel's PDL test; the pair-kernel
# shapes (bench_attention mqa, rows) main (s10b) / final (s10e) in the order b e e b; then the model's GPU tests
# (test_model_cuda, built by bench/model/build_carry.sh at the same tree) and the Llama-3-8B bench.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
for c in c3 c6; do python3 -c "import tarfile; tarfile.open('build-carryxz-s10/$c.tar.xz').extractall('.')"; done
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
SECONDS=0
A=build-s10e/carry
LD_LIBRARY_PATH=$PWD/$A timeout 260 $A/test_backend_cuda > $OUT/test_backend_cuda.txt 2>&1
echo "test_backend_cuda rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/test_backend_cuda.txt | tail -5
r=0
for b in s10b s10e s10e s10b; do
  r=$((r+1)); B=build-$b/carry
  for m in mqa rows; do LD_LIBRARY_PATH=$PWD/$B timeout 60 $B/bench_attention $m | grep -v nograph | sed "s/^/$b r$r /"; done
done > $OUT/bench_pair.txt 2>&1
echo "bench ${SECONDS}s"
python3 - $OUT/bench_pair.txt <<'PY'
import sys, json, collections
t = collections.defaultdict(dict)
for l in open(sys.argv[1]):
    parts = l.split(' ', 2)
    try: d = json.loads(parts[2])
    except Exception: print(l.strip()); continue
    k = (d['op'], d['impl'], d['hkv'], d['q_len'], d['batch'], d['ctx'], d['splits'], d['rows_per_cta'])
    t[k].setdefault(parts[0], []).append(d['us'])
for k in t:
    b, e = t[k].get('s10b', []), t[k].get('s10e', [])
    if b and e: print(k, b, e, '%+.1f%%' % (100 * (sum(e) / len(e) / (sum(b) / len(b)) - 1)))
PY
LD_LIBRARY_PATH=$PWD/$A timeout 150 $CS --tool memcheck $A/test_backend_cuda --gtest_filter='*DecodeLatencyPlans:*DecodeManySplits:*DecodeBatchedPaged*:*DecodeWarpKernelManyShort' > $OUT/memcheck_decode.txt 2>&1
echo "memcheck rc=$? ${SECONDS}s $(grep 'ERROR SUMMARY' $OUT/memcheck_decode.txt | tail -1)"
LD_LIBRARY_PATH=$PWD/$A timeout 90 $CS --tool racecheck $A/test_backend_cuda --gtest_filter='*DecodePairKernelProgrammaticLaunch' > $OUT/racecheck_pair.txt 2>&1
echo "racecheck rc=$? ${SECONDS}s $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $OUT/racecheck_pair.txt | tail -1)"
PAGODA_CARRY=build-gpumodel/carry timeout $((560 - SECONDS)) bash bench/model/gpu_session.sh tests > $OUT/model_tests.txt 2>&1
echo "model tests rc=$? ${SECONDS}s"; grep -E "PASSED|FAILED|memcheck" $OUT/model_tests.txt | head -10
M=build-gpumodel/carry
LD_LIBRARY_PATH=$PWD/$M:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-} timeout $((590 - SECONDS)) $M/bench_model_cuda \
  bench/configs/llama-3-8b.json > $OUT/bench-llama-3-8b.md 2>&1
echo "8B bench rc=$? ${SECONDS}s"; grep -iE "decode|tok/s" $OUT/bench-llama-3-8b.md | head -20
