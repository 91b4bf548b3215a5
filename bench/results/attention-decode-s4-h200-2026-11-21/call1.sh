#!/usr/bin/env bash
# Call 1: profile only (baseline v15): timeline probe at B1 8k / 32k, ncu --set full on one B1 32k launch.
set -uo pipefail
C=build-dec-s4-carry/before
export LD_LIBRARY_PATH=$PWD/$C:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv | tee $OUT/device.txt
for a in "8192 32" "32768 32" "32768 64"; do echo "== probe $a"; timeout 30 $C/decode_probe $a; done 2>&1 | tee $OUT/probe.txt
timeout 150 /usr/local/cuda/bin/ncu --clock-control none --set full --import-source yes -k regex:flash_decode_kernel -c 1 \
  -o $OUT/b1_32k $C/bench_attention ncu-b1 32768 > $OUT/ncu_log.txt 2>&1
echo "ncu rc=$?"; tail -3 $OUT/ncu_log.txt
/usr/local/cuda/bin/ncu -i $OUT/b1_32k.ncu-rep --page details > $OUT/ncu_details.txt 2>&1
grep -E "Duration|DRAM Throughput|Memory Throughput|Elapsed Cycles|SM Active Cycles|Registers|Achieved Occupancy|Warp Cycles Per Issued|L2 Hit|Eligible|Issue Slots" $OUT/ncu_details.txt | head -30
/usr/local/cuda/bin/ncu -i $OUT/b1_32k.ncu-rep --page source --csv --print-source cuda > $OUT/ncu_source.csv 2>&1; echo "src rc=$? $(wc -l < $OUT/ncu_source.csv)"
/usr/local/cuda/bin/ncu -i $OUT/b1_32k.ncu-rep --page raw --csv > $OUT/ncu_raw.csv 2>&1; echo "raw rc=$?"
