#!/usr/bin/env bash
# Session 10 call 7 (H200): the P 16 run gather's full warp slices without the zero-fill operand
# (build-s10f: -DPAGODA_PREFILL_RUNS_EXP=1) and also with Hkv 8 as a compile-time row pitch (build-s10g: =2, valid
# for Hkv 8 only: bench shapes only) against main (build-s10e). bench_attention prefill-page 16 (1k-16k) and
# prefill-chunk, in the order e f g g f e; then the prefill tests on s10f.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s10/c7.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
SECONDS=0
r=0
for b in s10e s10f s10g s10g s10f s10e; do
  r=$((r+1)); A=build-$b/carry
  LD_LIBRARY_PATH=$PWD/$A timeout 60 $A/bench_attention prefill-page 16 1024 2048 4096 8192 16384 | sed "s/^/$b r$r /"
  LD_LIBRARY_PATH=$PWD/$A timeout 60 $A/bench_attention prefill-chunk | sed "s/^/$b r$r /"
done > $OUT/bench_prefill.txt 2>&1
echo "bench ${SECONDS}s"
python3 - $OUT/bench_prefill.txt <<'PY'
import sys, json, collections
t = collections.defaultdict(dict)
for l in open(sys.argv[1]):
    parts = l.split(' ', 2)
    try: d = json.loads(parts[2])
    except Exception: print(l.strip()[:120]); continue
    k = tuple((x, d[x]) for x in ('op', 'seq', 'batch', 'q_len', 'kv_len') if x in d)
    t[k].setdefault(parts[0], []).append(d.get('tflops'))
for k in t:
    e = t[k].get('s10e', [])
    line = [str(k), 'e', str(e)]
    for b in ('s10f', 's10g'):
        v = t[k].get(b, [])
        if e and v: line += [b[-1], str(v), '%+.1f%%' % (100 * (sum(v) / len(v) / (sum(e) / len(e)) - 1))]
    print(' '.join(line))
PY
A=build-s10f/carry
LD_LIBRARY_PATH=$PWD/$A timeout 200 $A/test_backend_cuda --gtest_filter='*Prefill*' > $OUT/test_prefill_s10f.txt 2>&1
echo "prefill tests rc=$? ${SECONDS}s"; grep -E "PASSED|FAILED" $OUT/test_prefill_s10f.txt | tail -5
