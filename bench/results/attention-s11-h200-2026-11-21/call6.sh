#!/usr/bin/env bash
# Session 11 call 6 (H200): after the review mend (the two PDL tests share decode_plans_after_late_write), the
# decode PDL tests and the whole decode suite again (build-s11a, fifth build; kernels as call 5).
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s11/c6.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
A=build-s11a/carry
export LD_LIBRARY_PATH=$PWD/$A
timeout 280 $A/test_backend_cuda --gtest_filter='*Decode*' > $OUT/test_decode.txt 2>&1
echo "decode tests rc=$?"; grep -E "^\[  (PASSED|FAILED)|OK \]|FAILED \]" $OUT/test_decode.txt | tail -20
