// Host-side entry to the Hopper (sm_90a, wgmma + warp-specialized) prefill kernels of
// flash_prefill_sm90.cuh and flash_prefill_sm90_pingpong.cuh: whether they can run here, and their
// launcher. The prefill dispatch in attention.cpp picks them on compute capability 9.0 devices for
// the shapes they serve; the launcher picks between the two by query length.
#pragma once

#include <cuda_runtime_api.h>

#include "backend/cuda/attention/attention_params.hpp"
#include "core/dtype.hpp"

namespace pagoda::cuda {

// key_tile values of attention_prefill_variant that force this kernel (bench and tests): the
// default, and the variant where the next tile's Q K^T and this tile's P V overlap the softmax
// (measured slower on the H200; bf16, D = 128 only).
constexpr int PREFILL_SM90_KEY_TILE = 128;
constexpr int PREFILL_SM90_KEY_TILE_OVERLAP = -128;

// True when this build holds the sm_90a kernels (PAGODA_CUDA_SM90A), the current device has
// compute capability 9.0 and (dtype, head dim) is instantiated (bf16 / fp16, D 64 or 128).
bool prefill_sm90_available(DType dtype, int head_dim);
// True when attention_prefill (key tile 0) runs this kernel for the shape on the current device.
bool prefill_sm90_selected(DType dtype, int head_dim);
// Int32 counters of the persistent kernel's work queue in the caller's workspace: the next work
// (minus the grid size) and the CTAs done; zero before a launch, left zero by it.
constexpr int PREFILL_SM90_WORK_COUNTERS = 2;

// Launches only; cudaErrorInvalidValue for a combination that is not instantiated. Without overlap,
// D = 128 with max_q_len <= 2048 runs the persistent ping-pong kernel, everything else the
// one-work-per-CTA kernel. cache_rows (num_pages * P, the rows of p.k and p.v) bounds the TMA
// tensor maps: page sizes 64 and multiples of 128 load K/V by TMA, other page sizes by cp.async (a
// run gather where 16 | P, where TMA measured slower at P = 16 and 32; a row gather otherwise).
// work_counters: PREFILL_SM90_WORK_COUNTERS device int32 that the ping-pong kernel's work queue uses
// with TMA (the cp.async form walks a static stride), zeroed here first (one memset) when
// zero_counters, else zero already.
cudaError_t prefill_sm90_launch(const AttentionParams& p, int64_t cache_rows, DType dtype, int head_dim, int max_q_len,
                                bool overlap, int* work_counters, bool zero_counters, cudaStream_t stream);

}  // namespace pagoda::cuda
