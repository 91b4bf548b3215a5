#!/usr/bin/env bash
# Call 2: the rest of the warp's ring issued right after the dependency wait, before q is read (decode v29).
# ringA: tiles 0-1 before the wait (as before), tile 2 after it, then the loop refills a slot after computing it
# (3 tiles in flight while waiting, 2 while computing: v17's loop without its third pre-wait tile).
# ringB: the same early tile 2, the loop as before (refill before compute; built with -DPAGODA_DECODE_REFILL_FIRST).
# before: main at 3a9eb49. GPU tests on both variants; bench_attention latency before/A/B interleaved x2; chain
# probe at 8k / 32k for each.
# Carry: build-carryxz/c.tar.xz = {before,ringA,ringB}/{test_backend_cuda,bench_attention,decode_probe}, before/libfmt.so.9.
set -uo pipefail
D=build-final
python3 -c "import tarfile;tarfile.open('build-carryxz/c.tar.xz').extractall('$D')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader | tee $OUT/device.txt
export LD_LIBRARY_PATH=$PWD/$D/before:${LD_LIBRARY_PATH:-}
for b in ringA ringB; do
  timeout 200 $D/$b/test_backend_cuda > $OUT/tests-$b.log 2>&1; echo "tests $b rc=$?"
  grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $OUT/tests-$b.log | head -20
done
timeout 150 compute-sanitizer --tool memcheck --leak-check no $D/ringA/test_backend_cuda \
  --gtest_filter='*DecodeLatencyPlans*:*DecodeProgrammatic*:*DecodeManySplits*:*DecodeBatchedPaged*' > $OUT/memcheck.log 2>&1
echo "memcheck ringA rc=$? $(grep -E 'ERROR SUMMARY' $OUT/memcheck.log | tail -1)"
for b in before ringA ringB before ringA ringB; do
  echo "== $b" >> $OUT/bench.jsonl
  timeout 70 $D/$b/bench_attention latency 2>&1 | grep -v nograph >> $OUT/bench.jsonl
done
for b in before ringA ringB; do for a in "8192 32 12" "32768 32 12"; do echo "== $b probe $a"; timeout 20 $D/$b/decode_probe $a; done; done > $OUT/probe.txt 2>&1
python3 - <<'PY'
import json,os
rows={}
cur=None
for line in open(os.environ['OUT']+'/bench.jsonl'):
    if line.startswith('=='): cur=line.split()[1]; continue
    try: j=json.loads(line)
    except: continue
    key=(j['op'],j['impl'],j['batch'],j['ctx'],j.get('ctx_lo',0),j.get('plan_kv',0))
    rows.setdefault(key,{}).setdefault(cur,[]).append(j['us'])
for k,v in rows.items():
    print(k, ' | '.join(f"{b} " + '/'.join('%.2f' % x for x in v[b]) for b in v))
PY
grep -E "chain|== " $OUT/probe.txt
cd $OUT && tar czf raw.tgz tests-*.log memcheck.log && rm -f tests-*.log memcheck.log
