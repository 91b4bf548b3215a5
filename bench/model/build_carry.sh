#!/usr/bin/env bash
# Builds on the CPU machine (the GPU image lacks the project's -dev packages) the CUDA model test
# and bench binaries (model, sampling) into build-gpumodel/carry, with the shared libraries the GPU image may lack.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${PAGODA_CARRY_BUILD:-build-gpumodel}
[[ -f $B/build.ninja ]] || cmake -S . -B $B -G Ninja -DPAGODA_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a-real
ninja -C $B -j2 test_model_cuda pagoda_runtime
mkdir -p $B/carry
LIBS=$(find $B/src -name "*.a" | sort)
g++ -O2 -std=c++20 -Isrc bench/model/bench_model_cuda.cpp -Wl,--start-group $LIBS -Wl,--end-group \
  -L/usr/local/cuda/lib64 -lcublasLt -lcudart -lfmt -lpcre2-8 -lxxhash -lcrypto -fopenmp -lpthread \
  -o $B/carry/bench_model_cuda
g++ -O2 -std=c++20 -Isrc bench/model/bench_sampling_cuda.cpp -Wl,--start-group $LIBS -Wl,--end-group \
  -L/usr/local/cuda/lib64 -lcublasLt -lcudart -lfmt -lpcre2-8 -lxxhash -lcrypto -fopenmp -lpthread \
  -o $B/carry/bench_sampling_cuda
cp $B/tests/model_cuda/test_model_cuda $B/carry/
for lib in $(ldd $B/carry/test_model_cuda $B/carry/bench_model_cuda $B/carry/bench_sampling_cuda | awk '/=> \//{print $3}' | sort -u); do
  case $lib in */libc.so*|*/libm.so*|*/libdl.so*|*/libpthread.so*|*/librt.so*|*/libgcc_s*|*/libstdc++*|*/ld-linux*|*/libcuda*|*/libcudart*|*/libcublas*) ;;
    *) cp -L "$lib" $B/carry/ ;; esac
done
ls -la $B/carry
