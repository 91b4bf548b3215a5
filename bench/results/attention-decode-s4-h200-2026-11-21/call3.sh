#!/usr/bin/env bash
# Call 3: final kernel (after = commit 3e45b8d+) vs before (v15): full GPU tests + memcheck on the decode tests,
# latency before/after interleaved x2, probe at 8k/32k, forced split counts at 8k/32k.
set -uo pipefail
D=build-dec-s4-carry
export LD_LIBRARY_PATH=$PWD/$D/before:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $OUT/device.txt
timeout 150 $D/after/test_backend_cuda > $OUT/tests.log 2>&1; echo "tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $OUT/tests.log | head
timeout 150 /usr/local/cuda/bin/compute-sanitizer --tool memcheck --leak-check no $D/after/test_backend_cuda \
  --gtest_filter='*DecodeFullTilePath*:*DecodeLatencyPlans*:*DecodeBatchedPaged*:*DecodeProgrammatic*:*DecodeInitialized*:*DecodeWarpKernelManyShort*' > $OUT/memcheck.log 2>&1
echo "memcheck rc=$? $(grep -E 'ERROR SUMMARY' $OUT/memcheck.log | tail -1)"; grep -E "^\[  (PASSED|FAILED) " $OUT/memcheck.log
for b in before after before after; do
  echo "== $b" >> $OUT/bench.jsonl
  timeout 60 $D/$b/bench_attention latency 2>&1 | grep -v nograph >> $OUT/bench.jsonl
done
for b in before after; do
  echo "== $b-splits" >> $OUT/bench.jsonl
  timeout 60 $D/$b/bench_attention splits 32768 24 28 32 33 2>&1 | grep -v nograph >> $OUT/bench.jsonl
  timeout 60 $D/$b/bench_attention splits 8192 16 24 32 2>&1 | grep -v nograph >> $OUT/bench.jsonl
done
for b in before after; do for a in "8192 32" "32768 32"; do echo "== $b probe $a"; timeout 20 $D/$b/decode_probe $a; done; done > $OUT/probe.txt 2>&1
python3 - <<'PY'
import json,os
rows={}
cur=None
for line in open(os.environ['OUT']+'/bench.jsonl'):
    if line.startswith('=='): cur=line.split()[1].replace('-splits',''); continue
    try: j=json.loads(line)
    except: continue
    key=(j['op'],j['batch'],j['ctx'],j.get('ctx_lo',0),j.get('splits',0))
    rows.setdefault(key,{}).setdefault(cur,[]).append(j['us'])
for k,v in rows.items():
    print(k, ' | '.join(f"{b} {'/'.join('%.2f'%x for x in v[b])}" for b in v))
PY
