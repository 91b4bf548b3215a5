#!/usr/bin/env bash
# Call 7: the sm90 prefill kernels' consumer code moved into one shared struct (flash_prefill_sm90_consumer.cuh;
# review mend of the ping-pong kernel's copy) vs HEAD 6b360de: GPU tests + memcheck on the prefill tests, then
# the default dispatch at P=16 and at P=64 (TMA), 1k-16k, interleaved twice.
set -uo pipefail
D=build-final
python3 -c "import tarfile;tarfile.open('build-carryxz/c.tar.xz').extractall('$D')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
export LD_LIBRARY_PATH=$PWD/$D/head:${LD_LIBRARY_PATH:-}
timeout 150 $D/ref/test_backend_cuda > $OUT/tests.log 2>&1; echo "tests rc=$?"; grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $OUT/tests.log
timeout 120 compute-sanitizer --tool memcheck --leak-check no $D/ref/test_backend_cuda --gtest_filter='*Prefill*' > $OUT/memcheck.log 2>&1
echo "memcheck rc=$? $(grep -E 'ERROR SUMMARY' $OUT/memcheck.log | tail -1)"
for r in 1 2; do for b in head ref; do for P in 16 64; do
  timeout 40 $D/$b/bench_attention prefill-page $P 1024 2048 4096 8192 16384 2>/dev/null | sed "s/^/$b /" >> $OUT/ab.txt
done; done; done
python3 - <<'PY'
import json,os,collections
d=collections.defaultdict(list)
for line in open(os.environ['OUT']+'/ab.txt'):
    b,j=line.split(' ',1)
    try: j=json.loads(j)
    except: continue
    d[(j['impl'],j['seq'],b)].append(j['tflops'])
for (impl,L) in sorted({(k[0],k[1]) for k in d}):
    print(impl, L, ' | '.join(f"{b} " + '/'.join('%.1f'%x for x in d[(impl,L,b)]) for b in ['head','ref']))
PY
