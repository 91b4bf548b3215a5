#!/usr/bin/env bash
# Session 14 call 7 (H200): the keys-major split merge as its own programmatic launch (build-s14i, built with
# -DPAGODA_DECODE_KEYS_SEPARATE_MERGE=1: one 128-thread CTA per item, no shared memory, beside the split CTAs until
# their grid completes; the split CTAs exit after their partial store), against main (build-s14e). Decode tests and
# memcheck on s14i, then bench_attention latency and rows, e i i e.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s14/c7.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
SECONDS=0
NEW=build-s14i/carry
LD_LIBRARY_PATH=$PWD/$NEW timeout 300 $NEW/test_backend_cuda --gtest_filter='*Decode*' > $OUT/test_decode.txt 2>&1
echo "tests rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/test_decode.txt | tail -8
grep -m3 -A8 "Failure" $OUT/test_decode.txt | head -30
LD_LIBRARY_PATH=$PWD/$NEW timeout 200 $CS --tool memcheck $NEW/test_backend_cuda --gtest_filter='*DecodeKeysKernelProgrammaticLaunch*:*DecodeLatencyPlans*' > $OUT/memcheck.txt 2>&1
echo "memcheck rc=$? ${SECONDS}s $(grep 'ERROR SUMMARY' $OUT/memcheck.txt | tail -1)"
fmt() { grep -v nograph | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('hkv', ''), d.get('q_len', ''), d.get('splits', ''), d['us'], d['tbps'])
"; }
i=0
for v in e i i e; do i=$((i + 1)); A=build-s14$v/carry
  for m in latency rows; do
    LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention $m > $OUT/bench_${m}_$i$v.txt 2>&1
    echo "$m $i$v rc=$? ${SECONDS}s"; fmt < $OUT/bench_${m}_$i$v.txt | grep -v ceiling | awk '{print "'$v'", $0}' >> $OUT/all_$m.txt
  done
done
for m in latency rows; do echo "== $m"; sort -s -k2,2 -k3,3n -k4,4n -k6,6n -k1,1 $OUT/all_$m.txt; done
