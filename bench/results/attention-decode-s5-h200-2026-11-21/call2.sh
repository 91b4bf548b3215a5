#!/usr/bin/env bash
# Call 2: the kept kernel (v19, "after" = this tree) through gpu_session.sh tests + bench (GPU tests, memcheck,
# racecheck, the full attention table with PyTorch SDPA flash / cuDNN and the ceilings), then the pre-wait
# experiment: "pw1" (1 pre-wait tile per warp instead of 2) vs after, latency interleaved x2 and the chain probe.
# Carry: build-carryxz/c.tar.xz = {after,pw1}/{test_backend_cuda,bench_attention,decode_probe,libfmt.so.9}.
set -uo pipefail
D=build-final
python3 -c "import tarfile;tarfile.open('build-carryxz/c.tar.xz').extractall('$D')"
mkdir -p $D/after-session && ln -sfn $PWD/$D/after $D/after-session/carry
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
PAGODA_ATTN_BUILD=$D/after-session OUT=$OUT/session timeout 420 bash bench/attention/gpu_session.sh tests bench 2>&1 | grep -vE '^\{' | tail -60
export LD_LIBRARY_PATH=$PWD/$D/after:${LD_LIBRARY_PATH:-}
for b in after pw1 after pw1; do
  echo "== $b" >> $OUT/pw.jsonl
  timeout 60 $D/$b/bench_attention latency 2>&1 | grep -v nograph | grep -v ceiling >> $OUT/pw.jsonl
done
for b in after pw1; do for a in "8192 32 12" "32768 32 12"; do echo "== $b probe $a"; timeout 20 $D/$b/decode_probe $a; done; done > $OUT/pw-probe.txt 2>&1
python3 - <<'PY'
import json,os
rows={}
cur=None
for line in open(os.environ['OUT']+'/pw.jsonl'):
    if line.startswith('=='): cur=line.split()[1]; continue
    try: j=json.loads(line)
    except: continue
    key=(j['op'],j['impl'],j['batch'],j['ctx'],j.get('ctx_lo',0),j.get('plan_kv',0))
    rows.setdefault(key,{}).setdefault(cur,[]).append(j['us'])
for k,v in rows.items():
    print(k, ' | '.join(f"{b} " + '/'.join('%.2f' % x for x in v[b]) for b in v))
PY
grep -E "chain|== " $OUT/pw-probe.txt
cd $OUT && tar czf session.tgz session && rm -rf session
