#!/usr/bin/env bash
# Session 14 call 3 (H200): the chain timeline of the keys-major decode (dev/kernels/decode_keys_probe.cu, built on
# the CPU machine into build-s14p/carry) at B1 8k with 16 splits (the plan) and 15, each with the next launch
# triggered after the dependency wait (the plan) and before it (early), and 32k at 16 splits.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
X=build-s14p/carry
for cfg in "8192 16 24 0" "8192 16 24 1" "8192 15 24 0" "8192 15 24 1" "32768 16 16 0" "32768 16 16 1"; do
  set -- $cfg
  timeout 60 $X/decode_keys_probe $cfg > $OUT/probe_$1_$2_$4.txt 2>&1; echo "rc=$?"; cat $OUT/probe_$1_$2_$4.txt
done
