#!/usr/bin/env bash
# Session 13 call 12 (H200): after call 11 the planner takes the two-n-tile keys-major form only where the 16-row
# plan splits (build-s13h rebuilt): the decode tests, then bench_attention rows16 and rows.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s13/c12.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
A=build-s13h/carry
SECONDS=0
LD_LIBRARY_PATH=$PWD/$A timeout 300 $A/test_backend_cuda --gtest_filter='*Decode*' > $OUT/test_decode.txt 2>&1
echo "tests rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/test_decode.txt | tail -8
grep -m3 -A8 "Failure" $OUT/test_decode.txt | head -30
fmt() { grep -v nograph | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.rstrip()); continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('hkv', ''), d.get('q_len', ''), d.get('splits', ''), d.get('kernel', ''), d['us'], d['tbps'])
"; }
LD_LIBRARY_PATH=$PWD/$A timeout 200 $A/bench_attention rows16 > $OUT/bench_rows16.txt 2>&1
echo "rows16 rc=$?"; fmt < $OUT/bench_rows16.txt | grep -v ceiling | sort -k3,3n -k4,4n -k5,5n -k6,6n -k2,2
LD_LIBRARY_PATH=$PWD/$A timeout 200 $A/bench_attention rows > $OUT/bench_rows.txt 2>&1
echo "rows rc=$?"; fmt < $OUT/bench_rows.txt | grep -v ceiling
