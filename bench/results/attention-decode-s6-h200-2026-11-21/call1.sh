#!/usr/bin/env bash
# Call 1 (decode round of session 6): L2 prefetch before the dependency wait (decode v28). GPU tests + memcheck and
# racecheck on the decode tests; bench_attention prefetch (the split kernel's shapes at depths plan, 0, 1, 2, 4, 8,
# 30, two interleaved rounds); chain probe at 8k / 32k with 0 and 2 prefetched tiles; the 8B model (random weights,
# batch-1 decode at 128 / 1k / 4k / 32k) with the planner's prefetch ("on") and without ("off", attention.cpp built
# with -DPAGODA_DECODE_L2_PREFETCH_MB=0), interleaved x2 each way; test_model_cuda on "on".
# Carry: build-carryxz/c.tar.xz = attn/{test_backend_cuda,bench_attention,decode_probe,libfmt.so.9},
# model-on/{test_model_cuda,bench_model_cuda,libs}, model-off/bench_model_cuda.
set -uo pipefail
D=build-final
python3 -c "import tarfile;tarfile.open('build-carryxz/c.tar.xz').extractall('$D')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader | tee $OUT/device.txt
export LD_LIBRARY_PATH=$PWD/$D/attn:${LD_LIBRARY_PATH:-}
timeout 200 $D/attn/test_backend_cuda > $OUT/tests.log 2>&1; echo "tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $OUT/tests.log | head -20
timeout 150 compute-sanitizer --tool memcheck --leak-check no $D/attn/test_backend_cuda \
  --gtest_filter='*DecodeLatencyPlans*:*DecodeProgrammatic*:*DecodeManySplits*:*DecodeBatchedPaged*' > $OUT/memcheck.log 2>&1
echo "memcheck rc=$? $(grep -E 'ERROR SUMMARY' $OUT/memcheck.log | tail -1)"
timeout 100 compute-sanitizer --tool racecheck $D/attn/test_backend_cuda --gtest_filter='*DecodeLatencyPlans*' > $OUT/racecheck.log 2>&1
echo "racecheck rc=$? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $OUT/racecheck.log | tail -1)"
timeout 200 $D/attn/bench_attention prefetch 2 2>&1 | grep -v nograph > $OUT/prefetch.jsonl
echo "prefetch bench rc=$?"
python3 - <<'PY'
import json,os
rows={}
for line in open(os.environ['OUT']+'/prefetch.jsonl'):
    try: j=json.loads(line)
    except: continue
    rows.setdefault((j['batch'],j['ctx']),{}).setdefault(j['impl'].replace('pagoda-',''),[]).append((j['us'],j['tbps'],j['l2_prefetch']))
for k,v in rows.items():
    print('B%d ctx %d: ' % k + ' | '.join(f"{i}(={x[0][2]}) " + '/'.join('%.2f' % y[0] for y in x) + ' us %.2f TB/s' % max(y[1] for y in x) for i,x in v.items()))
PY
for pf in 0 2 0 2; do for a in "8192 32 12" "32768 32 12"; do echo "== pf $pf probe $a"; timeout 20 $D/attn/decode_probe $a $pf; done; done > $OUT/probe.txt 2>&1
grep -E "chain|== " $OUT/probe.txt | head -40
export LD_LIBRARY_PATH=$PWD/$D/model-on:/usr/local/cuda/lib64
timeout 200 $D/model-on/test_model_cuda > $OUT/model-tests.log 2>&1; echo "model tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $OUT/model-tests.log | head
for b in off on on off; do
  echo "== $b" >> $OUT/model.md
  timeout 120 $D/model-$b/bench_model_cuda bench/configs/llama-3-8b.json \
    --decode-only --no-gemm-sweep --contexts 128,1024,4096,32768 >> $OUT/model.md 2>&1
  echo "$b rc=$?"
done
grep -E "^== |tok/s|^\| (1|128|1024|4096|32768) " $OUT/model.md | head -60
cd $OUT && tar czf raw.tgz tests.log memcheck.log racecheck.log model-tests.log && rm -f tests.log memcheck.log racecheck.log model-tests.log
