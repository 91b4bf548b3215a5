#!/usr/bin/env bash
# Session 10 call 11 (H200): where the B1 8k decode's warps stall: ncu --set full with per-instruction stall
# samples on one launch at the planned 32 splits (2 CTAs per SM) and one at 16 (one CTA per SM); main's kernel
# (build-s10e). A single cold launch each, not the chain.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s10/c10.tar.xz').extractall('.')"
A=build-s10e/carry
export LD_LIBRARY_PATH=$PWD/$A:${LD_LIBRARY_PATH:-}
SECONDS=0
for s in 32 16; do
  timeout 200 ncu --clock-control none -k regex:flash_decode_kernel -c 1 --set full --import-source no \
    -o $OUT/dec$s $A/bench_attention splits 8192 $s > $OUT/ncu_run_$s.txt 2>&1
  echo "ncu $s rc=$? ${SECONDS}s"
  ncu -i $OUT/dec$s.ncu-rep --page source --csv --print-source sass > $OUT/dec${s}_sass.csv 2>&1
  ncu -i $OUT/dec$s.ncu-rep --page details > $OUT/dec${s}_details.txt 2>&1
  grep -E "Duration|DRAM Throughput|Issue Slots Busy|Issued Ipc|No Eligible|Warp Cycles Per Issued|Achieved Occupancy|Registers Per" $OUT/dec${s}_details.txt | head -12
  rm -f $OUT/dec$s.ncu-rep
done
