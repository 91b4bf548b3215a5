#!/usr/bin/env bash
# Call 6: is the P=16 prefill 1.5-1.9% slower at 4k-16k after the TMA merge, and is it the 256 bytes of unused tensor
# maps the cp.async kernels took? old = 4306318 (before TMA), cur = 6e07c6d (TMA merged), nomaps = cp.async kernels
# take an empty parameter; default dispatch at P=16 (bench_attention prefill-default), interleaved three times; then nomaps' GPU tests + memcheck.
set -uo pipefail
D=build-final
python3 -c "import tarfile;tarfile.open('build-carryxz/c.tar.xz').extractall('$D')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
export LD_LIBRARY_PATH=$PWD/$D/old:${LD_LIBRARY_PATH:-}
for r in 1 2 3; do for b in old cur nomaps; do
  timeout 40 $D/$b/bench_attention prefill-default 1024 2048 4096 8192 16384 2>/dev/null | sed "s/^/$b /" >> $OUT/ab.txt
done; done
python3 - <<'PY'
import json,os,collections
d=collections.defaultdict(list)
for line in open(os.environ['OUT']+'/ab.txt'):
    b,j=line.split(' ',1)
    try: j=json.loads(j)
    except: continue
    d[(j['seq'],b)].append(j['tflops'])
for L in sorted({k[0] for k in d}):
    print(L, ' | '.join(f"{b} " + '/'.join('%.1f'%x for x in d[(L,b)]) for b in ['old','cur','nomaps']))
PY
timeout 150 $D/nomaps/test_backend_cuda > $OUT/tests.log 2>&1; echo "tests rc=$?"; grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $OUT/tests.log
timeout 120 compute-sanitizer --tool memcheck --leak-check no $D/nomaps/test_backend_cuda --gtest_filter='*Prefill*' > $OUT/memcheck.log 2>&1
echo "memcheck rc=$? $(grep -E 'ERROR SUMMARY' $OUT/memcheck.log | tail -1)"
