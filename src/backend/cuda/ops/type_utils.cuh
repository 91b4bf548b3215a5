// Device-side helpers shared by the ops kernels: 16-bit <-> f32 conversion per element type and a
// host switch from DType to the element type. Promises: inline only, no state.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "backend/paged_kv.hpp"
#include "core/dtype.hpp"
#include "backend/cuda/ops/cuda_check.hpp"

namespace pagoda::cuda {

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// SwiGLU's element: silu(g) * u in f32. One definition for silu_mul and the gated GEMV's epilogue,
// so that the fused path equals the two-kernel one bit for bit.
__device__ __forceinline__ float silu_mul_f32(float g, float u) { return g / (1.0f + expf(-g)) * u; }

// PagedKvLayout::offset for device code (the header's version is host-only).
__device__ __forceinline__ int64_t kv_offset(const PagedKvLayout& l, int64_t page, int64_t slot, int64_t head) {
  return ((page * l.page_size + slot) * l.num_kv_heads + head) * int64_t(l.head_dim);
}

// Calls f(T{}) with T the element type of `dtype` (F32, F16, BF16 only).
template <typename F>
void dispatch_float(DType dtype, F&& f) {
  switch (dtype) {
    case DType::DTYPE_F32: f(float{}); return;
    case DType::DTYPE_F16: f(__half{}); return;
    case DType::DTYPE_BF16: f(__nv_bfloat16{}); return;
    default: ops_fail("CUDA ops: unsupported element type " + std::string(dtype_info(dtype).name));
  }
}

}  // namespace pagoda::cuda
