#!/usr/bin/env bash
# Device call 3 (attn-s4, final code): A/B vs the reference binary with PAGODA_DECODE_PREWAIT=0, tests, sanitizers.
cd "$(dirname "$0")/.."
python3 -c "import tarfile;tarfile.open('build-attn-s4-carry/bins.tar.xz').extractall('/tmp/bins')"
for d in /work/main /work/wt-attn; do [[ -d $d/tests/fixtures ]] || { mkdir -p $d && ln -sfn "$PWD/tests" $d/tests; }; done
export LD_LIBRARY_PATH=/tmp/bins
Bn=/tmp/bins; T0=$SECONDS
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for r in 1 2 3; do for v in ref final; do
  echo "== $v run $r" >> $OUT/ab-model.md
  if [[ $v == ref ]]; then X="env PAGODA_DECODE_PREWAIT=0 $Bn/bench_model_ref"; else X=$Bn/bench_model_cuda; fi
  timeout 60 $X bench/configs/llama-3-8b.json --no-gemm-sweep --decode-only --contexts 128,1024,4096 >> $OUT/ab-model.md 2>&1
  echo "$v r$r $(grep -E '^\| *(128|1024|4096) ' $OUT/ab-model.md | tail -3 | awk -F'|' '{printf "%s:%s ", $2, $4}') t=$((SECONDS-T0))"
done; done
PAGODA_DECODE_PREWAIT=0 timeout 30 $Bn/bench_attention_ref latency 2>&1 | sed "s/^/ref /" >> $OUT/latency.txt
timeout 30 $Bn/bench_attention latency 2>&1 | sed "s/^/final /" >> $OUT/latency.txt; echo "latency t=$((SECONDS-T0))"
timeout 110 $Bn/test_backend_cuda > $OUT/tests.log 2>&1; echo "test_backend_cuda rc=$? t=$((SECONDS-T0))"; grep -E "^\[  (PASSED|FAILED)|tests from .* ran" $OUT/tests.log
F='*Programmatic*:*LatencyPlans*'
echo "=== unsafe control" >> $OUT/tests.log
timeout 40 $Bn/test_backend_cuda_unsafe_control --gtest_filter="$F" >> $OUT/tests.log 2>&1; echo "unsafe control (must FAIL) rc=$?"; grep -E "^\[  FAILED  \] Cuda|^\[       OK" $OUT/tests.log | tail -4
timeout 90 $Bn/test_model_cuda > $OUT/model-tests.log 2>&1; echo "test_model_cuda rc=$? t=$((SECONDS-T0))"; grep -E "^\[  (PASSED|FAILED)" $OUT/model-tests.log | head -3
CS=/usr/local/cuda/bin/compute-sanitizer
timeout 40 $CS --tool memcheck $Bn/test_backend_cuda --gtest_filter="$F" > $OUT/sanitizer.log 2>&1; echo "memcheck rc=$?"
timeout 30 $CS --tool racecheck $Bn/test_backend_cuda --gtest_filter='*Programmatic*' >> $OUT/sanitizer.log 2>&1; echo "racecheck rc=$? t=$((SECONDS-T0))"; grep -E "SUMMARY" $OUT/sanitizer.log
