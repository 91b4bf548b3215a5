#!/usr/bin/env bash
# Session 7, second call: the test summary of the final binaries (call 1's tests.log did not come back),
# synccheck on the pair kernel (is its named-barrier use valid?), racecheck on the 16-row PDL test.
set -uo pipefail
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
C=build-final-s7/carry
export LD_LIBRARY_PATH=$PWD/$C:${LD_LIBRARY_PATH:-}
timeout 150 $C/test_backend_cuda > "$OUT/tests.log" 2>&1; echo "tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |^\[       OK|SKIPPED" "$OUT/tests.log" | tail -40
timeout 100 compute-sanitizer --tool synccheck $C/test_backend_cuda --gtest_filter='*DecodePairKernelSweep' > "$OUT/synccheck_pair.log" 2>&1
echo "synccheck pair rc=$? $(grep -E 'SUMMARY' "$OUT/synccheck_pair.log" | tail -1)"; grep -m5 -A3 "Barrier\|Error" "$OUT/synccheck_pair.log" | head -20
timeout 60 compute-sanitizer --tool racecheck $C/test_backend_cuda --gtest_filter='*DecodeProgrammaticLaunchSeesPreviousKernel' > "$OUT/racecheck_pdl16.log" 2>&1
echo "racecheck pdl16 rc=$? $(grep -E 'SUMMARY' "$OUT/racecheck_pdl16.log" | tail -1)"
