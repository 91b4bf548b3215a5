#!/usr/bin/env bash
# Call 3: chunked prefill (q_len new tokens over a longer paged KV, P 16, bf16, H 32 / Hkv 8, D 128): the default
# dispatch (D 128 with max_q_len <= 2048 runs the persistent ping-pong kernel) against a build whose ping-pong bound
# is 0 (flash_prefill_sm90.cu with -DPAGODA_PREFILL_PINGPONG_MAX_Q=0: the one-work-per-CTA kernel everywhere),
# bench_attention prefill-chunk interleaved x3, then prefill-default (1k-16k, 16k tokens per launch) for both.
# Carry: build-carryxz/c.tar.xz = {pingpong,onework}/bench_attention, pingpong/libfmt.so.9.
set -uo pipefail
D=build-final
python3 -c "import tarfile;tarfile.open('build-carryxz/c.tar.xz').extractall('$D')"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader | tee $OUT/device.txt
export LD_LIBRARY_PATH=$PWD/$D/pingpong:${LD_LIBRARY_PATH:-}
for b in pingpong onework onework pingpong pingpong onework; do
  echo "== $b" >> $OUT/chunk.jsonl
  timeout 90 $D/$b/bench_attention prefill-chunk >> $OUT/chunk.jsonl 2>&1
done
for b in pingpong onework; do
  echo "== $b" >> $OUT/chunk.jsonl
  timeout 90 $D/$b/bench_attention prefill-default 1024 2048 4096 >> $OUT/chunk.jsonl 2>&1
done
python3 - <<'PY'
import json,os
rows={}
cur=None
for line in open(os.environ['OUT']+'/chunk.jsonl'):
    if line.startswith('=='): cur=line.split()[1]; continue
    try: j=json.loads(line)
    except: continue
    key=(j['op'],j.get('batch'),j.get('q_len',j.get('seq')),j.get('kv_len',j.get('seq')))
    rows.setdefault(key,{}).setdefault(cur,[]).append(j['tflops'])
for k,v in rows.items():
    print(k, ' | '.join(f"{b} " + '/'.join('%.1f' % x for x in v[b]) for b in v))
PY
