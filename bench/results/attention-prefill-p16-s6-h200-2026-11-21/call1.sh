#!/usr/bin/env bash
# Call 1: does computing the cp.async producer's lane split (chunk c, row rsub) once before the tile
# loop, as before the TMA merge, win back the P=16 prefill at 4k-8k? base = 4306318 (before TMA),
# after = main 7498704, cand = after + that change (SASS of the five cp.async one-work kernels
# byte-identical to base; TMA and ping-pong kernels byte-identical to after). Three interleaved
# rounds of the default dispatch (P=16) for all three, P=64 (TMA) for after / cand; then cand's
# GPU tests and memcheck on the prefill tests.
set -uo pipefail
D=build-x
python3 -c "import tarfile;tarfile.open('build-p16-s6/pack/c.tar.xz').extractall('$D')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
export LD_LIBRARY_PATH=$PWD/$D/cand:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv > $OUT/gpu.txt 2>&1
for order in "base after cand" "cand after base" "after base cand"; do
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
timeout 150 $D/cand/test_backend_cuda > $OUT/tests.log 2>&1; echo "tests rc=$?"; grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $OUT/tests.log
timeout 140 compute-sanitizer --tool memcheck --leak-check no $D/cand/test_backend_cuda --gtest_filter='*Prefill*' > $OUT/memcheck.log 2>&1
echo "memcheck rc=$? $(grep -E 'ERROR SUMMARY' $OUT/memcheck.log | tail -1)"; grep -E "^\[  (PASSED|FAILED) " $OUT/memcheck.log
