// Internal boundary between the host code (.cpp: checks, planning, errors) and the kernel
// launchers (.cu: template dispatch and <<<>>>). Launchers return the launch's cudaError_t, or
// cudaErrorInvalidValue for a dtype / head dim / rows combination that is not instantiated.
#pragma once

#include <cuda_runtime_api.h>

#include "backend/cuda/attention/attention_params.hpp"
#include "core/dtype.hpp"

namespace pagoda::cuda {

// Head dims and dtypes that have kernels.
inline bool attention_head_dim_supported(int d) { return d == 64 || d == 128; }
inline bool attention_dtype_supported(DType t) { return t == DType::DTYPE_BF16 || t == DType::DTYPE_F16; }
constexpr int DECODE_ROWS_PER_CTA = 16;  // packed (token, head-in-group) rows: one mma M tile
constexpr int DECODE_PAIR_ROWS_PER_CTA = 32;  // the pair kernel: two 16-row groups on shared rings
constexpr int DECODE_SPLIT_ALIGN = 16;   // keys per decode warp tile; split lengths are multiples

// key_tile: keys per prefill K/V tile, 32 or 64 (0: the default); the other one exists for the
// bench and its own test. 64 for both head dims: prefill v3 fits D = 128 at 64 keys without spills
// and measured 7-11% faster than 32 on the H200 (dev/kernels/attention_notes.md, v8).
constexpr int prefill_default_key_tile(int /*head_dim*/) { return 64; }
cudaError_t prefill_launch(const AttentionParams& p, DType dtype, int head_dim, int max_q_len, cudaStream_t stream,
                           int key_tile = 0);
// Decode kernels (flash_decode.cuh) by item_warps: 0 = one 4-warp CTA per item (flash_decode_kernel);
// 1, 2 or 4 = one warp per item, that many per CTA (flash_decode_warp_kernel). key_streams 2 or 4
// (with item_warps 0): one CTA per 32-row block, 2 x key_streams warps (flash_decode_pair_kernel).
// two_level_merge: the split or pair kernel instantiated with the two-level split merge
// (DecodeParams::merge_group_splits > 0; not the warp kernel).
inline bool decode_item_warps_supported(int item_warps) {
  return item_warps == 0 || item_warps == 1 || item_warps == 2 || item_warps == 4;
}
inline bool decode_key_streams_supported(int key_streams) { return key_streams == 2 || key_streams == 4; }
cudaError_t decode_launch(const DecodeParams& dp, DType dtype, int head_dim, int item_warps, int key_streams,
                          bool two_level_merge, cudaStream_t stream);
// Resident decode CTAs per SM for this instantiation (0 if it cannot be asked: no device).
int decode_ctas_per_sm(DType dtype, int head_dim, int item_warps, int key_streams = 0);
// The keys-major decode kernel (flash_decode_keys.cuh) with (warps per CTA, ring stages) one of (4, 3), (6, 2),
// (8, 2), (8, 3), (12, 2); stages 0 picks the first listed for those warps. rows: the plan's packed query rows per
// KV head (max q_len x G), at most DECODE_KEYS_MAX_ROWS; more than DECODE_KEYS_NTILE_ROWS take its two-n-tile
// form, instantiated for (4, 3) and (8, 3). One level of split merge.
constexpr int DECODE_KEYS_NTILE_ROWS = 8;  // packed rows per n-tile: the mma's N
constexpr int DECODE_KEYS_MAX_ROWS = 2 * DECODE_KEYS_NTILE_ROWS;
inline int decode_keys_ntiles(int rows) { return rows > DECODE_KEYS_NTILE_ROWS ? 2 : 1; }
inline int decode_keys_stages(int warps, int stages) {
  if (stages != 0) return stages;
  return warps == 4 ? 3 : 2;
}
// Whether that kernel is instantiated for (dtype, head dim, warps, stages, rows), stages as decode_keys_stages
// reads them.
bool decode_keys_supported(DType dtype, int head_dim, int warps, int stages, int rows);
cudaError_t decode_keys_launch(const DecodeParams& dp, DType dtype, int head_dim, int warps, int stages, int rows,
                               cudaStream_t stream);
cudaError_t kv_append_launch(const KvAppendParams& p, DType dtype, cudaStream_t stream);

}  // namespace pagoda::cuda
