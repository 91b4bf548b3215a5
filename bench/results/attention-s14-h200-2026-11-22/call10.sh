#!/usr/bin/env bash
# Session 14 call 10 (H200), timing only: how much of the ping-pong prefill's time is its wait for the next work's Q
# rows. build-s14m is main with the consumers' cp.async wait for Q skipped (-DPAGODA_PREFILL_SKIP_Q_WAIT: results
# wrong), build-s14n the same on call 9's cross-work kernel (s14k); main is s13i. P 16 and contiguous 1k / 2k,
# rounds a b c d / d c b a.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
source bench/attention/call_helpers.sh
carry_extract build-carryxz-s14/c10.tar.xz
SECONDS=0
r=0
for order in "s13i s14m s14k s14n" "s14n s14k s14m s13i"; do r=$((r + 1))
  for v in $order; do X=build-$v/carry; export LD_LIBRARY_PATH=$PWD/$X
    timeout 60 $X/bench_attention prefill-default 1024 2048 2>/dev/null | sed "s/^/$v r$r /" >> $OUT/prefill.txt
    timeout 60 $X/bench_attention prefill-page 0 1024 2048 2>/dev/null | sed "s/^/$v r$r /" >> $OUT/prefill.txt
    echo "$v r$r ${SECONDS}s"
  done
done
fmt_prefill < $OUT/prefill.txt | sort -s -k3,3 -k4,4 -k6,6n -k1,1
