// Launcher of the keys-major decode kernel (flash_decode_keys.cuh): the instantiation by (dtype, head
// dim, warps per CTA, ring stages) and the dynamic shared-memory limit.
#include "backend/cuda/attention/attention_dispatch.hpp"
#include "backend/cuda/attention/attention_launch.hpp"
#include "backend/cuda/attention/flash_decode_keys.cuh"
#include "backend/cuda/pdl_launch.cuh"

namespace pagoda::cuda {
namespace {

// Calls f(kernel, threads, smem_bytes) for (dtype, head dim, warps, ring stages, n-tiles of 8 rows); false when
// there is no such kernel. Sizes at D 128: 4 warps x 3 stages 96 KB and 6 x 2 96 KB (two CTAs per SM), 8 x 2
// 128 KB, 8 x 3 and 12 x 2 192 KB (one). Two n-tiles (9-16 rows) for 4 x 3 and 8 x 3 only.
template <typename F>
bool with_keys_kernel(DType dtype, int head_dim, int warps, int stages, int nt, F&& f) {
  bool found = false;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_head_dim(head_dim, [&](auto dtag) {
      constexpr int D = decltype(dtag)::value;
      found = true;
      auto call = [&](auto kernel, auto traits) {
        using Kt = decltype(traits);
        f(kernel, Kt::THREADS, Kt::SMEM_BYTES);
      };
      if (nt == 1 && warps == 4 && stages == 3)
        call(flash_decode_keys_kernel<T, D, 4, 3>, DecodeKeysTraits<D, 4, 3>{});
      else if (nt == 1 && warps == 6 && stages == 2)
        call(flash_decode_keys_kernel<T, D, 6, 2>, DecodeKeysTraits<D, 6, 2>{});
      else if (nt == 1 && warps == 8 && stages == 2)
        call(flash_decode_keys_kernel<T, D, 8, 2>, DecodeKeysTraits<D, 8, 2>{});
      else if (nt == 1 && warps == 8 && stages == 3)
        call(flash_decode_keys_kernel<T, D, 8, 3>, DecodeKeysTraits<D, 8, 3>{});
      else if (nt == 1 && warps == 12 && stages == 2)
        call(flash_decode_keys_kernel<T, D, 12, 2>, DecodeKeysTraits<D, 12, 2>{});
      else if (nt == 2 && warps == 4 && stages == 3)
        call(flash_decode_keys_kernel<T, D, 4, 3, 2>, DecodeKeysTraits<D, 4, 3, 2>{});
      else if (nt == 2 && warps == 8 && stages == 3)
        call(flash_decode_keys_kernel<T, D, 8, 3, 2>, DecodeKeysTraits<D, 8, 3, 2>{});
      else found = false;
    });
  });
  return found;
}

}  // namespace

static_assert(DecodeKeysTraits<128, 4, 3>::ROWS == DECODE_KEYS_NTILE_ROWS &&
              DecodeKeysTraits<128, 4, 3, 2>::ROWS == DECODE_KEYS_MAX_ROWS);

bool decode_keys_supported(DType dtype, int head_dim, int warps, int stages, int rows) {
  return rows >= 1 && rows <= DECODE_KEYS_MAX_ROWS &&
         with_keys_kernel(dtype, head_dim, warps, decode_keys_stages(warps, stages), decode_keys_ntiles(rows),
                          [](auto, int, int) {});
}

cudaError_t decode_keys_launch(const DecodeParams& dp, DType dtype, int head_dim, int warps, int stages, int rows,
                               cudaStream_t stream) {
  cudaError_t err = cudaErrorInvalidValue;
  with_keys_kernel(dtype, head_dim, warps, stages, decode_keys_ntiles(rows), [&](auto kernel, int threads, int smem) {
    err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (err != cudaSuccess) return;
    const dim3 grid(unsigned(dp.num_splits), unsigned(dp.attn.num_kv_heads), unsigned(dp.attn.num_seqs));
    err = launch_maybe_pdl(dp.programmatic_launch, kernel, grid, dim3(unsigned(threads)), size_t(smem), stream, dp);
    if (err == cudaSuccess) err = cudaGetLastError();
  });
  return err;
}

}  // namespace pagoda::cuda
