#!/usr/bin/env bash
# Call 1 (decode round of session 5): one-trip merge + [row][split] partial layout + unified max (after) vs main at
# 08bd9da (before): GPU tests + memcheck on the decode tests, bench_attention latency before/after interleaved x2
# (with the new read-only ceiling), chain probe (12 PDL launches in a graph) at 8k / 32k before/after.
# Carry: build-carryxz/c.tar.xz = {before,after}/{test_backend_cuda,bench_attention,decode_probe,libfmt.so.9}.
set -uo pipefail
D=build-final
python3 -c "import tarfile;tarfile.open('build-carryxz/c.tar.xz').extractall('$D')"
export LD_LIBRARY_PATH=$PWD/$D/after:${LD_LIBRARY_PATH:-}
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader | tee $OUT/device.txt
timeout 200 $D/after/test_backend_cuda > $OUT/tests.log 2>&1; echo "tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $OUT/tests.log | head -20
timeout 150 compute-sanitizer --tool memcheck --leak-check no $D/after/test_backend_cuda \
  --gtest_filter='*DecodeFullTilePath*:*DecodeLatencyPlans*:*DecodeBatchedPaged*:*DecodeProgrammatic*:*DecodeInitialized*:*DecodeWarpKernelManyShort*:*DecodeUnifiedMax*:*DecodeManySplits*' > $OUT/memcheck.log 2>&1
echo "memcheck rc=$? $(grep -E 'ERROR SUMMARY' $OUT/memcheck.log | tail -1)"; grep -E "^\[  (PASSED|FAILED) " $OUT/memcheck.log
for b in before after before after; do
  echo "== $b" >> $OUT/bench.jsonl
  timeout 70 $D/$b/bench_attention latency 2>&1 | grep -v nograph >> $OUT/bench.jsonl
done
for b in before after; do for a in "8192 32 12" "32768 32 12"; do echo "== $b probe $a"; timeout 20 $D/$b/decode_probe $a; done; done > $OUT/probe.txt 2>&1
python3 - <<'PY'
import json,os
rows={}
cur=None
for line in open(os.environ['OUT']+'/bench.jsonl'):
    if line.startswith('=='): cur=line.split()[1]; continue
    try: j=json.loads(line)
    except: continue
    key=(j['op'],j['impl'],j['batch'],j['ctx'],j.get('ctx_lo',0),j.get('plan_kv',0))
    rows.setdefault(key,{}).setdefault(cur,[]).append((j['us'],j['tbps']))
for k,v in rows.items():
    print(k, ' | '.join(f"{b} " + '/'.join('%.2f us %.2f' % x for x in v[b]) for b in v))
PY
grep -E "chain|^[0-9]+ |launch " $OUT/probe.txt | head -60
cd $OUT && tar czf raw.tgz tests.log memcheck.log bench.jsonl probe.txt && rm -f tests.log memcheck.log
