#!/usr/bin/env bash
# Session 8 call 7 (H200): the review mends of the final form (one count-in body for item and group counters,
# the group-size helper shared by planner, bench and tests; one-level 16-row D 128 kernels SASS-identical to
# call 5's, the others differ by a register swap or the group counter's address computed after the barrier):
# the whole test_backend_cuda, racecheck / memcheck on the two-level tests, mqa and rows before/after.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s8/c.tar.xz').extractall('.')"
A=build-s8b/carry BEF=build-s8/carry
export LD_LIBRARY_PATH=$PWD/$A:${LD_LIBRARY_PATH:-}
date -u
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
timeout 300 $A/test_backend_cuda > $OUT/tests.txt 2>&1; echo "tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |FAILED" $OUT/tests.txt | head -20
for tool in racecheck memcheck; do for t in DecodePairKernelProgrammaticLaunch DecodeManySplits; do
  timeout 120 $CS --tool $tool $A/test_backend_cuda --gtest_filter="*$t" > $OUT/${tool}_$t.txt 2>&1; echo "$tool $t rc=$?"
  grep -E "SUMMARY" $OUT/${tool}_$t.txt | head -2
done; done
for v in before after; do
  [[ $v == before ]] && X=$BEF || X=$A
  for m in mqa rows; do echo "== $v $m"; timeout 120 $X/bench_attention $m 2>&1 | grep -v nograph | grep -v decode-ceiling | grep '"hkv":1\|"q_len":4' | cut -c1-330; done
done
date -u
