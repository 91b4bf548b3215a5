#!/usr/bin/env bash
# The GPU serving bench: `pagoda serve` on the Llama-3-8B shape with random bf16 weights, loaded by
# `pagoda bench serve` at fixed concurrency (128-token prompts, 128-token outputs, greedy), KV
# slack read from /metrics while saturated, then transformers' batched greedy generate on the same
# shape, and one summary table (bench/serve/summary.py). Results go to $OUT (5 files).
# Here (the CPU machine; the device image cannot build the project):
#   bash bench/serve/gpu_serve.sh carry        # builds build-servegpu-cuda/carry
# There (carry build-servegpu-cuda/carry):  bash bench/serve/gpu_serve.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
B=${PAGODA_CARRY_BUILD:-build-servegpu-cuda}
if [[ ${1:-run} == carry ]]; then
  set -e
  [[ -f $B/build.ninja ]] || cmake -S . -B $B -G Ninja -DPAGODA_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a-real
  ninja -C $B -j2 pagoda
  mkdir -p $B/carry
  cp $B/bin/pagoda $B/carry/
  for lib in $(ldd $B/carry/pagoda | awk '/=> \//{print $3}' | sort -u); do
    case $lib in */libc.so*|*/libm.so*|*/libdl.so*|*/libpthread.so*|*/librt.so*|*/libgcc_s*|*/libstdc++*|*/ld-linux*|*/libcuda*|*/libcudart*|*/libcublas*) ;;
      *) cp -L "$lib" $B/carry/ ;; esac
  done
  ls -la $B/carry
  exit 0
fi
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
C=${PAGODA_CARRY:-$B/carry}
export LD_LIBRARY_PATH=$PWD/$C:/usr/local/cuda/lib64:/usr/local/cuda/lib:${LD_LIBRARY_PATH:-}
CFG=${CFG:-bench/configs/llama-3-8b.json}
CONCS=${CONCS:-32 64 128 256}
PL=128 OL=128 PORT=8321 URL=http://127.0.0.1:8321
get() {  # curl where the image has it, else Python's urllib
  if command -v curl > /dev/null; then curl -sf "$1"; else
    python3 -c "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())" "$1" 2> /dev/null; fi
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/bench.log"
# The bf16 GEMM peak the roofline fraction divides by, measured in this run (cuBLAS via torch).
python3 - >> "$OUT/bench.log" <<'PY'
import time, torch
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16); b = torch.randn_like(a)
for _ in range(3): a @ b
torch.cuda.synchronize(); t = time.perf_counter()
for _ in range(10): a @ b
torch.cuda.synchronize(); print(f"GEMM_TFLOPS {10 * 2 * 8192**3 / (time.perf_counter() - t) / 1e12:.0f}")
PY
tail -1 "$OUT/bench.log"
$C/pagoda serve --device cuda --config $CFG --random-weights --port $PORT --max-num-seqs ${MAX_SEQS:-256} \
  --max-num-batched-tokens ${MAX_BATCHED:-8192} --max-queue 4096 --ctx 4096 > "$OUT/server.log" 2>&1 &
SPID=$!
for i in $(seq 240); do get $URL/v1/models > /dev/null && break; kill -0 $SPID 2>/dev/null || break; sleep 1; done
echo "server up after ${i}s"; cat "$OUT/server.log"
bs() { timeout 100 $C/pagoda bench serve --url $URL --prompt-len $PL --output-len $OL "$@"; }
bs --concurrency 256 --num-requests 256 --output-len 16 --seed 7 > /dev/null 2>&1  # warm-up: graph buckets, allocator
for c in $CONCS; do
  ( while true; do echo "c=$c $(get $URL/metrics | grep -E '^pagoda_(num_requests_running|kv_running_blocks|kv_running_tokens|kv_page_size|kv_blocks_in_use|kv_blocks_total) ' | tr '\n' ' ')"; sleep 0.5; done ) >> "$OUT/metrics.log" &
  MPID=$!
  echo "=== concurrency $c" >> "$OUT/bench.log"
  bs --concurrency $c --num-requests $((c * ${NREQ_MULT:-8})) --seed $((1000 + c)) >> "$OUT/bench.log" 2>&1
  echo "rc=$?" >> "$OUT/bench.log"
  kill $MPID
  grep -A3 "=== concurrency $c" "$OUT/bench.log"
done
get $URL/metrics > "$OUT/metrics-final.txt"  # engine phase counters, histograms
kill -INT $SPID; wait $SPID
echo "server rc=$?"
for attn in ${HF_ATTNS:-eager sdpa}; do
  timeout 150 python3 bench/serve/hf_generate.py $CFG $PL $OL $attn ${HF_BATCHES:-32 256} >> "$OUT/hf.log" 2>&1
  echo "hf $attn rc=$?"
done; cat "$OUT/hf.log" | tail -5
python3 bench/serve/summary.py $CFG "$OUT/bench.log" "$OUT/metrics.log" "$OUT/hf.log" | tee "$OUT/summary.md"
