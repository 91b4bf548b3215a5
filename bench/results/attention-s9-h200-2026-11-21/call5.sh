#!/usr/bin/env bash
# Session 9 call 5 (H200): the run gather's shared-memory addresses as 4 swizzle offsets per lane plus immediates
# (build-s9f, static stride) and the same with the ping-pong work queue (build-s9g, -DPAGODA_PREFILL_RUNS_QUEUE=1;
# 52 B of producer spills instead of 68) against the commit 5f1061f (build-s9d's kernels). Prefill tests on s9f
# and s9g, then P 16 / 32 1k-16k, chunked and mixed shapes, interleaved twice.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s9/c5.tar.xz').extractall('.')"
export LD_LIBRARY_PATH=$PWD/build-s9d/carry:${LD_LIBRARY_PATH:-}
date -u; nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
SECONDS=0
cut200() { sed -E 's/"seqs":"[^"]{40}[^"]*"/"seqs":"..."/' | cut -c1-220; }
for v in f g; do
  timeout 120 build-s9$v/carry/test_backend_cuda --gtest_filter='*PrefillSm90*:*PrefillWorkQueue*:*PrefillChunked*:*PrefillGraph*:*PrefillTwoStreams*:*PrefillContiguous*' > $OUT/tests_$v.txt 2>&1
  echo "tests s9$v rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED) |FAILED" $OUT/tests_$v.txt | head
done
for r in 1 2; do
  for v in d f g; do X=build-s9$v/carry
    timeout 60 $X/bench_attention prefill-default 2>/dev/null | sed "s/^/s9$v r$r /" | tee -a $OUT/prefill.txt | cut200
    timeout 60 $X/bench_attention prefill-page 32 1024 2048 4096 2>/dev/null | sed "s/^/s9$v r$r /" | tee -a $OUT/prefill.txt | cut200
    timeout 90 $X/bench_attention prefill-chunk 2>/dev/null | sed "s/^/s9$v r$r /" | tee -a $OUT/chunk.txt | cut200
    timeout 60 $X/bench_attention prefill-mixed "100:100*64" "512:512*8,2048:2048*4,1024:1024*4" "128:4096*16,2048:2048*2" 2>/dev/null | sed "s/^/s9$v r$r /" | tee -a $OUT/mixed.txt | cut200
  done
done
echo "${SECONDS}s"; date -u
