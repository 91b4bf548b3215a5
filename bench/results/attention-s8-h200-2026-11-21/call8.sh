#!/usr/bin/env bash
# Session 8 call 8 (H200): racecheck on the whole pair-kernel sweep test (the committed form, build-s8b as in
# call 7), with what is left of the session's device time.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s8/c.tar.xz').extractall('.')"
A=build-s8b/carry
export LD_LIBRARY_PATH=$PWD/$A:${LD_LIBRARY_PATH:-}
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
date -u
timeout 255 $CS --tool racecheck --print-limit 20 $A/test_backend_cuda --gtest_filter='*DecodePairKernelSweep' > $OUT/racecheck_sweep.txt 2>&1
echo "rc=$? (124: timed out)"; grep -cE "Race reported|hazard detected" $OUT/racecheck_sweep.txt; grep -E "SUMMARY|PASSED|FAILED|OK \]" $OUT/racecheck_sweep.txt | head
date -u
