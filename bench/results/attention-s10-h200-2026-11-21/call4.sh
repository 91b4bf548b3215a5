#!/usr/bin/env bash
# Session 10 call 4 (H200): the split kernel filling its whole ring, also before the dependency wait
# (build-s10c: -DPAGODA_DECODE_FULL_PREWAIT=true) against main's kernel (build-s10b), B1 at forced split counts
# (16 splits: one CTA per SM, so the next launch's CTAs fit beside this one's), interleaved twice; then the
# decode tests on s10c.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
for c in c3 c4; do python3 -c "import tarfile; tarfile.open('build-carryxz-s10/$c.tar.xz').extractall('.')"; done
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
SECONDS=0
for round in 1 2; do for b in s10b s10c; do
  A=build-$b/carry
  for keys in 8192 32768 131072; do
    LD_LIBRARY_PATH=$PWD/$A timeout 60 $A/bench_attention splits $keys 12 16 24 32 | grep -v nograph | sed "s/^/$b r$round /"
  done
done; done > $OUT/bench_full_prewait.txt 2>&1
echo "bench ${SECONDS}s"
python3 - $OUT/bench_full_prewait.txt <<'PY'
import sys, json, collections
t = collections.defaultdict(list)
for l in open(sys.argv[1]):
    parts = l.split(' ', 2)
    try: d = json.loads(parts[2])
    except Exception: print(l.strip()); continue
    t[(d['ctx'], d['splits'], parts[0])].append(d['us'])
for k in sorted(t): print(k, t[k])
PY
A=build-s10c/carry
LD_LIBRARY_PATH=$PWD/$A timeout 150 $A/test_backend_cuda --gtest_filter='*Decode*:-*PairKernelSweep*' > $OUT/test_decode_s10c.txt 2>&1
echo "decode tests rc=$? ${SECONDS}s"; grep -E "PASSED|FAILED" $OUT/test_decode_s10c.txt | tail -5
