// Launcher for the split-KV decode kernel and the LSE merge kernel (flash_decode.cuh).
#include "backend/cuda/attention_dispatch.hpp"
#include "backend/cuda/attention_launch.hpp"
#include "backend/cuda/flash_decode.cuh"

namespace pagoda::cuda {

cudaError_t decode_launch(const DecodeParams& dp, DType dtype, int head_dim, int rows_per_cta, int row_groups,
                          int64_t total_rows, cudaStream_t stream) {
  cudaError_t err = cudaErrorInvalidValue;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_head_dim(head_dim, [&](auto dtag) {
      constexpr int D = decltype(dtag)::value;
      dispatch_decode_rows(rows_per_cta, [&](auto rtag) {
        constexpr int R = decltype(rtag)::value;
        const dim3 grid(unsigned(dp.num_splits), unsigned(dp.attn.num_kv_heads * row_groups),
                        unsigned(dp.attn.num_seqs));
        if (dp.unified_max) {
          flash_decode_kernel<T, D, R, true><<<grid, DecodeTraits<D>::THREADS, 0, stream>>>(dp);
        } else {
          flash_decode_kernel<T, D, R, false><<<grid, DecodeTraits<D>::THREADS, 0, stream>>>(dp);
        }
        err = cudaGetLastError();
        if (err != cudaSuccess || dp.num_splits == 1) return;
        constexpr int ROWS = 128 / (D / 4);
        const int64_t blocks = (total_rows + ROWS - 1) / ROWS;
        flash_merge_kernel<T, D><<<unsigned(blocks), 128, 0, stream>>>(dp);
        err = cudaGetLastError();
      });
    });
  });
  return err;
}

int decode_ctas_per_sm(DType dtype, int head_dim, int rows_per_cta) {
  int n = 0;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_head_dim(head_dim, [&](auto dtag) {
      constexpr int D = decltype(dtag)::value;
      dispatch_decode_rows(rows_per_cta, [&](auto rtag) {
        constexpr int R = decltype(rtag)::value;
        if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, flash_decode_kernel<T, D, R, false>,
                                                          DecodeTraits<D>::THREADS, 0) != cudaSuccess) {
          cudaGetLastError();  // no device: the caller falls back to a default
          n = 0;
        }
      });
    });
  });
  return n;
}

}  // namespace pagoda::cuda
