#!/usr/bin/env bash
# Call 2 (session 7, notes 33): the pair kernel with the planner fitted on call 1. Carry: build-mqa-s7/c2.tar.xz =
#   before/bench_attention  (as in call 1: main c74cb1c kernels + the bench shapes commit 2b03cb3)
#   A/{bench_attention,test_backend_cuda,libfmt.so.9}  (branch mqa-s7 at 44d8675: named barrier ids as immediates)
#   B/{bench_attention,test_backend_cuda}  (44d8675 with the call-1 register barrier id in the pair kernel)
#   m2/test_backend_cuda  (44d8675 mutated: split counters sized by the plan's own row groups)
#   probe/named_barrier_racecheck  (dev/kernels/named_barrier_racecheck.cu, sm_90a)
set -uo pipefail
D=build-c2
mkdir -p $D && python3 -c "import tarfile;tarfile.open('build-mqa-s7/c2.tar.xz').extractall('$D')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
export LD_LIBRARY_PATH=$PWD/$D/A:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader | tee $OUT/device.txt
(cd $D && sha256sum -c SHA256SUMS > $OUT/sha.txt 2>&1; echo "sha rc=$?")
T0=$SECONDS
F='CudaAttention.Decode*:CudaAttention.KvAppend*:CudaAttention.Rejects*'
timeout 110 $D/A/test_backend_cuda --gtest_filter="$F" > $OUT/tests_A.log 2>&1; echo "tests A rc=$? ($((SECONDS-T0)) s)"
grep -E "^\[  (PASSED|FAILED) |FAILED  \]|^\[       OK \]" $OUT/tests_A.log | head -30
for r in 1 2; do
  for b in before A B; do
    for m in mqa rows latency; do
      [[ $b == B && $m == latency ]] && continue
      echo "== $b r$r" >> $OUT/$m.jsonl
      timeout 40 $D/$b/bench_attention $m 2>&1 | grep -v nograph >> $OUT/$m.jsonl
    done
  done
done
echo "bench done ($((SECONDS-T0)) s)"
for b in A B; do
  echo "== $b" >> $OUT/pair_serve.jsonl
  timeout 40 $D/$b/bench_attention pair serve 2>&1 | grep -v nograph >> $OUT/pair_serve.jsonl
done
cat $OUT/pair_serve.jsonl
timeout 40 $D/m2/test_backend_cuda --gtest_filter='*DecodePairKernelSweep*' > $OUT/mutant_m2.log 2>&1
echo "mutant m2 rc=$? (non-zero expected) $(grep -c 'Failure' $OUT/mutant_m2.log) failures; $(grep -m1 -E 'got|differ|counter' $OUT/mutant_m2.log | cut -c1-200)"
timeout 30 compute-sanitizer --tool racecheck $D/probe/named_barrier_racecheck > $OUT/racecheck_probe.log 2>&1
echo "racecheck probe rc=$? $(grep -E 'ids:' $OUT/racecheck_probe.log | tr '\n' ' ') $(grep -E 'RACECHECK SUMMARY' $OUT/racecheck_probe.log | tail -1)"
grep -E "Race reported" $OUT/racecheck_probe.log | sed 's/+0x[0-9a-f]*//' | sort | uniq -c | head -5
timeout 50 compute-sanitizer --tool racecheck $D/A/test_backend_cuda \
  --gtest_filter='*DecodePairKernelProgrammaticLaunch*' > $OUT/racecheck_A.log 2>&1
echo "racecheck A rc=$? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $OUT/racecheck_A.log | tail -1) ($((SECONDS-T0)) s)"
timeout 45 $D/B/test_backend_cuda --gtest_filter='*DecodePair*:*DecodePlan*' > $OUT/tests_B.log 2>&1; echo "tests B rc=$? ($((SECONDS-T0)) s)"
grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $OUT/tests_B.log
timeout 70 compute-sanitizer --tool memcheck --leak-check no $D/A/test_backend_cuda \
  --gtest_filter='*DecodePairKernelSweep*' > $OUT/memcheck_A.log 2>&1
echo "memcheck A sweep rc=$? $(grep -E 'ERROR SUMMARY' $OUT/memcheck_A.log | tail -1) ($((SECONDS-T0)) s)"
cd $OUT && tar czf raw.tgz tests_*.log mutant_m2.log racecheck_*.log memcheck_A.log && rm -f tests_*.log mutant_m2.log racecheck_*.log memcheck_A.log
