// Launchers for the decode kernels with their fused split merge (flash_decode.cuh): pick the
// instantiation through attention_dispatch.hpp and the kernel by item_warps and key_streams, raise the
// dynamic shared-memory limit, and answer occupancy questions for the planner.
#include "backend/cuda/attention/attention_dispatch.hpp"
#include "backend/cuda/attention/attention_launch.hpp"
#include "backend/cuda/attention/flash_decode.cuh"
#include "backend/cuda/pdl_launch.cuh"

namespace pagoda::cuda {

static_assert(DecodeTraits<64>::TILE == DECODE_SPLIT_ALIGN && DecodeTraits<128>::TILE == DECODE_SPLIT_ALIGN);
static_assert(DecodeTraits<128>::ROWS == DECODE_ROWS_PER_CTA);
static_assert(DecodePairTraits<128, 2>::ROWS == DECODE_PAIR_ROWS_PER_CTA);

namespace {

// Calls f(kernel, threads, smem_bytes) with the instantiation for (dtype, head dim, item_warps,
// key_streams, two-level merge: the split and pair kernels only); returns false when there is none.
template <typename F>
bool with_decode_kernel(DType dtype, int head_dim, int item_warps, int key_streams, bool two_level, F&& f) {
  bool found = false;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_head_dim(head_dim, [&](auto dtag) {
      constexpr int D = decltype(dtag)::value;
      using Tr = DecodeTraits<D>;
      found = true;
      if (key_streams != 0) {
        using P2 = DecodePairTraits<D, 2>;
        using P4 = DecodePairTraits<D, 4>;
        if (item_warps == 0 && key_streams == 2) {
          if (two_level)
            f(flash_decode_pair_kernel<T, D, 2, true>, P2::THREADS, P2::SMEM_BYTES);
          else
            f(flash_decode_pair_kernel<T, D, 2>, P2::THREADS, P2::SMEM_BYTES);
        } else if (item_warps == 0 && key_streams == 4) {
          if (two_level)
            f(flash_decode_pair_kernel<T, D, 4, true>, P4::THREADS, P4::SMEM_BYTES);
          else
            f(flash_decode_pair_kernel<T, D, 4>, P4::THREADS, P4::SMEM_BYTES);
        } else {
          found = false;
        }
        return;
      }
      if (two_level) {
        if (item_warps == 0)
          f(flash_decode_kernel<T, D, true>, Tr::THREADS, Tr::SMEM_BYTES);
        else
          found = false;  // the warp kernel merges in one level
        return;
      }
      switch (item_warps) {
        case 0: f(flash_decode_kernel<T, D>, Tr::THREADS, Tr::SMEM_BYTES); break;
        case 1: f(flash_decode_warp_kernel<T, D, 1>, 32, Tr::RING_BYTES); break;
        case 2: f(flash_decode_warp_kernel<T, D, 2>, 64, 2 * Tr::RING_BYTES); break;
        case 4: f(flash_decode_warp_kernel<T, D, 4>, 128, 4 * Tr::RING_BYTES); break;
        default: found = false;
      }
    });
  });
  return found;
}

}  // namespace

cudaError_t decode_launch(const DecodeParams& dp, DType dtype, int head_dim, int item_warps, int key_streams,
                          bool two_level_merge, cudaStream_t stream) {
  cudaError_t err = cudaErrorInvalidValue;
  with_decode_kernel(dtype, head_dim, item_warps, key_streams, two_level_merge, [&](auto kernel, int threads, int smem) {
    err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (err != cudaSuccess) return;
    const int items = dp.attn.num_kv_heads * dp.row_groups;
    const int per_cta = item_warps == 0 ? 1 : item_warps * dp.items_per_warp;
    const dim3 grid(unsigned(dp.num_splits), unsigned((items + per_cta - 1) / per_cta), unsigned(dp.attn.num_seqs));
    err = launch_maybe_pdl(dp.programmatic_launch, kernel, grid, dim3(unsigned(threads)), size_t(smem), stream, dp);
    if (err == cudaSuccess) err = cudaGetLastError();
  });
  return err;
}

int decode_ctas_per_sm(DType dtype, int head_dim, int item_warps, int key_streams) {
  int n = 0;
  // The one-level kernels' occupancy (the planner's question; the two-level instantiations use the same
  // shared memory and threads).
  with_decode_kernel(dtype, head_dim, item_warps, key_streams, false, [&](auto kernel, int threads, int smem) {
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem) != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, threads, size_t(smem)) != cudaSuccess) {
      cudaGetLastError();  // no device: the caller falls back to a default
      n = 0;
    }
  });
  return n;
}

}  // namespace pagoda::cuda
