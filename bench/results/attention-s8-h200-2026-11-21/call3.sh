#!/usr/bin/env bash
# Session 8 call 3 (H200): the refitted planner (two-level merge priced per split count) and the flat
# merge's code change, before (build-s8, 1a5999d) / after (build-s8b, working tree) interleaved:
# latency (the issue's decode shapes and serving shapes), mqa, rows, pair serve.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s8/c.tar.xz').extractall('.')"
A=build-s8b/carry BEF=build-s8/carry
export LD_LIBRARY_PATH=$PWD/$A:${LD_LIBRARY_PATH:-}
date -u
for round in 1 2; do
  for v in before after; do
    [[ $v == before ]] && X=$BEF || X=$A
    for m in latency mqa rows "pair serve"; do
      echo "== round $round $v $m"
      timeout 120 $X/bench_attention $m 2>&1 | grep -v nograph | grep -v decode-ceiling
    done
  done
done > $OUT/call3.jsonl 2>&1
python3 - $OUT/call3.jsonl <<'PY'
import sys, json, collections
res = collections.defaultdict(list)
tag = None
for l in open(sys.argv[1]):
    if l.startswith('=='):
        tag = l.split()[3]; continue
    try: r = json.loads(l)
    except Exception: continue
    key = (r['op'], r['hkv'], r['q_len'], r['batch'], r['ctx'], r['ctx_lo'], r['plan_kv'])
    res[key].append((tag, r['us'], r['splits'], r['rows_per_cta'], r['key_streams'], r.get('merge_gs', 0)))
for k, v in res.items():
    b = [x for x in v if x[0] == 'before']; a = [x for x in v if x[0] == 'after']
    if not a or not b: continue
    mb = sum(x[1] for x in b) / len(b); ma = sum(x[1] for x in a) / len(a)
    print(f"{k[0]:11s} hkv {k[1]} q {k[2]} B{k[3]:<4d} ctx {k[4]:<6d} lo {k[5]:<4d} plan {k[6]:<6d} | before {' '.join('%.2f' % x[1] for x in b)} ({b[0][2]}s r{b[0][3]} k{b[0][4]}) | after {' '.join('%.2f' % x[1] for x in a)} ({a[0][2]}s r{a[0][3]} k{a[0][4]} gs{a[0][5]}) | {100*(ma/mb-1):+.1f}%")
PY
date -u
