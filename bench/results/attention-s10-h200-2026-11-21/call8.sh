#!/usr/bin/env bash
# Session 10 call 8 (H200): where the P 16 prefill's warps stall (notes 42's next step). ncu with source
# counters on one paged 1k prefill launch (16 x 1k tokens, the ping-pong kernel with the run gather;
# build-s10e = main), then the per-instruction SASS view as CSV for offline reading.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s10/c7.tar.xz').extractall('.')"
A=build-s10e/carry
export LD_LIBRARY_PATH=$PWD/$A:${LD_LIBRARY_PATH:-}
SECONDS=0
timeout 300 ncu --clock-control none -k regex:flash_prefill_sm90 -c 1 --set full --import-source no \
  -o $OUT/prefill1k $A/bench_attention ncu 1024 > $OUT/ncu_run.txt 2>&1
echo "ncu rc=$? ${SECONDS}s"; tail -3 $OUT/ncu_run.txt
ncu -i $OUT/prefill1k.ncu-rep --page source --csv --print-source sass > $OUT/source_sass.csv 2> $OUT/source_err.txt
echo "source page rc=$? $(wc -l < $OUT/source_sass.csv) lines"; head -c 600 $OUT/source_sass.csv; cat $OUT/source_err.txt | head -5
ncu -i $OUT/prefill1k.ncu-rep --page details > $OUT/details.txt 2>&1
grep -E "Duration|Issue Slots Busy|Issued Ipc|No Eligible|Warp Cycles Per Issued|Stall|Pipe" $OUT/details.txt | head -30
rm -f $OUT/prefill1k.ncu-rep
