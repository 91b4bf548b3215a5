#!/usr/bin/env bash
# Session 9 call 2 (H200): (1) the ping-pong kernel's generic gather (page sizes not a multiple of 16) rolled
# (build-s9b, call 1) against unrolled by 8 (build-s9c) and main (build-s9a) at P 1 / 8, and P 16 1k-2k s9b
# against s9c (the consumer's schedule moved); (2) with the run gather, the cp.async producer against TMA at the
# page sizes TMA serves (build-s9c is a PAGODA_PREFILL_TMA_KNOB build: 0 = cp.async everywhere, 1 = the rule);
# (3) chunked and mixed prefill shapes, main against s9c.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s9/c2.tar.xz').extractall('.')"
A=build-s9a/carry B=build-s9b/carry C=build-s9c/carry
export LD_LIBRARY_PATH=$PWD/$C:${LD_LIBRARY_PATH:-}
date -u; nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
SECONDS=0
cut200() { cut -c1-200; }
for r in 1 2; do
  for v in a b c; do
    X=build-s9$v/carry
    for P in 1 8; do timeout 60 $X/bench_attention prefill-page $P 1024 4096 2>/dev/null | sed "s/^/s9$v P$P r$r /" | tee -a $OUT/p1p8.txt | cut200; done
    [[ $v != a ]] && timeout 60 $X/bench_attention prefill-page 16 1024 2048 2>/dev/null | sed "s/^/s9$v P16 r$r /" | tee -a $OUT/p1p8.txt | cut200
  done
done
echo "${SECONDS}s"
for r in 1 2; do
  for P in 32 64 0; do
    for k in 0 1; do
      PAGODA_PREFILL_TMA=$k timeout 90 $C/bench_attention prefill-page $P 1024 2048 4096 8192 16384 2>/dev/null | sed "s/^/tma$k P$P r$r /" | tee -a $OUT/tma_vs_cpasync.txt | cut200
    done
  done
done
echo "${SECONDS}s"
for v in a c; do
  X=build-s9$v/carry
  timeout 90 $X/bench_attention prefill-chunk 2>/dev/null | sed "s/^/s9$v /" | tee -a $OUT/chunk.txt | cut200
  timeout 60 $X/bench_attention prefill-mixed "100:100*64" "512:512*8,2048:2048*4,1024:1024*4" "128:4096*16,2048:2048*2" 2>/dev/null | sed "s/^/s9$v /" | tee -a $OUT/mixed.txt | cut200
done
echo "${SECONDS}s"; date -u
