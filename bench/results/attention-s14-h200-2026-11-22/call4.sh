#!/usr/bin/env bash
# Session 14 call 4 (H200): call 3's chain timeline again with the raw per-CTA stamps of launches 8-13 (B1 8k, 16
# splits, the plan's trigger; then early), for the per-SM hand-off between consecutive launches.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
X=build-s14p/carry
for e in 0 1; do
  timeout 60 $X/decode_keys_probe 8192 16 24 $e $OUT/raw_8192_16_$e.txt > $OUT/probe_8192_16_$e.txt 2>&1; echo "rc=$?"
  head -1 $OUT/probe_8192_16_$e.txt
done
