#!/usr/bin/env bash
# Call 7: MQA decode (H 32 / Hkv 1: 32 query rows per KV head = two 16-row groups, each a CTA that reads the KV) next
# to GQA (Hkv 8) at the same K+V bytes (bench_attention mqa, x2), and ncu's DRAM bytes of one B64 32k MQA launch
# against its 1.07 GB of K+V (is the second row group's read served by L2?).
# Carry: build-final-s6/carry (bench_attention, libfmt.so.9) built from main at 2141b15 + the mqa bench mode.
set -uo pipefail
C=build-final-s6/carry
export LD_LIBRARY_PATH=$PWD/$C:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader | tee $OUT/device.txt
for r in 1 2; do timeout 120 $C/bench_attention mqa 2>&1 | grep -v nograph >> $OUT/mqa.jsonl; done
python3 - <<'PY'
import json,os
rows={}
for line in open(os.environ['OUT']+'/mqa.jsonl'):
    try: j=json.loads(line)
    except: continue
    key=(j['op'],j.get('impl'),j.get('hkv',''),j['batch'],j['ctx'])
    rows.setdefault(key,[]).append('%.2f us %.3f TB/s' % (j['us'],j['tbps']))
for k,v in rows.items(): print(k, ' | '.join(v))
PY
timeout 200 ncu --clock-control none -k regex:flash_decode -c 1 --metrics dram__bytes_read.sum,lts__t_sectors_srcunit_tex_op_read.sum,gpu__time_duration.sum \
  $C/bench_attention ncu-mqa > $OUT/ncu_mqa.txt 2>&1
echo "ncu rc=$?"; grep -E "dram__bytes|lts__t_sectors|gpu__time|flash_decode" $OUT/ncu_mqa.txt | head
