// Launcher for the FlashAttention-2 prefill kernel (flash_prefill.cuh): picks the instantiation
// through attention_dispatch.hpp and raises the dynamic shared-memory limit.
#include "backend/cuda/attention/attention_dispatch.hpp"
#include "backend/cuda/attention/attention_launch.hpp"
#include "backend/cuda/attention/flash_prefill.cuh"

namespace pagoda::cuda {
namespace {

template <typename T, int D, int BN>
cudaError_t prefill_launch_bn(const AttentionParams& p, int64_t rows, cudaStream_t stream) {
  return prefill_launch_grid<PrefillTraits<T, D, BN>>(flash_prefill_kernel<T, D, BN>, p, rows, stream);
}

}  // namespace

cudaError_t prefill_launch(const AttentionParams& p, DType dtype, int head_dim, int max_q_len, cudaStream_t stream,
                           int key_tile) {
  cudaError_t err = cudaErrorInvalidValue;
  const int64_t rows = int64_t(max_q_len) * p.group;
  if (key_tile == 0) key_tile = prefill_default_key_tile(head_dim);
  if (key_tile != 32 && key_tile != 64) return err;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_head_dim(head_dim, [&](auto dtag) {
      constexpr int D = decltype(dtag)::value;
      err = key_tile == 32 ? prefill_launch_bn<T, D, 32>(p, rows, stream) : prefill_launch_bn<T, D, 64>(p, rows, stream);
    });
  });
  return err;
}

}  // namespace pagoda::cuda
