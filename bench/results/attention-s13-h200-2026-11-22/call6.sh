#!/usr/bin/env bash
# Session 13 call 6 (H200): the planner's B1 split count from 8k keys: SMs / items (16 at B1) instead of
# (SMs - items) / items (15), after call 5 found 16 faster at 8k and 32k with the acq_rel ticket. a = build-s13a
# (main), b = build-s13g (main + the planner change + its test expectations). The planner tests on b, then
# bench_attention latency (B1) and keys-at for B2 (16 items: 7 -> 8 splits), a b b a.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s13/c6.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
SECONDS=0
NEW=build-s13g/carry
LD_LIBRARY_PATH=$PWD/$NEW timeout 200 $NEW/test_backend_cuda --gtest_filter='*DecodePlan*:*DecodeLatencyPlans*:*DecodeKeys*:*DecodeInitializedWorkspace*' > $OUT/test_decode.txt 2>&1
echo "tests rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/test_decode.txt | tail -6
grep -m3 -A8 "Failure" $OUT/test_decode.txt | head -30
fmt() { grep -v nograph | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.rstrip()); continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('splits', ''), d['us'], d['tbps'])
"; }
i=0
for v in a b b a; do
  i=$((i + 1)); A=build-s13a/carry; [[ $v == b ]] && A=$NEW
  LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention latency > $OUT/bench_latency_$i$v.txt 2>&1
  echo "latency $i$v rc=$? ${SECONDS}s"; fmt < $OUT/bench_latency_$i$v.txt | grep -v ceiling | grep "decode-b1" | awk '{print "'$v'", $0}'
  LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention keys-at 2:8192,2:32768,4:8192 0.0.0.0 > $OUT/bench_keys_$i$v.txt 2>&1
  echo "keys-at $i$v rc=$? ${SECONDS}s"; fmt < $OUT/bench_keys_$i$v.txt | grep -v ceiling | awk '{print "'$v'", $0}'
done
