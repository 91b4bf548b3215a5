#!/usr/bin/env bash
# Session 13 call 2 (H200): the keys-major kernel's split partials as LL words (value | flag, 8-byte atomic
# accesses), the ticket taken before the combine with no fence, the last taker polling (build-s13b), against
# call 1's build with the acq_rel ticket (build-s13a). Decode tests on the new build, memcheck on the keys-major
# and workspace tests, then bench_attention latency, old and new interleaved (a b b a, one file per run).
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s13/c2.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
SECONDS=0
OLD=build-s13a/carry NEW=build-s13b/carry
export LD_LIBRARY_PATH=$PWD/$NEW
timeout 300 $NEW/test_backend_cuda --gtest_filter='*Decode*' > $OUT/test_decode.txt 2>&1
echo "test_backend_cuda Decode rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/test_decode.txt | tail -8
grep -m3 -A8 "Failure" $OUT/test_decode.txt | head -30
timeout 200 $CS --tool memcheck $NEW/test_backend_cuda --gtest_filter='*DecodeKeys*:*DecodeBatchedPaged*:*DecodeInitializedWorkspace*:*DecodeLatencyPlans*' > $OUT/memcheck.txt 2>&1
echo "memcheck rc=$? ${SECONDS}s $(grep 'ERROR SUMMARY' $OUT/memcheck.txt | tail -1)"
fmt() { grep -v nograph | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.rstrip()); continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('hkv', ''), d.get('q_len', ''), d.get('splits', ''), d['us'], d['tbps'])
"; }
i=0
for v in a b b a; do
  i=$((i + 1)); A=$OLD; [[ $v == b ]] && A=$NEW
  LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention latency > $OUT/bench_latency_$i$v.txt 2>&1
  echo "latency $i$v rc=$? ${SECONDS}s"; fmt < $OUT/bench_latency_$i$v.txt | grep -v ceiling | awk '{print "'$v'", $0}'
done
