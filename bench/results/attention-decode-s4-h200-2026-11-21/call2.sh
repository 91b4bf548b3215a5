#!/usr/bin/env bash
# Call 2: v0 (fast full-tile load + unmasked full tiles + conflict-free combine), v1 (v0 + full ring prologue)
# against before (v15): tests on v1, latency bench interleaved, probe at 32k, ncu on v1 B1 32k.
set -uo pipefail
D=build-dec-s4-carry
tar xJf $D/vars.tar.xz -C $D
export LD_LIBRARY_PATH=$PWD/$D/before:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $OUT/device.txt
timeout 200 $D/v1/test_backend_cuda > $OUT/tests_v1.log 2>&1; echo "tests v1 rc=$?"
grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $OUT/tests_v1.log | head
for b in before v0 v1 before v0 v1; do
  echo "== $b" >> $OUT/bench.jsonl
  timeout 60 $D/$b/bench_attention latency 2>&1 | grep -v nograph >> $OUT/bench.jsonl
done
for b in before v0 v1; do for a in "8192 32" "32768 32"; do echo "== $b probe $a"; timeout 20 $D/$b/decode_probe $a; done; done > $OUT/probe.txt 2>&1
timeout 90 /usr/local/cuda/bin/ncu --clock-control none --section SpeedOfLight --section WarpStateStats --section InstructionStats \
  --section SchedulerStats --section MemoryWorkloadAnalysis_Tables -k regex:flash_decode_kernel -c 1 $D/v1/bench_attention ncu-b1 32768 > $OUT/ncu_v1.txt 2>&1
echo "ncu rc=$?"
grep -E "Duration|DRAM Throughput|Executed Instructions  |Warp Cycles Per Issued|Issue Slots Busy|bank" $OUT/ncu_v1.txt | head
python3 - <<'PY'
import json,os
rows={}
cur=None
for line in open(os.environ['OUT']+'/bench.jsonl'):
    if line.startswith('=='): cur=line.split()[1]; continue
    try: j=json.loads(line)
    except: continue
    key=(j['op'],j['batch'],j['ctx'],j.get('ctx_lo',0),j.get('plan_kv',0))
    rows.setdefault(key,{}).setdefault(cur,[]).append(j['us'])
for k,v in rows.items():
    print(k, ' | '.join(f"{b} {'/'.join('%.2f'%x for x in v[b])}" for b in v))
PY
