#!/usr/bin/env bash
# Session 12 call 2 (H200): the early-ticket split merge of the keys-major kernel (branch s12-ticket, build-s12b)
# against the ticket-after-fence merge (build-s12a, call 1's build). Tests on the new build first (all of
# test_backend_cuda; memcheck and racecheck on the keys-major tests), then bench_attention keys-at and latency,
# old and new interleaved (a b b a).
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s12/c2.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
SECONDS=0
OLD=build-s12a/carry NEW=build-s12b/carry
export LD_LIBRARY_PATH=$PWD/$NEW
timeout 300 $NEW/test_backend_cuda > $OUT/test_backend_cuda.txt 2>&1
echo "test_backend_cuda rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/test_backend_cuda.txt | tail -8
grep -m3 -A8 "Failure" $OUT/test_backend_cuda.txt | head -30
timeout 150 $CS --tool memcheck $NEW/test_backend_cuda --gtest_filter='*DecodeKeys*:*DecodeBatchedPaged*' > $OUT/memcheck_keys.txt 2>&1
echo "memcheck rc=$? ${SECONDS}s $(grep 'ERROR SUMMARY' $OUT/memcheck_keys.txt | tail -1)"
timeout 120 $CS --tool racecheck $NEW/test_backend_cuda --gtest_filter='*DecodeKeysKernelProgrammaticLaunch*:*DecodeBatchedPaged*' > $OUT/racecheck_keys.txt 2>&1
echo "racecheck rc=$? ${SECONDS}s $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $OUT/racecheck_keys.txt | tail -1)"
fmt() { grep -v nograph | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.rstrip()); continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('splits', ''), d['us'], d['tbps'])
"; }
for v in a b b a; do
  A=$OLD; [[ $v == b ]] && A=$NEW
  LD_LIBRARY_PATH=$PWD/$A timeout 60 $A/bench_attention keys-at 1:2048,1:4096,1:8192,1:32768,1:131072 0.0.0.0.0 4.3.1.16.0 \
    > $OUT/bench_keys_$v.txt 2>&1
  echo "keys-at $v rc=$? ${SECONDS}s"; fmt < $OUT/bench_keys_$v.txt | sort -k2,2 -k4,4n | awk '{print "'$v'", $0}'
done
for v in a b b a; do
  A=$OLD; [[ $v == b ]] && A=$NEW
  LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention latency > $OUT/bench_latency_$v.txt 2>&1
  echo "latency $v rc=$? ${SECONDS}s"; fmt < $OUT/bench_latency_$v.txt | awk '{print "'$v'", $0}'
done
