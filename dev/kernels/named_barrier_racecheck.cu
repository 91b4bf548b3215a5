// Control for compute-sanitizer racecheck on the decode pair kernel's sync pattern (notes 33): pairs of warps
// on 64-thread named barriers (bar.sync id, 64), then __syncthreads and a CTA-wide exchange through the same
// shared memory. Race-free by construction: every read of another warp's data follows a barrier that both
// the writer and the reader pass. Two kernels differ only in how the barrier id is given: a register (the
// pair kernel's form; ptxas reports 16 barriers) or an immediate per pair (a switch). H200, session 7 call 2:
// racecheck clean with both forms, so named barriers followed by __syncthreads do not by themselves explain
// the hazards it reported on the pair kernel's PDL test.
// Build (here): nvcc -std=c++17 -O3 -arch=sm_90a dev/kernels/named_barrier_racecheck.cu -o <dir>/nbr
// Run: compute-sanitizer --tool racecheck <dir>/nbr   (prints "ok" per kernel when the sums match)
#include <cuda_runtime.h>

#include <cstdio>

constexpr int WARPS = 4, PAIRS = WARPS / 2, ITERS = 8, SLOT = 64;  // floats per warp half per iteration

__device__ __forceinline__ void bar_reg(int id) { asm volatile("bar.sync %0, 64;\n" ::"r"(id) : "memory"); }
__device__ __forceinline__ void bar_imm(int id) {
  switch (id) {
    case 1: asm volatile("bar.sync 1, 64;\n" ::: "memory"); break;
    default: asm volatile("bar.sync 2, 64;\n" ::: "memory"); break;
  }
}

// Warps w and w + PAIRS share a ring of 2 slots: each iteration each writes its half of slot i % 2, the pair
// barrier publishes both halves and frees slot (i - 1) % 2, then each sums the whole slot. Afterwards the
// ring is reused CTA-wide across __syncthreads (the pair kernel's combine).
template <bool IMM>
__global__ void pairs(float* out) {
  __shared__ float ring[PAIRS][2][2 * SLOT];
  __shared__ float comb[WARPS * 32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, pair = warp % PAIRS, half = warp / PAIRS;
  float acc = 0.0f;
  for (int i = 0; i < ITERS; ++i) {
    float* slot = ring[pair][i % 2];
    for (int j = lane; j < SLOT; j += 32) slot[half * SLOT + j] = float(i * 1000 + pair * 100 + half * SLOT + j);
    if (IMM) bar_imm(1 + pair); else bar_reg(1 + pair);
    for (int j = lane; j < 2 * SLOT; j += 32) acc += slot[j];
  }
  __syncthreads();
  float* flat = &ring[0][0][0];
  flat[threadIdx.x] = acc;  // overwrites ring data read by other warps before the barrier
  comb[threadIdx.x] = acc;
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = flat[(threadIdx.x + 32) % (WARPS * 32)] + comb[threadIdx.x];
}

int main() {
  const int ctas = 264, n = ctas * WARPS * 32;
  float* d = nullptr;
  cudaMalloc(&d, n * sizeof(float));
  float* h = new float[n];
  int failed = 0;
  for (int imm = 0; imm < 2; ++imm) {
    int bad = 0;
    if (imm) pairs<true><<<ctas, WARPS * 32>>>(d); else pairs<false><<<ctas, WARPS * 32>>>(d);
    if (cudaDeviceSynchronize() != cudaSuccess) { std::printf("launch failed\n"); return 1; }
    cudaMemcpy(h, d, n * sizeof(float), cudaMemcpyDeviceToHost);
    // Expected: each thread's acc is the sum over iterations of its lane's strided share of both halves.
    for (int t = 0; t < WARPS * 32; ++t) {
      auto expect = [](int tid) {
        const int lane = tid % 32, pair = (tid / 32) % PAIRS;
        double s = 0;
        for (int i = 0; i < ITERS; ++i)
          for (int j = lane; j < 2 * SLOT; j += 32) s += i * 1000 + pair * 100 + j;
        return s;
      };
      const double want = expect((t + 32) % (WARPS * 32)) + expect(t);
      if (h[t] != float(want)) ++bad;
    }
    std::printf("%s ids: %s\n", imm ? "immediate" : "register", bad ? "MISMATCH" : "ok");
    failed += bad;
  }
  cudaFree(d);
  delete[] h;
  return failed ? 1 : 0;
}
