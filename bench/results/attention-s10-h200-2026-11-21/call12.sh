#!/usr/bin/env bash
# Session 10 call 12 (H200): the split kernel's interior tiles (whole, in one page, unmasked) in a loop without the
# per-tile branches (build-s10j: -DPAGODA_DECODE_INTERIOR=1) against main (build-s10e): bench_attention latency
# (B1 128 keys .. 128k, the issue's batched shapes, the serving shapes), in the order e j j e; then the decode
# tests on s10j.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
for c in c12; do python3 -c "import tarfile; tarfile.open('build-carryxz-s10/$c.tar.xz').extractall('.')"; done
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
SECONDS=0
r=0
for b in s10e s10j s10j s10e; do
  r=$((r+1)); A=build-$b/carry
  LD_LIBRARY_PATH=$PWD/build-s10e/carry timeout 120 $A/bench_attention latency | grep -v nograph | grep -v ceiling | sed "s/^/$b r$r /"
done > $OUT/bench_latency.txt 2>&1
echo "bench ${SECONDS}s"
python3 - $OUT/bench_latency.txt <<'PY'
import sys, json, collections
t = collections.defaultdict(dict)
for l in open(sys.argv[1]):
    parts = l.split(' ', 2)
    try: d = json.loads(parts[2])
    except Exception: print(l.strip()); continue
    k = (d['batch'], d['ctx'], d['ctx_lo'], d['plan_kv'])
    t[k].setdefault(parts[0], []).append(d['us'])
for k in t:
    b, dd = t[k].get('s10e', []), t[k].get('s10j', [])
    if b and dd:
        print(k, b, dd, '%+.1f%%' % (100 * (sum(dd) / len(dd) / (sum(b) / len(b)) - 1)))
PY
A=build-s10j/carry
LD_LIBRARY_PATH=$PWD/build-s10e/carry timeout 200 $A/test_backend_cuda --gtest_filter='*Decode*' > $OUT/test_decode_s10j.txt 2>&1
echo "decode tests rc=$? ${SECONDS}s"; grep -E "PASSED|FAILED" $OUT/test_decode_s10j.txt | tail -5
