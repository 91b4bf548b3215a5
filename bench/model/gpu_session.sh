#!/usr/bin/env bash
# One device call for the GPU model, running binaries carried from the CPU machine
# (bench/model/build_carry.sh; carry build-gpumodel/carry): GPU tests, a memcheck pass on two
# tests, then the `pagoda bench --device cuda` suite (bench_model_cuda) on the Llama-3-8B / Llama-3.2-1B / Qwen2.5-7B shapes
# with random weights, and (mode all|hf) Hugging Face transformers eager/sdpa on the same shape.
# Logs and results go to $OUT. Usage: [PAGODA_CARRY=dir] bash bench/model/gpu_session.sh [all|tests|bench|hf|quick]
# (quick: tests, memcheck, and the Llama-3-8B (profiled) and Llama-3.2-1B benches only).
set -uo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-all}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"
C=${PAGODA_CARRY:-build-gpumodel/carry}
export LD_LIBRARY_PATH=$PWD/$C:/usr/local/cuda/lib64:/usr/local/cuda/lib:${LD_LIBRARY_PATH:-}
# The test binary was built on the CPU machine with its absolute fixtures path.
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
if [[ $MODE == tests || $MODE == all || $MODE == quick ]]; then
  timeout 300 $C/test_model_cuda 2>&1 | tee "$OUT/tests.log" |
    grep -E "^\[  (PASSED|FAILED|  OK|SKIPPED) |Failure|^\[ .*(rel|graph)|error|Expected|Which is|actual" | head -80
  timeout 200 compute-sanitizer --tool memcheck --leak-check no $C/test_model_cuda \
    --gtest_filter='*TinyFixtureMatchesCpuBf16*:*GreedyOnDeviceEqualsHostArgmax*:OpsCuda.*' > "$OUT/memcheck.log" 2>&1
  echo "memcheck rc=$? $(grep -E 'ERROR SUMMARY' "$OUT/memcheck.log" | tail -1)"
fi
if [[ $MODE == bench || $MODE == all || $MODE == quick ]]; then
  cfgs="llama-3-8b llama-3.2-1b qwen2.5-7b"; [[ $MODE == quick ]] && cfgs="llama-3-8b llama-3.2-1b"
  for cfg in $cfgs; do
    prof=""; [[ $cfg == llama-3-8b ]] && prof="--profile"
    echo "=== $cfg"
    timeout 240 $C/bench_model_cuda bench/configs/$cfg.json $prof \
      > "$OUT/bench-$cfg.md" 2>&1
    echo "rc=$?"
    grep -vE "^\| (qkv|o|gate\|up|down) " "$OUT/bench-$cfg.md" | head -60
  done
fi
if [[ $MODE == hf || $MODE == all ]]; then
  timeout 280 python3 bench/model/hf_compare.py bench/configs/llama-3-8b.json > "$OUT/hf-llama-3-8b.md" 2>&1
  echo "hf rc=$?"; cat "$OUT/hf-llama-3-8b.md" | tail -20
fi
