#!/usr/bin/env bash
# Call 9: the split planner's per-split merge cost scaled by a CTA's real rows (notes 32). old = main 2141b15's planner,
# new = the change; bench_attention rows (planned decodes with 8-16 real rows per CTA: G 8, MQA, q_len 4; GQA 8k as
# control), old/new/new/old; GPU tests on new.
# Carry: build-carryxz/c.tar.xz = new/{bench_attention,test_backend_cuda,libfmt.so.9}, old/bench_attention.
set -uo pipefail
D=build-final
python3 -c "import tarfile;tarfile.open('build-carryxz/c.tar.xz').extractall('$D')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
export LD_LIBRARY_PATH=$PWD/$D/new:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader | tee $OUT/device.txt
timeout 200 $D/new/test_backend_cuda > $OUT/tests.log 2>&1; echo "tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $OUT/tests.log | head
for b in old new new old; do
  echo "== $b" >> $OUT/rows.jsonl
  timeout 60 $D/$b/bench_attention rows 2>&1 | grep -v nograph >> $OUT/rows.jsonl
done
python3 - <<'PY'
import json,os
rows={}
cur=None
for line in open(os.environ['OUT']+'/rows.jsonl'):
    if line.startswith('=='): cur=line.split()[1]; continue
    try: j=json.loads(line)
    except: continue
    key=(j['hkv'],j['q_len'],j['batch'],j['ctx'])
    rows.setdefault(key,{}).setdefault(cur,[]).append('%d splits %.2f us' % (j['splits'],j['us']))
for k,v in rows.items(): print('Hkv %d q_len %d B%d ctx %d' % k, ' | '.join(f"{b}: " + ', '.join(v[b]) for b in v))
PY
cd $OUT && tar czf raw.tgz tests.log && rm tests.log
