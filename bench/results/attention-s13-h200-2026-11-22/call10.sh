#!/usr/bin/env bash
# Session 13 call 10 (H200): the final tree (main + the two-n-tile keys-major kernel, the planner test's new
# assertions): all of test_backend_cuda (build-s13h), test_model_cuda (build-gpumodel, same sources), and the
# Llama-3-8B bench.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s13/c10.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
SECONDS=0
A=build-s13h/carry
LD_LIBRARY_PATH=$PWD/$A timeout 400 $A/test_backend_cuda > $OUT/test_backend_cuda.txt 2>&1
echo "test_backend_cuda rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/test_backend_cuda.txt | tail -8
grep -m3 -A8 "Failure" $OUT/test_backend_cuda.txt | head -30
C=build-gpumodel/carry
LD_LIBRARY_PATH=$PWD/$C timeout 300 $C/test_model_cuda > $OUT/test_model_cuda.txt 2>&1
echo "test_model_cuda rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/test_model_cuda.txt | tail -6
LD_LIBRARY_PATH=$PWD/$C timeout 240 $C/bench_model_cuda bench/configs/llama-3-8b.json > $OUT/bench-llama-3-8b.md 2>&1
echo "bench llama-3-8b rc=$? ${SECONDS}s"; grep -A6 "Decode, batch 1" $OUT/bench-llama-3-8b.md
