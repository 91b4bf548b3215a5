#!/usr/bin/env bash
# Session 9 call 8 (H200): compute-sanitizer on the decode kernels' shared start (build-s9i, call 7's binaries):
# racecheck and memcheck on the pair kernel's PDL test and on DecodeManySplits (both merge levels), racecheck
# on the 16-row kernel's PDL and batched-equals-single tests.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s9/c8.tar.xz').extractall('.')"
A=build-s9i/carry
export LD_LIBRARY_PATH=$PWD/$A:${LD_LIBRARY_PATH:-}
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
SECONDS=0
for tool in racecheck memcheck; do for t in DecodePairKernelProgrammaticLaunch DecodeManySplits DecodeProgrammaticLaunchSeesPreviousKernel DecodeBatchedPagedEqualsSingleContiguous; do
  timeout 60 $CS --tool $tool $A/test_backend_cuda --gtest_filter="*$t" > $OUT/${tool}_$t.txt 2>&1
  echo "$tool $t rc=$? ${SECONDS}s $(grep -E 'SUMMARY' $OUT/${tool}_$t.txt | tail -1)"
done; done
