#!/usr/bin/env bash
set -u
python3 -c "import tarfile;tarfile.open('build-carryxz/bins.tar.xz').extractall('/tmp/bins')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
export LD_LIBRARY_PATH=/tmp/bins
mkdir -p $OUT
/tmp/bins/test_model_cuda > $OUT/tests.log 2>&1; grep -E '^\[  (FAILED|PASSED)' $OUT/tests.log | head
A="bench/configs/llama-3-8b.json --decode-only --no-gemm-sweep --contexts 128,4096,32768"
for i in 1 2 3; do
  /tmp/bins/before/bench_model_cuda $A > $OUT/before$i.md 2>&1; grep -E '^\| (128|4096|32768) ' $OUT/before$i.md | sed "s/^/before$i /"
  /tmp/bins/bench_model_cuda $A > $OUT/after$i.md 2>&1; grep -E '^\| (128|4096|32768) ' $OUT/after$i.md | sed "s/^/after$i  /"
done
for v in before after; do
  b=/tmp/bins/bench_model_cuda; [[ $v == before ]] && b=/tmp/bins/before/bench_model_cuda
  $b bench/configs/llama-3-8b.json --no-gemm-sweep --contexts 128 --batches 2,4,8,16 --batch-context 1024 --prefill 1024 > $OUT/$v-batches.md 2>&1
  grep -E '^\| (2|4|8|16) \|' $OUT/$v-batches.md | sed "s/^/$v 8B batch /"
  for c in llama-3.2-1b qwen2.5-7b; do
    $b bench/configs/$c.json --decode-only --no-gemm-sweep --contexts 128,4096 > $OUT/$v-$c.md 2>&1
    grep -E '^\| (128|4096) ' $OUT/$v-$c.md | sed "s/^/$v $c /"
  done
done
/tmp/bins/bench_model_cuda bench/configs/llama-3-8b.json > $OUT/bench-8b-full.md 2>&1; grep -E '^\| (128|4096|32768|8|32|128|1024|16384) \|' $OUT/bench-8b-full.md | head -20
