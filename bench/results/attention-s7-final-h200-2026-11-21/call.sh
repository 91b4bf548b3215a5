#!/usr/bin/env bash
# Session 7 final call (H200): tests + sanitizers + the table with SDPA peers, P=64 prefill,
# MQA decode. Binaries: PAGODA_ATTN_BUILD=build-final-s7 bash bench/attention/build_carry.sh at f485a99.
set -uo pipefail
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
export PAGODA_ATTN_BUILD=build-final-s7 OUT=${OUT:-/tmp/out}
C=$PAGODA_ATTN_BUILD/carry
export LD_LIBRARY_PATH=$PWD/$C:${LD_LIBRARY_PATH:-}
date -u
bash bench/attention/gpu_session.sh tests bench
timeout 60 $C/bench_attention prefill-page 64 1024 2048 4096 8192 16384 > "$OUT/prefill_p64.jsonl" 2>&1; echo "p64 rc=$?"
cat "$OUT/prefill_p64.jsonl"
timeout 90 $C/bench_attention mqa > "$OUT/mqa.jsonl" 2>&1; echo "mqa rc=$?"
grep -v nograph "$OUT/mqa.jsonl" | head -40
date -u
