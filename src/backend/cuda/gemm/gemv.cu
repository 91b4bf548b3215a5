// GEMV for the flat GEMMs of decode: y [M, N] = x [M, K] . W [N, K]^T with M <= 16 rows. The weight
// matrix is streamed once with 16-byte loads that bypass L1; the few x rows are re-read from L1/L2.
// Bandwidth-bound by design: W dominates the bytes. Each output column is summed by KSPLIT warps
// (each over a K slice, then added in shared memory) so that matrices with few columns still put
// enough warps, and bytes in flight, on every SM. Launched as a programmatic dependent: the first
// weight loads are issued before waiting for the previous kernel, hiding its tail and our ramp.
// gemv_silu_mul is the same kernel over [W_gate; W_up] with SiLU(gate) * up as its epilogue.
// (A Hopper variant streaming W through cp.async.bulk into a 4-stage shared-memory ring, one CTA
// per SM, was measured at 46-49% of copy bandwidth against 60-90% here, and dropped.)
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <string>
#include <type_traits>

#include "backend/cuda/gemm/gemm.hpp"
#include "backend/cuda/ops/cuda_check.hpp"
#include "backend/cuda/ops/pdl_launch.cuh"
#include "backend/cuda/ops/type_utils.cuh"

namespace pagoda::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kUnroll = 8;

// Streaming 16-byte load of weights read exactly once: non-coherent path, no L1 allocation.
__device__ __forceinline__ uint4 load_stream(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

template <typename T>
__device__ __forceinline__ void unpack8(const uint4& v, float* f) {
  using T2 = std::conditional_t<std::is_same_v<T, __half>, __half2, __nv_bfloat162>;
  const auto* h = reinterpret_cast<const T2*>(&v);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    float2 p;
    if constexpr (std::is_same_v<T, __half>)
      p = __half22float2(h[i]);
    else
      p = __bfloat1622float2(h[i]);
    f[2 * i] = p.x;
    f[2 * i + 1] = p.y;
  }
}

// One chunk = kUnroll vectors of 16 bytes per lane, 32 * kUnroll vectors per warp.
__device__ __forceinline__ void load_chunk(uint4 (&wv)[kUnroll], const uint4* wr, int64_t c0, int64_t v1) {
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int64_t v = c0 + 32 * u;
    wv[u] = v < v1 ? load_stream(wr + v) : make_uint4(0, 0, 0, 0);
  }
}

// Block: 8 warps = 8 / KSPLIT output columns, KSPLIT warps per column. RMAX >= M rows of x.
// GATED: W is [W_gate; W_up] ([2N, K]); the block's first half of columns are gate rows n, the second
// half the up rows N + n of the same n, and the block writes y [M, N] = silu(gate) * up, with gate
// and up rounded to T first, exactly as the GEMV's output followed by silu_mul would compute it.
template <typename T, typename O, int RMAX, int KSPLIT, bool GATED>
__global__ void __launch_bounds__(kWarpsPerBlock * 32) gemv_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                                                   O* __restrict__ y, int M, int64_t N, int64_t K) {
  constexpr int kCols = kWarpsPerBlock / KSPLIT;
  constexpr int kPairs = GATED ? kCols / 2 : kCols;  // output columns per block
  static_assert(!GATED || kPairs >= 1, "a gated block needs a gate and an up column");
  __shared__ float part[KSPLIT > 1 || GATED ? kWarpsPerBlock : 1][RMAX];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int col = warp / KSPLIT;                         // column slot in the block
  const int64_t n_out = int64_t(blockIdx.x) * kPairs + col % kPairs;
  const bool active = n_out < N;
  const int64_t n = GATED ? (col / kPairs) * N + n_out : n_out;  // weight row
  const int64_t KV = K / 8;  // 16-byte vectors per row
  const int64_t per = (KV + KSPLIT - 1) / KSPLIT;
  const int64_t v0 = (warp % KSPLIT) * per;
  const int64_t v1 = active ? (v0 + per < KV ? v0 + per : KV) : v0;  // inactive warps load nothing
  const uint4* wr = reinterpret_cast<const uint4*>(w + (active ? n : 0) * K);
  float acc[RMAX];
#pragma unroll
  for (int r = 0; r < RMAX; ++r) acc[r] = 0.0f;
  uint4 wv[kUnroll];
  load_chunk(wv, wr, v0 + lane, v1);  // weights never depend on the previous kernel
  dev::grid_dependency_wait();         // x does, and y may still be read by it
  for (int64_t c0 = v0; c0 < v1; c0 += 32 * kUnroll) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t v = c0 + lane + 32 * u;
      if (v >= v1) break;
      float wf[8];
      unpack8<T>(wv[u], wf);
#pragma unroll
      for (int r = 0; r < RMAX; ++r) {
        if (r >= M) break;
        float xf[8];
        unpack8<T>(__ldg(reinterpret_cast<const uint4*>(x + r * K) + v), xf);
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[r] = fmaf(wf[i], xf[i], acc[r]);
      }
    }
    if (c0 + 32 * kUnroll < v1) load_chunk(wv, wr, c0 + 32 * kUnroll + lane, v1);
  }
  // Only now may the next kernel start placing CTAs. Triggering before the main loop was measured
  // twice (whole model, H200): ctx 4096 5.34-5.39 vs 4.77 ms/step, ctx 128 no gain.
  dev::launch_dependents();
#pragma unroll
  for (int r = 0; r < RMAX; ++r) {
    float s = acc[r];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    acc[r] = s;
  }
  if constexpr (GATED) {
    if (lane == 0) {
#pragma unroll
      for (int r = 0; r < RMAX; ++r) part[warp][r] = acc[r];
    }
    __syncthreads();
    // The first warp of each gate column finishes the pair: the up column sits kPairs slots later.
    if (col < kPairs && warp % KSPLIT == 0 && active && lane < M) {
      float g = 0.0f, u = 0.0f;
#pragma unroll
      for (int j = 0; j < KSPLIT; ++j) {
        g += part[warp + j][lane];
        u += part[warp + kPairs * KSPLIT + j][lane];
      }
      g = to_f32(from_f32<T>(g));
      u = to_f32(from_f32<T>(u));
      y[lane * N + n_out] = from_f32<O>(silu_mul_f32(g, u));
    }
  } else if constexpr (KSPLIT == 1) {
    if (active && lane < M) {
      float s = 0.0f;
#pragma unroll
      for (int r = 0; r < RMAX; ++r)
        if (r == lane) s = acc[r];
      y[lane * N + n_out] = from_f32<O>(s);
    }
  } else {
    if (lane == 0) {
#pragma unroll
      for (int r = 0; r < RMAX; ++r) part[warp][r] = acc[r];
    }
    __syncthreads();
    if (warp % KSPLIT == 0 && active && lane < M) {
      float s = 0.0f;
#pragma unroll
      for (int j = 0; j < KSPLIT; ++j) s += part[warp + j][lane];
      y[lane * N + n_out] = from_f32<O>(s);
    }
  }
}

template <typename T, typename O, int RMAX, bool GATED>
void gemv_launch_r(const T* x, const T* w, O* y, int M, int64_t N, int64_t K, int ksplit, cudaStream_t stream) {
  const int64_t slots = GATED ? 2 * N : N;  // warp columns: a gated block holds gate and up columns
  const auto grid = [&](int ks) {
    return dim3(static_cast<unsigned>((slots * ks + kWarpsPerBlock - 1) / kWarpsPerBlock));
  };
  const dim3 block(kWarpsPerBlock * 32);
  switch (ksplit) {
    case 1: launch_pdl(gemv_kernel<T, O, RMAX, 1, GATED>, grid(1), block, 0, stream, x, w, y, M, N, K); break;
    case 2: launch_pdl(gemv_kernel<T, O, RMAX, 2, GATED>, grid(2), block, 0, stream, x, w, y, M, N, K); break;
    case 4: launch_pdl(gemv_kernel<T, O, RMAX, 4, GATED>, grid(4), block, 0, stream, x, w, y, M, N, K); break;
    case 8:
      if constexpr (!GATED) {
        launch_pdl(gemv_kernel<T, O, RMAX, 8, false>, grid(8), block, 0, stream, x, w, y, M, N, K);
        break;
      }
      [[fallthrough]];
    default: ops_fail("gemv: ksplit " + std::to_string(ksplit) + (GATED ? " (1, 2 or 4 when gated)" : " (1, 2, 4 or 8)"));
  }
}

template <typename T, typename O, bool GATED>
void gemv_launch(const void* x, const void* w, void* y, int64_t M, int64_t N, int64_t K, int ksplit,
                 cudaStream_t stream) {
  const auto* xt = static_cast<const T*>(x);
  const auto* wt = static_cast<const T*>(w);
  auto* yt = static_cast<O*>(y);
  const int m = static_cast<int>(M);
  if (M <= 1) gemv_launch_r<T, O, 1, GATED>(xt, wt, yt, m, N, K, ksplit, stream);
  else if (M <= 2) gemv_launch_r<T, O, 2, GATED>(xt, wt, yt, m, N, K, ksplit, stream);
  else if (M <= 4) gemv_launch_r<T, O, 4, GATED>(xt, wt, yt, m, N, K, ksplit, stream);
  else if (M <= 8) gemv_launch_r<T, O, 8, GATED>(xt, wt, yt, m, N, K, ksplit, stream);
  else gemv_launch_r<T, O, 16, GATED>(xt, wt, yt, m, N, K, ksplit, stream);
}

}  // namespace

int gemv_default_ksplit(int64_t N, int64_t K) {
  // Split K until each warp's slice fits in one chunk (32 lanes x 8 vectors x 8 elements = 2048
  // elements: all of a warp's weight loads go out at once, no second dependent trip) and there are
  // at least 16384 warps (about four waves of 8-warp blocks on 132 SMs: shorter blocks, a shorter
  // tail at the next kernel's dependency), while every warp keeps >= 1024 elements. Measured in
  // the 8B batch-1 decode graph (H200, bench/results/model-h200-2026-11-21-r5): the old rule (stop
  // at one whole chunk per warp, ~two waves) gave 226.6 tok/s, this one 236.9 (QKV 2 -> 4 splits,
  // O 2 -> 4, gate|up 1 -> 2, down 4 -> 8, LM head 1 -> 2; each change a gain on its own).
  int ks = 1;
  while (ks < 8 && (K / ks > 2048 || N * ks < 16384) && K / (2 * ks) >= 1024) ks *= 2;
  return ks;
}

bool gemv_supported(const void* x, const void* w, int64_t M, int64_t K, DType dtype) {
  const bool half = dtype == DType::DTYPE_BF16 || dtype == DType::DTYPE_F16;
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  return half && M >= 1 && M <= kGemvMaxRows && K % 8 == 0 && aligned(x) && aligned(w);
}

void gemv(const void* x, const void* w, void* y, int64_t M, int64_t N, int64_t K, DType dtype, DType out_dtype,
          cudaStream_t stream, int ksplit) {
  if (!gemv_supported(x, w, M, K, dtype)) ops_fail("gemv: unsupported shape, type or alignment");
  if (ksplit <= 0) ksplit = gemv_default_ksplit(N, K);
  const bool out_f32 = out_dtype == DType::DTYPE_F32;
  if (dtype == DType::DTYPE_BF16) {
    if (out_f32) gemv_launch<__nv_bfloat16, float, false>(x, w, y, M, N, K, ksplit, stream);
    else gemv_launch<__nv_bfloat16, __nv_bfloat16, false>(x, w, y, M, N, K, ksplit, stream);
  } else {
    if (out_f32) gemv_launch<__half, float, false>(x, w, y, M, N, K, ksplit, stream);
    else gemv_launch<__half, __half, false>(x, w, y, M, N, K, ksplit, stream);
  }
}

void gemv_silu_mul(const void* x, const void* w, void* y, int64_t M, int64_t F, int64_t K, DType dtype,
                   cudaStream_t stream, int ksplit) {
  if (!gemv_supported(x, w, M, K, dtype)) ops_fail("gemv_silu_mul: unsupported shape, type or alignment");
  if (ksplit <= 0) ksplit = std::min(gemv_default_ksplit(2 * F, K), 4);
  if (dtype == DType::DTYPE_BF16) gemv_launch<__nv_bfloat16, __nv_bfloat16, true>(x, w, y, M, F, K, ksplit, stream);
  else gemv_launch<__half, __half, true>(x, w, y, M, F, K, ksplit, stream);
}

}  // namespace pagoda::cuda
