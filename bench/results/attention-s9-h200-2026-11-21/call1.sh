#!/usr/bin/env bash
# Session 9 call 1 (H200): the P 16 producer's run gather (sm90_gather_runs; build-s9b) against main 79d69e1
# (build-s9a). The whole test_backend_cuda on the new build (also the first GPU run of 79d69e1's host-only
# decode mend), memcheck / racecheck on the paged sm90 prefill tests, then the default paged prefill (P 16)
# before/after interleaved 3 times, and P 1 / 8 (the rolled generic gather in the ping-pong kernel).
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s9/c1.tar.xz').extractall('.')"
A=build-s9a/carry B=build-s9b/carry
export LD_LIBRARY_PATH=$PWD/$B:${LD_LIBRARY_PATH:-}
date -u; nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
SECONDS=0
timeout 280 $B/test_backend_cuda > $OUT/tests.txt 2>&1; echo "tests rc=$? ${SECONDS}s"
grep -E "^\[  (PASSED|FAILED) |FAILED|tests ran" $OUT/tests.txt | head -20
F='*PrefillSm90Sweep:*PrefillSm90PagesNanTails:*PrefillChunkedShapesTakeTheWorkQueue:*PrefillContiguousEqualsPaged'
timeout 150 $CS --tool memcheck $B/test_backend_cuda --gtest_filter="$F" > $OUT/memcheck.txt 2>&1
echo "memcheck rc=$? ${SECONDS}s $(grep -E 'ERROR SUMMARY' $OUT/memcheck.txt | tail -1)"
timeout 100 $CS --tool racecheck $B/test_backend_cuda --gtest_filter='*PrefillSm90PagesNanTails' > $OUT/racecheck.txt 2>&1
echo "racecheck rc=$? ${SECONDS}s $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $OUT/racecheck.txt | tail -1)"
for r in 1 2 3; do
  for v in before after; do
    [[ $v == before ]] && X=$A || X=$B
    timeout 60 $X/bench_attention prefill-default 2>/dev/null | sed "s/^/$v r$r /" | tee -a $OUT/prefill_ab.txt | cut -c1-200
  done
done
echo "${SECONDS}s"
for v in before after; do
  [[ $v == before ]] && X=$A || X=$B
  for P in 1 8; do timeout 60 $X/bench_attention prefill-page $P 1024 4096 2>/dev/null | sed "s/^/$v P$P /" | tee -a $OUT/prefill_p1_p8.txt | cut -c1-200; done
done
echo "${SECONDS}s"; date -u
