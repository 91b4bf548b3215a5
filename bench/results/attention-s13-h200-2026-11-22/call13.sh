#!/usr/bin/env bash
# Session 13 call 13 (H200): after the review mend (a named constant for the 8 rows per n-tile; same SASS), build-s13i:
# The decode tests only.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s13/c13.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
A=build-s13i/carry
SECONDS=0
LD_LIBRARY_PATH=$PWD/$A timeout 300 $A/test_backend_cuda --gtest_filter='*Decode*' > $OUT/test_decode.txt 2>&1
echo "tests rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/test_decode.txt | tail -8
grep -m3 -A8 "Failure" $OUT/test_decode.txt | head -30

