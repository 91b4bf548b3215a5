#!/usr/bin/env bash
set -u
python3 -c "import tarfile;tarfile.open('build-carryxz/bins.tar.xz').extractall('/tmp/bins')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
export LD_LIBRARY_PATH=/tmp/bins
mkdir -p $OUT
/tmp/bins/test_model_cuda --gtest_filter='OpsCuda.*:ModelCuda.OneToken*:ModelCuda.Graphs*:ModelCuda.TinyFixtureMatchesCpuBf16' > $OUT/tests.log 2>&1; grep -E 'FAILED|PASSED' $OUT/tests.log | head
A="bench/configs/llama-3-8b.json --decode-only --no-gemm-sweep --contexts 128,4096"
for i in 1 2 3; do
  /tmp/bins/before/bench_model_cuda $A > $OUT/before$i.md 2>&1; grep -E '^\| (128|4096) ' $OUT/before$i.md | sed "s/^/before$i /"
  /tmp/bins/bench_model_cuda $A > $OUT/after$i.md 2>&1; grep -E '^\| (128|4096) ' $OUT/after$i.md | sed "s/^/after$i  /"
done
for v in before ""; do
  /tmp/bins/$v/bench_model_cuda $A --profile --contexts 4096 > $OUT/prof-${v:-after}.md 2>&1; grep -A15 'Profile: decode batch 1' $OUT/prof-${v:-after}.md | grep -E 'gemm|total' | sed "s/^/${v:-after} /"
done
/tmp/bins/before/bench_model_cuda bench/configs/llama-3-8b.json --no-gemm-sweep --contexts 128 --batches 2,8 --batch-context 1024 --prefill 1024 > $OUT/before-b.md 2>&1
/tmp/bins/bench_model_cuda bench/configs/llama-3-8b.json --no-gemm-sweep --contexts 128 --batches 2,8 --batch-context 1024 --prefill 1024 > $OUT/after-b.md 2>&1
grep -E '^\| (2|8) \|' $OUT/before-b.md | sed 's/^/before /'; grep -E '^\| (2|8) \|' $OUT/after-b.md | sed 's/^/after  /'
