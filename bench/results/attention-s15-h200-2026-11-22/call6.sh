#!/usr/bin/env bash
# Session 15 call 6 (H200): main's decode beside the PDL-chained read with a split decode's tail
# (bench/attention/read_merge_ceiling.cu; notes 59), batch 1 at 4k, 8k, 32k, two rounds; the committed tool after its stream became bench/attention/read_stream.cuh (the union of calls 1-3's configurations).
set -uo pipefail
export OUT=${OUT:-/tmp/out}
source bench/attention/call_helpers.sh
carry_extract build-carryxz-s15/c6.tar.xz
SECONDS=0
X=build-s15a/carry
export LD_LIBRARY_PATH=$PWD/$X
nvidia-smi --query-gpu=name,clocks.max.sm,clocks.max.mem --format=csv,noheader
timeout 200 $X/bench_attention tail-ceiling > $OUT/tail_ceiling.txt 2>&1; echo "tail-ceiling rc=$? ${SECONDS}s"
fmt_decode < $OUT/tail_ceiling.txt
