#!/usr/bin/env bash
# Session 8 call 6 (H200): the two-level merge's body issuing 4 items x 8 slots of loads per L2 trip
# (decode_merge_items), build-s8b = working tree; before = build-s8 (1a5999d). Decode tests, racecheck and
# memcheck on the two-level tests, the merge sweep, mqa and rows (before/after).
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s8/c.tar.xz').extractall('.')"
A=build-s8b/carry BEF=build-s8/carry
export LD_LIBRARY_PATH=$PWD/$A:${LD_LIBRARY_PATH:-}
date -u
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
timeout 200 $A/test_backend_cuda --gtest_filter='*Decode*' > $OUT/tests.txt 2>&1; echo "tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |FAILED" $OUT/tests.txt | head -20
for tool in racecheck memcheck; do for t in DecodePairKernelProgrammaticLaunch DecodeManySplits; do
  timeout 120 $CS --tool $tool $A/test_backend_cuda --gtest_filter="*$t" > $OUT/${tool}_$t.txt 2>&1; echo "$tool $t rc=$?"
  grep -E "SUMMARY" $OUT/${tool}_$t.txt | head -2
done; done
timeout 120 $A/bench_attention merge > $OUT/merge.jsonl 2>&1; echo "merge rc=$?"
python3 - $OUT/merge.jsonl <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{') and 'nograph' not in l]
for a, b in zip(rows[0::2], rows[1::2]):
    k = 'r16' if a['rows_per_cta'] == 16 else 'p%d' % a['key_streams']
    print(f"hkv {a['hkv']} q {a['q_len']} ctx {a['ctx']:>6} {k:>3} splits {a['splits']:>3}: one level {a['us']:7.2f} | two (gs {b['merge_gs']:>2}) {b['us']:7.2f}")
PY
for round in 1 2; do
  for v in before after; do
    [[ $v == before ]] && X=$BEF || X=$A
    for m in mqa rows; do
      echo "== round $round $v $m"
      timeout 120 $X/bench_attention $m 2>&1 | grep -v nograph | grep -v decode-ceiling
    done
  done
done > $OUT/call6.jsonl 2>&1
python3 - $OUT/call6.jsonl <<'PY'
import sys, json, collections
res = collections.defaultdict(list)
tag = None
for l in open(sys.argv[1]):
    if l.startswith('=='):
        tag = l.split()[3]; continue
    try: r = json.loads(l)
    except Exception: continue
    key = (r['op'], r['hkv'], r['q_len'], r['batch'], r['ctx'])
    res[key].append((tag, r['us'], r['splits'], r['rows_per_cta'], r['key_streams'], r.get('merge_gs', 0)))
for k, v in res.items():
    b = [x for x in v if x[0] == 'before']; a = [x for x in v if x[0] == 'after']
    if not a or not b: continue
    mb = sum(x[1] for x in b) / len(b); ma = sum(x[1] for x in a) / len(a)
    print(f"{k[0]:11s} hkv {k[1]} q {k[2]} B{k[3]:<4d} ctx {k[4]:<6d} | before {' '.join('%.2f' % x[1] for x in b)} ({b[0][2]}s r{b[0][3]} k{b[0][4]}) | after {' '.join('%.2f' % x[1] for x in a)} ({a[0][2]}s r{a[0][3]} k{a[0][4]} gs{a[0][5]}) | {100*(ma/mb-1):+.1f}%")
PY
date -u
