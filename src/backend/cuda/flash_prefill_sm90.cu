// Launcher and availability check for the Hopper prefill kernel (flash_prefill_sm90.cuh). The
// kernels are instantiated only in builds that include sm_90a code (PAGODA_CUDA_SM90A); elsewhere
// this file reports the kernel unavailable and compiles nothing.
#include "backend/cuda/attention_dispatch.hpp"
#include "backend/cuda/attention_launch.hpp"
#include "backend/cuda/flash_prefill_sm90.hpp"
#if defined(PAGODA_CUDA_SM90A)
#include "backend/cuda/flash_prefill_sm90.cuh"
#endif

namespace pagoda::cuda {
namespace {

#if defined(PAGODA_CUDA_SM90A)
bool device_is_sm90() {
  int dev = 0, major = 0, minor = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return major == 9 && minor == 0;
}

template <typename T, int D, bool OVERLAP>
cudaError_t launch_one(const AttentionParams& p, int64_t rows, cudaStream_t stream) {
  return prefill_launch_grid<PrefillSm90Traits<D>>(flash_prefill_sm90_kernel<T, D, OVERLAP>, p, rows, stream);
}
#endif

}  // namespace

bool prefill_sm90_available(DType dtype, int head_dim) {
#if defined(PAGODA_CUDA_SM90A)
  return attention_dtype_supported(dtype) && (head_dim == 64 || head_dim == 128) && device_is_sm90();
#else
  (void)dtype;
  (void)head_dim;
  return false;
#endif
}

// Every instantiated head dim is dispatched: measured faster than the mma.sync kernel at D = 128
// (1.26-1.5x) and D = 64 (1.14-1.49x, H 32 and 16 over Hkv 8, 1k-16k; dev/kernels/attention_notes.md).
bool prefill_sm90_selected(DType dtype, int head_dim) { return prefill_sm90_available(dtype, head_dim); }

cudaError_t prefill_sm90_launch(const AttentionParams& p, DType dtype, int head_dim, int max_q_len, bool overlap,
                                cudaStream_t stream) {
  cudaError_t err = cudaErrorInvalidValue;
#if defined(PAGODA_CUDA_SM90A)
  const int64_t rows = int64_t(max_q_len) * p.group;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_head_dim(head_dim, [&](auto dtag) {
      constexpr int D = decltype(dtag)::value;
      // The overlap variant exists for the bench's comparison at the measured shape only.
      if (!overlap)
        err = launch_one<T, D, false>(p, rows, stream);
      else if constexpr (D == 128 && std::is_same<T, __nv_bfloat16>::value)
        err = launch_one<T, D, true>(p, rows, stream);
    });
  });
#else
  (void)p;
  (void)dtype;
  (void)head_dim;
  (void)max_q_len;
  (void)overlap;
  (void)stream;
#endif
  return err;
}

}  // namespace pagoda::cuda
