#!/usr/bin/env bash
# Session 9 call 6 (H200): the final form (build-s9h: the run gather with 4 swizzle offsets per lane, static
# stride; kernels SASS-identical to call 5's s9f): the whole test_backend_cuda, memcheck / racecheck on the paged
# sm90 prefill tests, the full bench with PyTorch peers and head dim 64.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s9/c6.tar.xz').extractall('.')"
H=build-s9h/carry
export LD_LIBRARY_PATH=$PWD/$H:${LD_LIBRARY_PATH:-}
date -u
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
SECONDS=0
timeout 280 $H/test_backend_cuda > $OUT/tests.txt 2>&1; echo "tests rc=$? ${SECONDS}s"
grep -E "^\[  (PASSED|FAILED) |FAILED" $OUT/tests.txt | head -20
F='*PrefillSm90Sweep:*PrefillSm90PagesNanTails:*PrefillChunkedShapesTakeTheWorkQueue:*PrefillContiguousEqualsPaged'
timeout 120 $CS --tool memcheck $H/test_backend_cuda --gtest_filter="$F" > $OUT/memcheck.txt 2>&1
echo "memcheck rc=$? ${SECONDS}s $(grep -E 'ERROR SUMMARY' $OUT/memcheck.txt | tail -1)"
timeout 60 $CS --tool racecheck $H/test_backend_cuda --gtest_filter='*PrefillSm90PagesNanTails' > $OUT/racecheck.txt 2>&1
echo "racecheck rc=$? ${SECONDS}s $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $OUT/racecheck.txt | tail -1)"
PAGODA_ATTN_BUILD=build-s9h bash bench/attention/gpu_session.sh bench prefill-d64 > $OUT/session.txt 2>&1
echo "bench ${SECONDS}s"; grep -E "^\| (prefill|decode)" $OUT/results.md | cut -c1-100; grep -E "^\| 32" $OUT/results_d64.md
date -u
