#!/usr/bin/env bash
# Session 10 call 10 (H200): does the 4-chain Q K^T (notes 41) change the split-count picture? B1 8k / 32k at 12-32
# forced splits for main before it (build-s10b), main after it (build-s10e) and s10e with the whole ring before
# the wait (build-s10i: notes 40's patch, -DPAGODA_DECODE_FULL_PREWAIT=true), in the order b e i i e b.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s10/c10.tar.xz').extractall('.')"
SECONDS=0
r=0
for b in s10b s10e s10i s10i s10e s10b; do
  r=$((r+1)); A=build-$b/carry
  for keys in 8192 32768; do
    LD_LIBRARY_PATH=$PWD/build-s10e/carry timeout 60 $A/bench_attention splits $keys 12 16 24 32 | grep -v nograph | sed "s/^/$b r$r /"
  done
done > $OUT/bench_splits.txt 2>&1
echo "bench ${SECONDS}s"
python3 - $OUT/bench_splits.txt <<'PY'
import sys, json, collections
t = collections.defaultdict(dict)
for l in open(sys.argv[1]):
    parts = l.split(' ', 2)
    try: d = json.loads(parts[2])
    except Exception: print(l.strip()); continue
    t[(d['ctx'], d['splits'])].setdefault(parts[0], []).append(d['us'])
for k in sorted(t): print(k, ' '.join(f"{b} {t[k].get(b)}" for b in ('s10b', 's10e', 's10i')))
PY
