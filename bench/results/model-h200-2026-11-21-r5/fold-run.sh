#!/usr/bin/env bash
set -u
python3 -c "import tarfile;tarfile.open('build-carryxz/bins.tar.xz').extractall('/tmp/bins')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
export LD_LIBRARY_PATH=/tmp/bins
mkdir -p $OUT
/tmp/bins/test_model_cuda > $OUT/tests.log 2>&1; grep -E '^\[ .*(rel|mixed|graph)|FAILED|PASSED' $OUT/tests.log | head -30
/usr/local/cuda/bin/compute-sanitizer --tool memcheck /tmp/bins/test_model_cuda --gtest_filter='OpsCuda.GemvFused*:ModelCuda.OneTokenAndRepeatability' > $OUT/memcheck.log 2>&1; tail -2 $OUT/memcheck.log
B="/tmp/bins/bench_model_cuda bench/configs/llama-3-8b.json --decode-only --no-gemm-sweep --contexts 128,4096,32768"
for i in 1 2; do
  PAGODA_NO_FOLD_NORMS=1 $B > $OUT/off$i.md 2>&1; grep -E '^\| (128|4096|32768) ' $OUT/off$i.md | sed "s/^/off$i /"
  $B > $OUT/on$i.md 2>&1; grep -E '^\| (128|4096|32768) ' $OUT/on$i.md | sed "s/^/on$i  /"
done
for m in off on; do
  if [[ $m == off ]]; then export PAGODA_NO_FOLD_NORMS=1; else unset PAGODA_NO_FOLD_NORMS; fi
  $B --profile --contexts 128 > $OUT/$m-profile.md 2>&1; grep -A15 'Profile: decode batch 1' $OUT/$m-profile.md | grep -E 'norm|gemm|attention|rope|total' | sed "s/^/$m /"
done
