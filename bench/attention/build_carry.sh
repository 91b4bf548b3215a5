#!/usr/bin/env bash
# Builds, on the CPU machine (it has nvcc; the GPU lease is for running only), the CUDA attention
# test and bench binaries into $B/carry, plus libfmt which the GPU image may lack.
# Compiles the few sources directly so a half-edited CMake tree elsewhere cannot block it; the
# CMake targets (pagoda_backend_cuda, test_backend_cuda) build the same files.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${PAGODA_ATTN_BUILD:-build-attn3}
O=$B/direct
mkdir -p $O $B/carry
ARCH="-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90a,code=sm_90a"
pids=()
# An object is reused only if it was built with the same measurement flags (kept in <object>.flags): a build
# directory reused with other defines must not link the previous variant's kernels.
flags_same() { [[ -f $1.flags && "$(cat "$1.flags")" == "$2" ]]; }
for f in flash_prefill flash_decode flash_decode_keys kv_append; do
  # PAGODA_ATTN_DECODE_FLAGS: extra defines for measurement builds of the decode (e.g. -DPAGODA_DECODE_FULL_PREWAIT=true).
  flags=""; [[ $f == flash_decode* ]] && flags=${PAGODA_ATTN_DECODE_FLAGS:-}
  [[ $O/$f.o -nt src/backend/cuda/attention/$f.cu && $O/$f.o -nt src/backend/cuda/attention/${f}.cuh &&
     $O/$f.o -nt src/backend/cuda/attention/flash_prefill_work.cuh && $O/$f.o -nt src/backend/cuda/device_utils.cuh &&
     $O/$f.o -nt src/backend/cuda/attention/attention_params.hpp && $O/$f.o -nt src/backend/cuda/pdl_launch.cuh &&
     ( $f != flash_decode_keys || $O/$f.o -nt src/backend/cuda/attention/flash_decode.cuh ) ]] \
    2>/dev/null && flags_same $O/$f.o "$flags" && continue
  echo "$flags" > $O/$f.o.flags
  nvcc -std=c++17 -O3 -lineinfo --expt-relaxed-constexpr -Isrc $ARCH $flags -Xptxas -v -c src/backend/cuda/attention/$f.cu \
    -o $O/$f.o 2> $O/$f.ptxas.txt &
  pids+=($!)
  if (( ${#pids[@]} >= 2 )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
# The Hopper prefill kernel: sm_90a code only (its body is empty for other targets).
S90=src/backend/cuda/attention/flash_prefill_sm90
if ! [[ $O/flash_prefill_sm90.o -nt $S90.cu && $O/flash_prefill_sm90.o -nt $S90.cuh && $O/flash_prefill_sm90.o -nt $S90.hpp &&
        $O/flash_prefill_sm90.o -nt src/backend/cuda/attention/wgmma_sm90.cuh && $O/flash_prefill_sm90.o -nt src/backend/cuda/attention/flash_prefill_work.cuh &&
        $O/flash_prefill_sm90.o -nt ${S90}_pingpong.cuh && $O/flash_prefill_sm90.o -nt ${S90}_load.cuh &&
        $O/flash_prefill_sm90.o -nt ${S90}_tile.cuh && $O/flash_prefill_sm90.o -nt ${S90}_queue.cuh ]] ||
   ! flags_same $O/flash_prefill_sm90.o "${PAGODA_ATTN_SM90_FLAGS:-}"; then
  # PAGODA_ATTN_SM90_FLAGS: extra defines for measurement builds (e.g. -DPAGODA_PREFILL_TMA_KNOB).
  echo "${PAGODA_ATTN_SM90_FLAGS:-}" > $O/flash_prefill_sm90.o.flags
  nvcc -std=c++17 -O3 -lineinfo --expt-relaxed-constexpr -Isrc -DPAGODA_CUDA_SM90A=1 ${PAGODA_ATTN_SM90_FLAGS:-} \
    -gencode arch=compute_90a,code=sm_90a -Xptxas -v -c $S90.cu -o $O/flash_prefill_sm90.o 2> $O/flash_prefill_sm90.ptxas.txt &
  pids+=($!)
fi
# The bench's read-only bandwidth ceiling kernel.
RC=bench/attention/read_ceiling
if ! [[ $O/read_ceiling.o -nt $RC.cu && $O/read_ceiling.o -nt $RC.hpp && $O/read_ceiling.o -nt src/backend/cuda/device_utils.cuh &&
        $O/read_ceiling.o -nt src/backend/cuda/pdl_launch.cuh ]]; then
  nvcc -std=c++17 -O3 -I. -Isrc $ARCH -c $RC.cu -o $O/read_ceiling.o &
  pids+=($!)
fi
# The read ceiling with a split decode's tail (a measuring kernel).
RM=bench/attention/read_merge_ceiling
if ! [[ $O/read_merge_ceiling.o -nt $RM.cu && $O/read_merge_ceiling.o -nt $RC.hpp &&
        $O/read_merge_ceiling.o -nt src/backend/cuda/device_utils.cuh ]]; then
  nvcc -std=c++17 -O3 -I. -Isrc $ARCH -c $RM.cu -o $O/read_merge_ceiling.o &
  pids+=($!)
fi
# The PDL tests' late writer (a test-only kernel).
LW=tests/backend_cuda/pdl_late_writer
if ! [[ $O/pdl_late_writer.o -nt $LW.cu && $O/pdl_late_writer.o -nt $LW.hpp ]]; then
  nvcc -std=c++17 -O3 --expt-relaxed-constexpr -Isrc -Itests $ARCH -c $LW.cu -o $O/pdl_late_writer.o &
  pids+=($!)
fi
for p in "${pids[@]}"; do wait "$p"; done
grep -iE "warn|error" $O/flash_prefill_sm90.ptxas.txt || true
CXX="g++ -O2 -std=c++20 -Isrc -Itests -I/usr/local/cuda/include -fopenmp"
$CXX -c src/backend/cuda/attention/attention.cpp -o $O/attention.o
$CXX -c src/core/dtype.cpp -o $O/dtype.o
LIBS="$O/attention.o $O/flash_prefill.o $O/flash_prefill_sm90.o $O/flash_decode.o $O/flash_decode_keys.o $O/kv_append.o $O/dtype.o -L/usr/local/cuda/lib64 -lcudart -lfmt"
$CXX -DPAGODA_FIXTURES_DIR='"tests/fixtures"' tests/backend_cuda/test_attention_cuda.cpp $O/pdl_late_writer.o $LIBS -lgtest_main -lgtest -lpthread \
  -o $B/carry/test_backend_cuda
$CXX -I. bench/attention/bench_attention.cpp $O/read_ceiling.o $O/read_merge_ceiling.o $LIBS -o $B/carry/bench_attention
cp -L /lib/x86_64-linux-gnu/libfmt.so.9 $B/carry/
cat $O/*.ptxas.txt | grep -E "spill|Compiling entry" | grep -v " 0 bytes spill" || true
ls -la $B/carry
