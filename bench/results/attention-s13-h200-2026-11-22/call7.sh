#!/usr/bin/env bash
# Session 13 call 7 (H200): all of test_backend_cuda on build-s13g (main + the 16-split planner change), the
# final attention tree of the session (the command ran inline; this is it).
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s13/c6.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
A=build-s13g/carry; LD_LIBRARY_PATH=$PWD/$A timeout 400 $A/test_backend_cuda > $OUT/test_backend_cuda_full.txt 2>&1; echo "rc=$?"
grep -E "^\[  (PASSED|FAILED)|FAILED|^\[       OK" $OUT/test_backend_cuda_full.txt | tail -32
