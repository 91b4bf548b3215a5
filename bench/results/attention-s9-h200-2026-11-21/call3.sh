#!/usr/bin/env bash
# Session 9 call 3 (H200): the committed form (build-s9d: run gather in its own RUNS instantiations, the row
# gather's kernels byte-identical to main 79d69e1 = build-s9a, P 32 moved from TMA to the run gather) and a
# variant whose run-gather ping-pong kernel takes works from the dynamic queue (build-s9e,
# -DPAGODA_PREFILL_RUNS_QUEUE=1). Tests on s9d (all) and on s9e (the prefill tests), memcheck / racecheck on
# s9d's paged prefill tests, then prefill 1k-16k at P 16 / 32 and the chunked / mixed shapes, interleaved.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s9/c3.tar.xz').extractall('.')"
A=build-s9a/carry D=build-s9d/carry E=build-s9e/carry
export LD_LIBRARY_PATH=$PWD/$D:${LD_LIBRARY_PATH:-}
date -u; nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
SECONDS=0
cut200() { cut -c1-220; }
for v in a d e; do X=build-s9$v/carry
  for r in 1; do timeout 60 $X/bench_attention prefill-default 2>/dev/null | sed "s/^/s9$v r0 /" | tee -a $OUT/prefill.txt | cut200; done
done
timeout 280 $D/test_backend_cuda > $OUT/tests_d.txt 2>&1; echo "tests s9d rc=$? ${SECONDS}s"
grep -E "^\[  (PASSED|FAILED) |FAILED" $OUT/tests_d.txt | head -20
timeout 150 $E/test_backend_cuda --gtest_filter='*Prefill*' > $OUT/tests_e.txt 2>&1; echo "tests s9e (prefill) rc=$? ${SECONDS}s"
grep -E "^\[  (PASSED|FAILED) |FAILED" $OUT/tests_e.txt | head -20
F='*PrefillSm90Sweep:*PrefillSm90PagesNanTails:*PrefillChunkedShapesTakeTheWorkQueue:*PrefillContiguousEqualsPaged'
timeout 120 $CS --tool memcheck $D/test_backend_cuda --gtest_filter="$F" > $OUT/memcheck_d.txt 2>&1
echo "memcheck s9d rc=$? ${SECONDS}s $(grep -E 'ERROR SUMMARY' $OUT/memcheck_d.txt | tail -1)"
timeout 60 $CS --tool racecheck $D/test_backend_cuda --gtest_filter='*PrefillSm90PagesNanTails' > $OUT/racecheck_d.txt 2>&1
echo "racecheck s9d rc=$? ${SECONDS}s $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $OUT/racecheck_d.txt | tail -1)"
for r in 1 2; do
  for v in a d e; do X=build-s9$v/carry
    timeout 60 $X/bench_attention prefill-default 2>/dev/null | sed "s/^/s9$v r$r /" | tee -a $OUT/prefill.txt | cut200
    timeout 60 $X/bench_attention prefill-page 32 1024 2048 4096 8192 16384 2>/dev/null | sed "s/^/s9$v r$r /" | tee -a $OUT/prefill.txt | cut200
  done
done
echo "${SECONDS}s"
for v in a d e; do X=build-s9$v/carry
  timeout 60 $X/bench_attention prefill-page 1 1024 2>/dev/null | sed "s/^/s9$v /" | tee -a $OUT/prefill.txt | cut200
  timeout 90 $X/bench_attention prefill-chunk 2>/dev/null | sed "s/^/s9$v /" | tee -a $OUT/chunk.txt | cut200
  timeout 60 $X/bench_attention prefill-mixed "100:100*64" "512:512*8,2048:2048*4,1024:1024*4" "128:4096*16,2048:2048*2" 2>/dev/null | sed "s/^/s9$v /" | tee -a $OUT/mixed.txt | sed -E 's/"seqs":"[^"]{40}[^"]*"/"seqs":"..."/' | cut200
done
echo "${SECONDS}s"; date -u
