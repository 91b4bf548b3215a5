#!/usr/bin/env bash
# Session 11 call 2 (H200): keys-major kernel with 8 warps x 3 stages and 12 x 2 added (build-s11a, second build).
# Its tests, then bench_attention keys-at over B1 shapes at forced splits and the batched shapes as planned.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s11/c2.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
A=build-s11a/carry
export LD_LIBRARY_PATH=$PWD/$A
timeout 200 $A/test_backend_cuda --gtest_filter='*DecodeKeys*' > $OUT/test_keys.txt 2>&1
echo "keys tests rc=$?"; grep -E "^\[  (PASSED|FAILED)|OK \]|FAILED \]" $OUT/test_keys.txt | head -20
grep -m5 -B2 -A8 "Failure" $OUT/test_keys.txt | head -40
fmt() { grep -v nograph | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.rstrip()); continue
    print(d['impl'], d['batch'], d['ctx'], d['splits'], d['us'], d['tbps'])
"; }
timeout 200 $A/bench_attention keys-at 1:2048,1:8192,1:32768,1:131072 0.0.0.0 8.2.0.16 8.3.0.16 12.2.0.16 12.2.0.12 8.3.0.12 12.2.0.8 4.3.1.16 4.3.0.32 > $OUT/bench_keys_b1.txt 2>&1
echo "bench b1 rc=$?"; fmt < $OUT/bench_keys_b1.txt
timeout 100 $A/bench_attention keys-at 16:8192,64:4096,128:2048 0.0.0.0 4.3.0.0 6.2.0.0 8.3.0.0 12.2.0.0 > $OUT/bench_keys_batched.txt 2>&1
echo "bench batched rc=$?"; fmt < $OUT/bench_keys_batched.txt
