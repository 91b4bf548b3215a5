// Launcher for the split-KV decode kernel with its fused merge (flash_decode.cuh): picks the
// instantiation through attention_dispatch.hpp and raises the dynamic shared-memory limit.
#include "backend/cuda/attention_dispatch.hpp"
#include "backend/cuda/attention_launch.hpp"
#include "backend/cuda/flash_decode.cuh"
#include "backend/cuda/pdl_launch.cuh"

namespace pagoda::cuda {

static_assert(DecodeTraits<64>::TILE == DECODE_SPLIT_ALIGN && DecodeTraits<128>::TILE == DECODE_SPLIT_ALIGN);
static_assert(DecodeTraits<128>::ROWS == DECODE_ROWS_PER_CTA);

cudaError_t decode_launch(const DecodeParams& dp, DType dtype, int head_dim, int row_groups, cudaStream_t stream) {
  cudaError_t err = cudaErrorInvalidValue;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_head_dim(head_dim, [&](auto dtag) {
      constexpr int D = decltype(dtag)::value;
      using Tr = DecodeTraits<D>;
      auto kernel = flash_decode_kernel<T, D>;
      err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Tr::SMEM_BYTES);
      if (err != cudaSuccess) return;
      const dim3 grid(unsigned(dp.num_splits), unsigned(dp.attn.num_kv_heads * row_groups),
                      unsigned(dp.attn.num_seqs));
      err = launch_maybe_pdl(dp.programmatic_launch, kernel, grid, dim3(Tr::THREADS), Tr::SMEM_BYTES, stream, dp);
      if (err == cudaSuccess) err = cudaGetLastError();
    });
  });
  return err;
}

int decode_ctas_per_sm(DType dtype, int head_dim) {
  int n = 0;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_head_dim(head_dim, [&](auto dtag) {
      constexpr int D = decltype(dtag)::value;
      using Tr = DecodeTraits<D>;
      auto kernel = flash_decode_kernel<T, D>;
      if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Tr::SMEM_BYTES) != cudaSuccess ||
          cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, Tr::THREADS, Tr::SMEM_BYTES) != cudaSuccess) {
        cudaGetLastError();  // no device: the caller falls back to a default
        n = 0;
      }
    });
  });
  return n;
}

}  // namespace pagoda::cuda
