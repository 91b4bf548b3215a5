#!/usr/bin/env bash
# Call 1 (session 7, notes 33): the pair kernel. Carry: build-mqa-s7/c1.tar.xz =
#   before/bench_attention  (main c74cb1c + the bench shapes commit 2b03cb3: the kernels as on main)
#   after/{bench_attention,test_backend_cuda,libfmt.so.9}  (branch mqa-s7 at b368dd3)
#   m1/test_backend_cuda  (after, mutated: both warps of a pair issue tile rows 0-7)
#   m2/test_backend_cuda  (after, mutated: split counters sized by the plan's own row groups)
# 1. GPU tests (decode and KV append; the prefill code is unchanged), 2. bench before/after interleaved x2
# (mqa, rows, latency), 3. the pair sweep (16-row CTAs vs pair KS 2 / 4 at forced splits), 4. mutants on the
# sweep test (must fail), 5. memcheck and racecheck on the pair kernel PDL test.
set -uo pipefail
D=build-c1
mkdir -p $D && python3 -c "import tarfile;tarfile.open('build-mqa-s7/c1.tar.xz').extractall('$D')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
export LD_LIBRARY_PATH=$PWD/$D/after:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader | tee $OUT/device.txt
(cd $D && sha256sum -c SHA256SUMS > $OUT/sha.txt 2>&1; echo "sha rc=$?")
T0=$SECONDS
F='CudaAttention.Decode*:CudaAttention.KvAppend*:CudaAttention.Rejects*'
timeout 120 $D/after/test_backend_cuda --gtest_filter="$F" > $OUT/tests.log 2>&1; echo "tests rc=$? ($((SECONDS-T0)) s)"
grep -E "^\[  (PASSED|FAILED) |FAILED  \]|^\[       OK \]" $OUT/tests.log | head -30
for r in 1 2; do
  for b in before after; do
    for m in mqa rows latency; do
      echo "== $b r$r" >> $OUT/$m.jsonl
      timeout 40 $D/$b/bench_attention $m 2>&1 | grep -v nograph >> $OUT/$m.jsonl
    done
  done
done
echo "bench ab done ($((SECONDS-T0)) s)"
timeout 90 $D/after/bench_attention pair 2>&1 | grep -v nograph > $OUT/pair.jsonl; echo "pair rc=$? ($((SECONDS-T0)) s)"
for m in m1 m2; do
  timeout 40 $D/$m/test_backend_cuda --gtest_filter='*DecodePairKernelSweep*' > $OUT/mutant_$m.log 2>&1
  echo "mutant $m rc=$? (non-zero expected) $(grep -cE 'Failure' $OUT/mutant_$m.log) failures; $(grep -m1 -E 'got|differ|counter' $OUT/mutant_$m.log | cut -c1-200)"
done
echo "mutants done ($((SECONDS-T0)) s)"
timeout 70 compute-sanitizer --tool memcheck --leak-check no $D/after/test_backend_cuda \
  --gtest_filter='*DecodePairKernelProgrammaticLaunch*' > $OUT/memcheck.log 2>&1
echo "memcheck rc=$? $(grep -E 'ERROR SUMMARY' $OUT/memcheck.log | tail -1) ($((SECONDS-T0)) s)"
timeout 50 compute-sanitizer --tool racecheck $D/after/test_backend_cuda \
  --gtest_filter='*DecodePairKernelProgrammaticLaunch*' > $OUT/racecheck.log 2>&1
echo "racecheck rc=$? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $OUT/racecheck.log | tail -1) ($((SECONDS-T0)) s)"
python3 - <<'PY'
import json,os
O=os.environ['OUT']
for m in ['mqa','rows','latency']:
    rows={}; cur=None
    for line in open(f'{O}/{m}.jsonl'):
        if line.startswith('=='): cur=line.split()[1]; continue
        try: j=json.loads(line)
        except: continue
        if j['op'].startswith('decode-ceiling'): continue
        key=(j.get('hkv',8),j.get('q_len',1),j['batch'],j['ctx'],j.get('ctx_lo',0),j.get('plan_kv',0),j['impl'])
        rows.setdefault(key,{}).setdefault(cur,[]).append('%.2f' % j['us'])
    print('##', m)
    for k,v in rows.items(): print('Hkv %d q%d B%d ctx %d lo %d plan %d %s' % k, ' | '.join(f"{b}: " + ' '.join(v[b]) for b in v))
best={}
for line in open(f'{O}/pair.jsonl'):
    try: j=json.loads(line)
    except: continue
    print('pair Hkv %d q%d B%d ctx %d %s splits %d: %.2f us %.3f TB/s' % (j['hkv'],j['q_len'],j['batch'],j['ctx'],j['impl'],j['splits'],j['us'],j['tbps']))
PY
cd $OUT && tar czf raw.tgz tests.log mutant_*.log memcheck.log racecheck.log && rm -f tests.log mutant_*.log memcheck.log racecheck.log
