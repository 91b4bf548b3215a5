// GEMV for the flat GEMMs of decode: y [M, N] = x [M, K] . W [N, K]^T with M <= 16 rows. The weight
// matrix is streamed once with 16-byte loads that bypass L1 (one warp per output column, 8 loads in
// flight per lane, 4 KiB per warp); the few x rows are re-read from L1/L2, which the weight stream
// no longer evicts. Bandwidth-bound by design: W dominates the bytes.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "backend/cuda/gemm/gemm.hpp"
#include "backend/cuda/ops/cuda_check.hpp"
#include "backend/cuda/ops/type_utils.cuh"

namespace pagoda::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kUnroll = 8;

// Streaming 16-byte load of weights read exactly once: non-coherent path, no L1 allocation.
__device__ __forceinline__ uint4 load_stream(const uint4* p) {
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

template <typename T>
__device__ __forceinline__ void unpack8(const uint4& v, float* f) {
  const auto* h = reinterpret_cast<const typename std::conditional<std::is_same_v<T, __half>, __half2, __nv_bfloat162>::type*>(&v);
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

template <typename T, typename O, int R>
__global__ void __launch_bounds__(kWarpsPerBlock * 32) gemv_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                                                   O* __restrict__ y, int64_t N, int64_t K) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t n = int64_t(blockIdx.x) * kWarpsPerBlock + warp;
  if (n >= N) return;
  const uint4* wr = reinterpret_cast<const uint4*>(w + n * K);
  const int64_t KV = K / 8;  // 16-byte vectors per row
  float acc[R];
#pragma unroll
  for (int r = 0; r < R; ++r) acc[r] = 0.0f;
  for (int64_t base = lane; base < KV; base += 32 * kUnroll) {
    uint4 wv[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t v = base + 32 * u;
      wv[u] = v < KV ? load_stream(wr + v) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t v = base + 32 * u;
      if (v >= KV) break;
      float wf[8];
      unpack8<T>(wv[u], wf);
#pragma unroll
      for (int r = 0; r < R; ++r) {
        float xf[8];
        unpack8<T>(__ldg(reinterpret_cast<const uint4*>(x + r * K) + v), xf);
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[r] = fmaf(wf[i], xf[i], acc[r]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
    float s = acc[r];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0) y[r * N + n] = from_f32<O>(s);
  }
}

template <typename T, typename O>
void gemv_launch(const void* x, const void* w, void* y, int64_t M, int64_t N, int64_t K, cudaStream_t stream) {
  const unsigned grid = static_cast<unsigned>((N + kWarpsPerBlock - 1) / kWarpsPerBlock);
  const auto* xt = static_cast<const T*>(x);
  const auto* wt = static_cast<const T*>(w);
  auto* yt = static_cast<O*>(y);
  switch (M) {
#define PAGODA_GEMV_CASE(R) \
  case R: gemv_kernel<T, O, R><<<grid, kWarpsPerBlock * 32, 0, stream>>>(xt, wt, yt, N, K); break;
    PAGODA_GEMV_CASE(1) PAGODA_GEMV_CASE(2) PAGODA_GEMV_CASE(3) PAGODA_GEMV_CASE(4)
    PAGODA_GEMV_CASE(5) PAGODA_GEMV_CASE(6) PAGODA_GEMV_CASE(7) PAGODA_GEMV_CASE(8)
    PAGODA_GEMV_CASE(9) PAGODA_GEMV_CASE(10) PAGODA_GEMV_CASE(11) PAGODA_GEMV_CASE(12)
    PAGODA_GEMV_CASE(13) PAGODA_GEMV_CASE(14) PAGODA_GEMV_CASE(15) PAGODA_GEMV_CASE(16)
#undef PAGODA_GEMV_CASE
    default: ops_fail("gemv: " + std::to_string(M) + " rows (at most 16)");
  }
  PAGODA_CUDA_LAUNCH_CHECK();
}

}  // namespace

bool gemv_supported(const void* x, const void* w, int64_t M, int64_t K, DType dtype) {
  const bool half = dtype == DType::DTYPE_BF16 || dtype == DType::DTYPE_F16;
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  return half && M >= 1 && M <= kGemvMaxRows && K % 8 == 0 && aligned(x) && aligned(w);
}

void gemv(const void* x, const void* w, void* y, int64_t M, int64_t N, int64_t K, DType dtype, DType out_dtype,
          cudaStream_t stream) {
  if (!gemv_supported(x, w, M, K, dtype)) ops_fail("gemv: unsupported shape, type or alignment");
  const bool out_f32 = out_dtype == DType::DTYPE_F32;
  if (dtype == DType::DTYPE_BF16) {
    if (out_f32) gemv_launch<__nv_bfloat16, float>(x, w, y, M, N, K, stream);
    else gemv_launch<__nv_bfloat16, __nv_bfloat16>(x, w, y, M, N, K, stream);
  } else {
    if (out_f32) gemv_launch<__half, float>(x, w, y, M, N, K, stream);
    else gemv_launch<__half, __half>(x, w, y, M, N, K, stream);
  }
}

}  // namespace pagoda::cuda
