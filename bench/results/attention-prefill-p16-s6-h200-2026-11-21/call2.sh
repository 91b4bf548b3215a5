#!/usr/bin/env bash
# Call 2: confirmation of call 1 with the same three builds (base = 4306318, after = main 7498704,
# cand = after + the producer's lane split before the tile loop): six more interleaved rounds in
# rotating orders, default dispatch (P=16) and P=64 (TMA; after / cand only), 1k-16k.
set -uo pipefail
D=build-x
python3 -c "import tarfile;tarfile.open('build-p16-s6/pack/c.tar.xz').extractall('$D')"
export LD_LIBRARY_PATH=$PWD/$D/cand:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv > $OUT/gpu.txt 2>&1
for order in "after cand base" "base cand after" "cand base after" "after base cand" "base after cand" "cand after base"; do
  for b in $order; do
    timeout 40 $D/$b/bench_attention prefill-default 1024 2048 4096 8192 16384 2>/dev/null | sed "s/^/$b /" >> $OUT/p16.txt
  done
  for b in ${order//base/}; do
    timeout 40 $D/$b/bench_attention prefill-page 64 1024 2048 4096 8192 16384 2>/dev/null | sed "s/^/$b /" >> $OUT/p64.txt
  done
done
python3 - <<'PY'
import json,os,collections
for f in ['p16.txt','p64.txt']:
    d=collections.defaultdict(list)
    for line in open(os.environ['OUT']+'/'+f):
        b,j=line.split(' ',1)
        try: j=json.loads(j)
        except: continue
        d[(j['seq'],b)].append(j['tflops'])
    print(f)
    for L in sorted({k[0] for k in d}):
        print(L, ' | '.join(f"{b} " + '/'.join('%.1f'%x for x in d[(L,b)]) + ' (%.1f)'%(sum(d[(L,b)])/len(d[(L,b)])) for b in ['base','after','cand'] if (L,b) in d))
PY
