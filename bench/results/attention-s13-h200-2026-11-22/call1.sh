#!/usr/bin/env bash
# Session 13 call 1 (H200): the split merge's ticket as one acq_rel atom.inc by thread 0 between two CTA
# barriers (build-s13a), against main's fence in every thread, atomicAdd, atomicExch reset and second fence
# (build-s12c). Tests on the new build (all of test_backend_cuda; memcheck and racecheck on the decode tests
# that merge), then bench_attention latency, mqa and rows, old and new interleaved (a b b a).
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s13/c1.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
SECONDS=0
OLD=build-s12c/carry NEW=build-s13a/carry
export LD_LIBRARY_PATH=$PWD/$NEW
timeout 300 $NEW/test_backend_cuda > $OUT/test_backend_cuda.txt 2>&1
echo "test_backend_cuda rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/test_backend_cuda.txt | tail -8
grep -m3 -A8 "Failure" $OUT/test_backend_cuda.txt | head -30
timeout 240 $CS --tool memcheck $NEW/test_backend_cuda --gtest_filter='*DecodeKeys*:*DecodeBatchedPaged*:*DecodeManySplits*:*DecodeWarpKernelManyShort*:*DecodePairKernelSweep*' > $OUT/memcheck.txt 2>&1
echo "memcheck rc=$? ${SECONDS}s $(grep 'ERROR SUMMARY' $OUT/memcheck.txt | tail -1)"
timeout 120 $CS --tool racecheck $NEW/test_backend_cuda --gtest_filter='*DecodeKeysKernelProgrammaticLaunch*:*DecodeBatchedPaged*' > $OUT/racecheck.txt 2>&1
echo "racecheck rc=$? ${SECONDS}s $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $OUT/racecheck.txt | tail -1)"
fmt() { grep -v nograph | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.rstrip()); continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('hkv', ''), d.get('q_len', ''), d.get('splits', ''), d['us'], d['tbps'])
"; }
for v in a b b a; do
  A=$OLD; [[ $v == b ]] && A=$NEW
  LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention latency > $OUT/bench_latency_$v.txt 2>&1
  echo "latency $v rc=$? ${SECONDS}s"; fmt < $OUT/bench_latency_$v.txt | grep -v ceiling | awk '{print "'$v'", $0}'
done
for v in a b; do
  A=$OLD; [[ $v == b ]] && A=$NEW
  LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention mqa > $OUT/bench_mqa_$v.txt 2>&1
  echo "mqa $v rc=$? ${SECONDS}s"; fmt < $OUT/bench_mqa_$v.txt | grep -v ceiling | awk '{print "'$v'", $0}'
  LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention rows > $OUT/bench_rows_$v.txt 2>&1
  echo "rows $v rc=$? ${SECONDS}s"; fmt < $OUT/bench_rows_$v.txt | grep -v ceiling | awk '{print "'$v'", $0}'
done
