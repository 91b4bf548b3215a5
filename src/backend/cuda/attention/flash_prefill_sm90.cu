// Launcher and availability check for the Hopper prefill kernels (flash_prefill_sm90.cuh and its
// persistent ping-pong form, flash_prefill_sm90_pingpong.cuh). The kernels are instantiated only in
// builds that include sm_90a code (PAGODA_CUDA_SM90A); elsewhere this file reports the kernel
// unavailable and compiles nothing.
#include "backend/cuda/attention/attention_dispatch.hpp"
#include "backend/cuda/attention/attention_launch.hpp"
#include "backend/cuda/attention/flash_prefill_sm90.hpp"
#if defined(PAGODA_CUDA_SM90A)
#include <cuda.h>
#include <cudaTypedefs.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <type_traits>

#include "backend/cuda/attention/flash_prefill_sm90.cuh"
#include "backend/cuda/attention/flash_prefill_sm90_pingpong.cuh"
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

// cuTensorMapEncodeTiled from the driver the runtime already loaded (no libcuda link); null when the
// driver lacks it. Looked up once.
PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess) {
      cudaGetLastError();
      f = nullptr;
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
  }();
  return fn;
}

// Measurement builds (PAGODA_PREFILL_TMA_KNOB) read PAGODA_PREFILL_TMA: 0 runs the cp.async producer
// everywhere, 2 takes TMA at every page size the kernel can box (prefill_tma_page_ok), anything else
// the measured rule (tma_chosen). Other builds always use the rule.
int tma_knob() {
#if defined(PAGODA_PREFILL_TMA_KNOB)
  static const int knob = [] {
    const char* e = std::getenv("PAGODA_PREFILL_TMA");
    return e == nullptr ? 1 : std::atoi(e);
  }();
  return knob;
#else
  return 1;
#endif
}

// TMA where a K or V tile is at most 2 boxes per 64-column block (P = 64 or a multiple of 128).
// Measured on the H200 (D 128, H 32 / Hkv 8, causal, 16k tokens per launch, 1k / 2k / 4k / 8k / 16k).
// Against the row gather (notes v25): P 32 +5% / +2% / +6% / +6% / +7%, P 64 +8% / +12% / +13% / +13% /
// +16%, P 128 +7% / +11% / +12% / +12% / +14%; P 16 (8 boxes) -13% / -21% / -21% / -23% / -19%: the
// many 2 KB boxes starve the consumers (ncu at 16k: issue slots 25% against 44%, eligible warps per
// scheduler 0.37 against 0.76). Against the run gather (session 9, notes 36): P 32 +1.5% / -6% / -5% /
// -4% / -3% (so P 32 takes the run gather), P 64 +8% / +5% / +2% / 0% / +3%, contiguous +10% / +9% /
// +2% / +2% / +4%.
bool tma_chosen(int page_size, int BN) {
  const int knob = tma_knob();
  if (knob == 0 || !prefill_tma_page_ok(page_size, BN)) return false;
  return knob == 2 || std::min(page_size, BN) >= 64;
}

// One cache (K or V, [cache_rows, Hkv, D]) as the 3D map {D, Hkv, cache_rows}, box {64, 1, box_rows},
// 128-byte swizzle (the wgmma layout; sw128 in flash_prefill_sm90_load.cuh). Out-of-bounds boxes
// would read zeros, but the kernel never issues one: tail tiles take the cp.async gather.
template <typename T>
bool tma_map_encode(CUtensorMap& map, const void* cache, int64_t cache_rows, int hkv, int D, int box_rows) {
  const auto encode = tensor_map_encoder();
  if (encode == nullptr) return false;
  const CUtensorMapDataType dt =
      std::is_same<T, __nv_bfloat16>::value ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
  const cuuint64_t dims[3] = {cuuint64_t(D), cuuint64_t(hkv), cuuint64_t(cache_rows)};
  const cuuint64_t strides[2] = {cuuint64_t(D) * 2, cuuint64_t(hkv) * D * 2};  // bytes, dims 1 and 2
  const cuuint32_t box[3] = {64, 1, cuuint32_t(box_rows)};
  const cuuint32_t elem_strides[3] = {1, 1, 1};
  return encode(&map, dt, 3, const_cast<void*>(cache), dims, strides, box, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

// Both maps for this launch (the cache pointers change per layer, so every launch encodes); false
// sends the launch to the cp.async producer (page size not chosen, misaligned cache, no encoder).
template <typename T, int D>
bool tma_maps_make(const AttentionParams& p, int64_t cache_rows, PrefillTmaMaps& maps) {
  constexpr int BN = PrefillSm90Traits<D>::BN;
  if (!tma_chosen(p.page_size, BN) || cache_rows <= 0) return false;
  const int box_rows = std::min(p.page_size, BN);
  return tma_map_encode<T>(maps.k, p.k, cache_rows, p.num_kv_heads, D, box_rows) &&
         tma_map_encode<T>(maps.v, p.v, cache_rows, p.num_kv_heads, D, box_rows);
}

template <typename T, int D, bool OVERLAP>
cudaError_t launch_one(const AttentionParams& p, int64_t rows, int64_t cache_rows, cudaStream_t stream) {
  PrefillTmaMaps maps{};
  if (tma_maps_make<T, D>(p, cache_rows, maps))
    return prefill_launch_grid<PrefillSm90Traits<D>>(flash_prefill_sm90_kernel<T, D, OVERLAP, true>, p, rows, stream,
                                                     maps);
  if (prefill_runs_page_ok(p.page_size))
    return prefill_launch_grid<PrefillSm90Traits<D>>(flash_prefill_sm90_kernel<T, D, OVERLAP, false, true>, p, rows,
                                                     stream, maps);
  return prefill_launch_grid<PrefillSm90Traits<D>>(flash_prefill_sm90_kernel<T, D, OVERLAP, false>, p, rows, stream,
                                                   maps);
}

// Query lengths up to which D = 128 runs the persistent ping-pong kernel. Measured on the H200
// (causal, H 32 / Hkv 8, 16k tokens per launch; notes v20): +6.5% at 1k, +2.9% at 2k, -2% at 4k and
// -0.6% to -3% at 8k-16k (static work strides leave a 3% tail there that the hardware's own CTA
// order does not), so longer prefills keep the one-work-per-CTA kernel. Chunked prefill (q_len new
// tokens over a longer KV, notes 30): +1-4% at q_len 512-1024 over 4k-32k keys, equal at 4 x 2048
// over 8k, but -6.5% at 1 x 2048 over 8k and -1.7% over 32k; the host does not know the KV lengths,
// so the bound stays on q_len. With the dynamic work queue (TMA page sizes, notes 34) the kernel
// measured level with the one-work kernel at 4k-16k (P = 64: +0.6% / -1.1% / -5% noisy), so the
// bound stays at every page size.
#ifndef PAGODA_PREFILL_PINGPONG_MAX_Q  // measurement builds override it (0: the one-work kernel only)
#define PAGODA_PREFILL_PINGPONG_MAX_Q 2048
#endif
constexpr int PREFILL_SM90_PINGPONG_MAX_Q = PAGODA_PREFILL_PINGPONG_MAX_Q;

// Measurement builds (PAGODA_PREFILL_SCHED_KNOB) read the bound above from the environment variable
// of the same name; other builds use the constant.
#if defined(PAGODA_PREFILL_SCHED_KNOB)
int pingpong_max_q() {
  static const int v = [] {
    const char* e = std::getenv("PAGODA_PREFILL_PINGPONG_MAX_Q");
    return e == nullptr ? PREFILL_SM90_PINGPONG_MAX_Q : std::atoi(e);
  }();
  return v;
}
#else
constexpr int pingpong_max_q() { return PREFILL_SM90_PINGPONG_MAX_Q; }
#endif

// The persistent ping-pong kernel: min(works, SMs) CTAs. With TMA they take works from the queue's
// counters (zeroed first when zero_counters), with the cp.async producer by the static stride.
template <typename T, int D, bool TMA, bool RUNS = false>
cudaError_t launch_pingpong(const AttentionParams& p, int64_t rows, const PrefillTmaMaps& maps, int* work_counters,
                            bool zero_counters, cudaStream_t stream) {
  using Tr = PrefillPingpongTraits<D, TMA>;
  auto kernel = flash_prefill_sm90_pingpong_kernel<T, D, TMA, RUNS>;
  cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Tr::SMEM_BYTES);
  if (err != cudaSuccess) return err;
  int dev = 0, sms = 0;
  err = cudaGetDevice(&dev);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  if (err != cudaSuccess) return err;
  const int64_t m_blocks = (rows + Tr::BM - 1) / Tr::BM;
  const int64_t works = m_blocks * p.num_kv_heads * p.num_seqs;  // bounds the works that hold rows
  // Work indices are 32-bit (the static stride's idx + grid, the queue's claims past the last work
  // by up to one per CTA, must not overflow).
  if (works > INT_MAX / 2) return cudaErrorInvalidValue;
  const int64_t ctas = std::min<int64_t>(works, sms);
  if constexpr (TMA) {
    if (zero_counters) {
      err = cudaMemsetAsync(work_counters, 0, PREFILL_SM90_WORK_COUNTERS * sizeof(int), stream);
      if (err != cudaSuccess) return err;
    }
    kernel<<<unsigned(ctas), Tr::THREADS, Tr::SMEM_BYTES, stream>>>(p, work_counters, maps);
  } else {
    (void)work_counters;
    (void)zero_counters;
    kernel<<<unsigned(ctas), Tr::THREADS, Tr::SMEM_BYTES, stream>>>(p, int(m_blocks), maps);
  }
  return cudaGetLastError();
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

cudaError_t prefill_sm90_launch(const AttentionParams& p, int64_t cache_rows, DType dtype, int head_dim, int max_q_len,
                                bool overlap, int* work_counters, bool zero_counters, cudaStream_t stream) {
  cudaError_t err = cudaErrorInvalidValue;
#if defined(PAGODA_CUDA_SM90A)
  const int64_t rows = int64_t(max_q_len) * p.group;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_head_dim(head_dim, [&](auto dtag) {
      constexpr int D = decltype(dtag)::value;
      if constexpr (D == 128) {
        if (!overlap && max_q_len <= pingpong_max_q()) {
          PrefillTmaMaps maps{};
          if (tma_maps_make<T, D>(p, cache_rows, maps))
            err = launch_pingpong<T, D, true>(p, rows, maps, work_counters, zero_counters, stream);
          else if (prefill_runs_page_ok(p.page_size))
            err = launch_pingpong<T, D, false, true>(p, rows, maps, work_counters, zero_counters, stream);
          else
            err = launch_pingpong<T, D, false>(p, rows, maps, work_counters, zero_counters, stream);
          return;
        }
      }
      // The overlap variant exists for the bench's comparison at the measured shape only.
      if (!overlap)
        err = launch_one<T, D, false>(p, rows, cache_rows, stream);
      else if constexpr (D == 128 && std::is_same<T, __nv_bfloat16>::value)
        err = launch_one<T, D, true>(p, rows, cache_rows, stream);
    });
  });
#else
  (void)p;
  (void)cache_rows;
  (void)dtype;
  (void)head_dim;
  (void)max_q_len;
  (void)overlap;
  (void)work_counters;
  (void)zero_counters;
  (void)stream;
#endif
  return err;
}

}  // namespace pagoda::cuda
