#!/usr/bin/env bash
# Call 8: MQA batch-1 split sweeps (bench_attention splits-mqa: 1 KV head, 32 query heads = two 16-row groups; 0 =
# the planner's count), at 64k and 256k keys (the bytes of GQA 8k and 32k), and the GQA B1 8k sweep for reference,
# each twice. Question: is MQA B1's 1.0 TB/s (call 7) the 128-split merge (16 rows x 128 splits x 512 B = 1 MB
# read by one CTA per row group)?
set -uo pipefail
C=build-final-s6/carry
export LD_LIBRARY_PATH=$PWD/$C:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader | tee $OUT/device.txt
for r in 1 2; do
  timeout 60 $C/bench_attention splits-mqa 65536 0 8 16 24 32 48 64 96 128 2>&1 | grep -v nograph >> $OUT/sweep.jsonl
  timeout 60 $C/bench_attention splits-mqa 262144 0 16 32 48 64 96 128 2>&1 | grep -v nograph >> $OUT/sweep.jsonl
  timeout 60 $C/bench_attention splits 8192 0 16 24 32 48 64 2>&1 | grep -v nograph >> $OUT/sweep.jsonl
done
python3 - <<'PY'
import json,os
rows={}
for line in open(os.environ['OUT']+'/sweep.jsonl'):
    try: j=json.loads(line)
    except: continue
    key=(j.get('hkv'),j['ctx'],j['op'],j['splits'])
    rows.setdefault(key,[]).append('%.2f us %.3f' % (j['us'],j['tbps']))
for k,v in rows.items(): print(k, ' | '.join(v))
PY
