#!/usr/bin/env bash
# Session 11 call 1 (H200): the keys-major decode kernel (build-s11a). Its tests and every decode test, then
# bench_attention keys (4 / 6 / 8 warps, trigger after / before the wait, forced splits, two rounds).
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s11/c1.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
A=build-s11a/carry
export LD_LIBRARY_PATH=$PWD/$A
timeout 200 $A/test_backend_cuda --gtest_filter='*DecodeKeys*' > $OUT/test_keys.txt 2>&1
echo "keys tests rc=$?"; grep -E "^\[  (PASSED|FAILED)|OK \]|FAILED \]" $OUT/test_keys.txt | head -20
grep -m5 -B2 -A8 "Failure" $OUT/test_keys.txt | head -40
timeout 280 $A/bench_attention keys > $OUT/bench_keys.txt 2>&1
echo "bench rc=$?"; grep -v nograph $OUT/bench_keys.txt | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.rstrip()); continue
    print(d['impl'], d['batch'], d['ctx'], d['splits'], d['us'], d['tbps'])
"
