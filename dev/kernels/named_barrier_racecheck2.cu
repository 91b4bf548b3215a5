// Second control for compute-sanitizer racecheck on the decode pair kernel's sync pattern (notes 33, 35).
// The first control (named_barrier_racecheck.cu) was clean but differed from the pair kernel in three ways;
// each kernel here adds one, all race-free by construction (every read of another thread's data follows a
// barrier both pass, per the PTX memory model):
//   uneven  - the two pairs run different numbers of iterations (rings with different tile counts), so one
//             pair reaches __syncthreads while the other still uses its named barrier;
//   cpasync - the ring is filled by cp.async (each warp issues its half, wait_group 0, then the pair barrier);
//   last    - a CTA-wide flag written by thread 0 between two __syncthreads and read by all after
//             (decode_last_split's s_last), after uneven named-barrier loops.
// Build (here): nvcc -std=c++17 -O3 -arch=sm_90a dev/kernels/named_barrier_racecheck2.cu -o <dir>/nbr2
// Run: compute-sanitizer --tool racecheck <dir>/nbr2 [kernel index]
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>
#include <cstdio>

constexpr int WARPS = 4, PAIRS = WARPS / 2, SLOT = 64;  // floats per warp half per slot

__device__ __forceinline__ void bar_pair(int id) { asm volatile("bar.sync %0, 64;\n" ::"r"(id) : "memory"); }
__device__ __forceinline__ void cp_async4(void* smem, const void* gmem) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(s), "l"(gmem) : "memory");
}
__device__ __forceinline__ void cp_async_wait_all() {
  asm volatile("cp.async.commit_group;\ncp.async.wait_group 0;\n" ::: "memory");
}

__host__ __device__ inline int iters_of(int pair, bool uneven) { return uneven ? (pair == 0 ? 8 : 5) : 8; }
__host__ __device__ inline float value(int i, int pair, int j) { return float(i * 1000 + pair * 100 + j); }

// MODE 0 uneven (plain stores), 1 cpasync (even), 2 cpasync + uneven, 3 uneven + last flag.
template <int MODE>
__global__ void pairs(const float* src, float* out) {
  extern __shared__ __align__(16) float ring[];  // [PAIRS][2][2 * SLOT], dynamic as in the pair kernel
  __shared__ int s_flag;
  const bool uneven = MODE != 1, cpasync = MODE == 1 || MODE == 2;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, pair = warp % PAIRS, half = warp / PAIRS;
  const int iters = iters_of(pair, uneven);
  float acc = 0.0f;
  for (int i = 0; i < iters; ++i) {
    float* slot = ring + (pair * 2 + i % 2) * 2 * SLOT;
    for (int j = lane; j < SLOT; j += 32) {
      const int k = half * SLOT + j;
      if (cpasync)
        cp_async4(slot + k, src + (i * PAIRS + pair) * 2 * SLOT + k);
      else
        slot[k] = value(i, pair, k);
    }
    if (cpasync) cp_async_wait_all();
    bar_pair(1 + pair);
    for (int j = lane; j < 2 * SLOT; j += 32) acc += slot[j];
  }
  __syncthreads();
  ring[threadIdx.x] = acc;  // overwrites ring data other warps read before the barrier
  __syncthreads();
  float extra = 0.0f;
  if (MODE == 3) {
    if (threadIdx.x == 0) s_flag = int(blockIdx.x % 3);
    __syncthreads();
    extra = float(s_flag);
  }
  out[blockIdx.x * blockDim.x + threadIdx.x] = ring[(threadIdx.x + 32) % (WARPS * 32)] + extra;
}

int main(int argc, char** argv) {
  const int only = argc > 1 ? std::atoi(argv[1]) : -1;
  const int ctas = 264, n = ctas * WARPS * 32, iters_max = 8, nsrc = iters_max * PAIRS * 2 * SLOT;
  float *d = nullptr, *src = nullptr;
  cudaMalloc(&d, n * sizeof(float));
  cudaMalloc(&src, nsrc * sizeof(float));
  float* hs = new float[nsrc];
  for (int i = 0; i < iters_max; ++i)
    for (int pr = 0; pr < PAIRS; ++pr)
      for (int k = 0; k < 2 * SLOT; ++k) hs[(i * PAIRS + pr) * 2 * SLOT + k] = value(i, pr, k);
  cudaMemcpy(src, hs, nsrc * sizeof(float), cudaMemcpyHostToDevice);
  float* h = new float[n];
  const char* names[4] = {"uneven", "cpasync", "cpasync+uneven", "uneven+last"};
  const size_t smem = PAIRS * 2 * 2 * SLOT * sizeof(float);
  int failed = 0;
  for (int mode = 0; mode < 4; ++mode) {
    if (only >= 0 && mode != only) continue;
    switch (mode) {
      case 0: pairs<0><<<ctas, WARPS * 32, smem>>>(src, d); break;
      case 1: pairs<1><<<ctas, WARPS * 32, smem>>>(src, d); break;
      case 2: pairs<2><<<ctas, WARPS * 32, smem>>>(src, d); break;
      default: pairs<3><<<ctas, WARPS * 32, smem>>>(src, d); break;
    }
    if (cudaDeviceSynchronize() != cudaSuccess) { std::printf("launch failed\n"); return 1; }
    cudaMemcpy(h, d, n * sizeof(float), cudaMemcpyDeviceToHost);
    const bool uneven = mode != 1;
    auto expect = [&](int tid) {
      const int lane = tid % 32, pair = (tid / 32) % PAIRS;
      double s = 0;
      for (int i = 0; i < iters_of(pair, uneven); ++i)
        for (int j = lane; j < 2 * SLOT; j += 32) s += value(i, pair, j);
      return s;
    };
    int bad = 0;
    for (int c = 0; c < ctas; ++c)
      for (int t = 0; t < WARPS * 32; ++t) {
        const double want = expect((t + 32) % (WARPS * 32)) + (mode == 3 ? c % 3 : 0);
        if (h[c * WARPS * 32 + t] != float(want)) ++bad;
      }
    std::printf("%s: %s\n", names[mode], bad ? "MISMATCH" : "ok");
    failed += bad;
  }
  cudaFree(d);
  cudaFree(src);
  delete[] h;
  delete[] hs;
  return failed ? 1 : 0;
}
