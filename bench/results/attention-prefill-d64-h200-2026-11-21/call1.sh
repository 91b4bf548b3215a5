#!/usr/bin/env bash
# Device call 1: head-dim-64 prefill, each kernel forced (HEAD kernels), plus the PyTorch peers.
set -uo pipefail
C=build-pre-s4-carry
export LD_LIBRARY_PATH=$PWD/$C:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv | tee "$OUT/device.txt"
timeout 90 $C/bench_attention_base prefill-d64 > "$OUT/d64_base.jsonl" 2> "$OUT/d64_base.err"; echo "bench rc=$?"
cat "$OUT/d64_base.jsonl" | cut -c1-140
timeout 150 python3 $C/bench_peers.py "$OUT/d64_base.jsonl" "$OUT/d64_base.md" prefill-d64 > "$OUT/peers.log" 2>&1; echo "peers rc=$?"
tail -20 "$OUT/peers.log"
