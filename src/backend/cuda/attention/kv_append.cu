// KV append: new tokens' K/V [T, Hkv, D] -> their cache slots, with RoPE applied to K in the same
// pass (interleaved or half-split pairing). One thread per element: the op moves T*Hkv*D*2 values
// once and is bound by those bytes; sin/cos use the accurate sincosf (positions reach 10^5).
#include "backend/cuda/attention/attention_dispatch.hpp"
#include "backend/cuda/attention/attention_launch.hpp"
#include "backend/cuda/device_utils.cuh"

namespace pagoda::cuda {
namespace {

template <typename T>
__global__ void kv_append_kernel(const KvAppendParams p) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int D = p.head_dim;
  const int64_t row_elems = int64_t(p.num_kv_heads) * D;
  if (idx >= p.num_tokens * row_elems) return;
  const int64_t t = idx / row_elems;
  const int64_t within = idx % row_elems;  // h * D + d
  const int d = int(within % D);
  const int64_t slot = p.slot_mapping[t];
  if (slot < 0) return;
  const T* k = static_cast<const T*>(p.k);
  const T* v = static_cast<const T*>(p.v);
  const int64_t dst = slot * row_elems + within;
  static_cast<T*>(p.v_cache)[dst] = v[idx];

  float out = dev::to_f32(k[idx]);
  if (p.positions != nullptr && d < p.rope_dim) {
    int i, lo;  // frequency index, offset of the pair's first element within the head
    bool first;
    if (p.interleaved) {
      i = d / 2;
      lo = 2 * i;
      first = (d % 2) == 0;
      const float x = dev::to_f32(k[idx - d + lo]), y = dev::to_f32(k[idx - d + lo + 1]);
      float sn, cs;
      sincosf(float(p.positions[t]) * p.inv_freq[i], &sn, &cs);
      out = first ? x * cs - y * sn : y * cs + x * sn;
    } else {
      const int half = p.rope_dim / 2;
      first = d < half;
      i = first ? d : d - half;
      const float x = dev::to_f32(k[idx - d + i]), y = dev::to_f32(k[idx - d + i + half]);
      float sn, cs;
      sincosf(float(p.positions[t]) * p.inv_freq[i], &sn, &cs);
      out = first ? x * cs - y * sn : y * cs + x * sn;
    }
  }
  static_cast<T*>(p.k_cache)[dst] = dev::from_f32<T>(out);
}

}  // namespace

cudaError_t kv_append_launch(const KvAppendParams& p, DType dtype, cudaStream_t stream) {
  cudaError_t err = cudaErrorInvalidValue;
  const int64_t n = p.num_tokens * p.num_kv_heads * p.head_dim;
  const int threads = 256;
  dispatch_dtype(dtype, [&](auto tag) {
    using Ty = typename decltype(tag)::type;
    kv_append_kernel<Ty><<<unsigned((n + threads - 1) / threads), threads, 0, stream>>>(p);
    err = cudaGetLastError();
  });
  return err;
}

}  // namespace pagoda::cuda
