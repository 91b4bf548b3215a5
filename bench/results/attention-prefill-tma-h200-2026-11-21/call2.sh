#!/usr/bin/env bash
# prefill-tma call 2: does TMA's loss scale with the number of boxes per tile? Interleaved TMA on / off
# (one binary, PAGODA_PREFILL_TMA) at page sizes 16 (16 boxes per K or V tile at D = 128), 64 (4),
# 128 (2) and contiguous (P = L, 2), 1k / 4k / 16k; then ncu-lite of one 16k P = 16 launch each way.
set -uo pipefail
python3 -c "import tarfile;tarfile.open('build-tma-s5/c.tar.xz').extractall('build-tma-s5/x/carry')" || exit 1
export PAGODA_ATTN_BUILD=build-tma-s5/x PYTHONUNBUFFERED=1
C=$PAGODA_ATTN_BUILD/carry
export LD_LIBRARY_PATH=$PWD/$C
O=$OUT/o
mkdir -p $O
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv > $O/device.txt 2>&1
for r in 1 2; do
  for P in 16 64 128 0; do
    for v in 1 0; do
      PAGODA_PREFILL_TMA=$v timeout 40 $C/bench_attention prefill-page $P 1024 4096 16384 2>/dev/null | sed "s/^/tma=$v r$r /" >> $O/pages_ab.txt
    done
  done
done
python3 - $O/pages_ab.txt <<'PY'
import json, sys, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    tag, rnd, js = line.split(" ", 2)
    d = json.loads(js)
    t[(d["impl"], tag, d["seq"])].append(d["tflops"])
for (impl, tag, L), xs in sorted(t.items()):
    print(f"{impl:16s} {tag} {L:6d} " + " / ".join(f"{x:.1f}" for x in xs))
PY
# gpu_session.sh's ncu-lite sections, one 16k P = 16 launch per setting.
for v in 1 0; do
  PAGODA_PREFILL_TMA=$v timeout 55 ncu --clock-control none -k regex:flash_prefill -c 1 --section SpeedOfLight \
    --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section WarpStateStats \
    --section SchedulerStats --section Occupancy --section LaunchStats \
    $C/bench_attention ncu 16384 > $O/ncu_tma$v.txt 2>&1
  echo "ncu tma=$v rc=$?"
  grep -E "Duration|Compute \(SM\) Throughput|Memory Throughput|L2 Hit|Issue Slots Busy|No Eligible|Eligible Warps|Warp Cycles Per Issued|Stall|Pipe" $O/ncu_tma$v.txt | head -24
done
cd $OUT && tar czf o.tgz o && rm -rf o
