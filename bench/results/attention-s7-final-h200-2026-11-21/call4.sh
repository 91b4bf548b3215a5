#!/usr/bin/env bash
# Session 7, call 4 (run on the uncommitted refactor, committed after it): the decode combine/merge tail shared by the 16-row and pair kernels (review mend) changes
# the SASS of every decode kernel, so: decode tests on the new build, then before (f485a99's build) / after
# interleaved on the latency and MQA benches. Carry build-ab-s7: before_bench, after_bench, after_test, libfmt.
set -uo pipefail
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
mkdir -p build-ab-s7 && python3 -c "import tarfile; tarfile.open('build-carryxz/c.tar.xz').extractall('build-ab-s7')"
C=build-ab-s7
export LD_LIBRARY_PATH=$PWD/$C:${LD_LIBRARY_PATH:-}
timeout 80 $C/after_test --gtest_filter='*Decode*' 2>&1 | grep -E "^\[  (PASSED|FAILED) |^\[       OK|FAILED" | tee "$OUT/tests.txt"
for r in 1 2; do
  for b in before after; do
    timeout 45 $C/${b}_bench latency 2>/dev/null | grep -v nograph | sed "s/^/$b r$r /" > "$OUT/lat_${b}_$r.txt"
  done
done
for b in after before; do timeout 40 $C/${b}_bench mqa 2>/dev/null | grep -v nograph | sed "s/^/$b /" > "$OUT/mqa_$b.txt"; done
python3 - "$OUT" <<'PY'
import json,sys,glob,collections
out=sys.argv[1]; t=collections.defaultdict(list)
for f in sorted(glob.glob(out+'/lat_*.txt'))+sorted(glob.glob(out+'/mqa_*.txt')):
    for l in open(f):
        tag,_,js=l.partition('{'); d=json.loads('{'+js); b=tag.split()[0]
        if d.get('impl')!='pagoda': continue
        k=(d['op'],d['hkv'],d['batch'],d['ctx'],d.get('ctx_lo',0)); t[k].append((b,d['us']))
for k,v in t.items():
    bb=[u for b,u in v if b=='before']; aa=[u for b,u in v if b=='after']
    if bb and aa: print(k,'before',bb,'after',aa,'%+.1f%%'%(100*(sum(aa)/len(aa)/(sum(bb)/len(bb))-1)))
PY
