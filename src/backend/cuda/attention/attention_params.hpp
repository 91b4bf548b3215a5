// Kernel parameter structs for the CUDA attention family: one struct per kernel, filled on the
// host by attention.cu and passed by value. All pointers are device pointers.
// Promises: plain data only (no device code, no ownership).
#pragma once

#include <cstdint>

namespace pagoda::cuda {

// Shared by the prefill and decode kernels: where q, the paged K/V and the outputs live.
struct AttentionParams {
  const void* q = nullptr;  // [T, H, D]
  const void* k = nullptr;  // [num_pages, P, Hkv, D]
  const void* v = nullptr;
  void* out = nullptr;  // [T, H, D]
  float* lse = nullptr;  // [T, H] natural-log sum-exp, may be null
  const int32_t* cu_seqlens_q = nullptr;  // [B + 1]
  const int32_t* kv_lens = nullptr;       // [B]
  const int32_t* block_table = nullptr;   // [B, max_pages]
  int32_t num_seqs = 0;
  int32_t max_pages = 0;
  int32_t num_heads = 0;     // H
  int32_t num_kv_heads = 0;  // Hkv
  int32_t group = 1;         // H / Hkv
  int32_t page_size = 0;     // P
  float scale_log2 = 0.0f;   // softmax scale * log2(e)
  bool causal = true;
};

// Groups of the decode's two-level split merge (DecodeParams::merge_group_splits): at most this many
// group results per row, merged by the last group merger.
constexpr int DECODE_MERGE_GROUPS = 8;

// Split-KV decode: with several splits each CTA writes a float partial output and its LSE (log2
// domain); the last CTA of each (sequence, KV head, row group) merges them (counters), or with
// merge_group_splits > 0 the last of each group of that many splits merges the group into the group's
// first partial slot and the last of those merges the groups (group_counters, then counters).
struct DecodeParams {
  AttentionParams attn;
  int32_t num_splits = 1;
  int32_t split_tokens = 0;      // KV positions per split, a multiple of 16 (the last may be short)
  int32_t row_groups = 1;        // row groups per KV head (16 rows; 32 in the pair kernel): Hkv * row_groups items
  int32_t items_per_warp = 1;    // warp-per-item kernel: items each warp runs back to back
  // Split-major within a row, so a merge reads one row's splits at constant offsets from one base.
  float* partial_out = nullptr;  // [T, H, splits, D] float
  float* partial_lse = nullptr;  // [T, H, splits] log2 domain
  int32_t* counters = nullptr;   // [B, Hkv * row_groups] arrivals; zero before and after a launch
  // Two-level merge: splits per group (0: one level). At most DECODE_MERGE_GROUPS groups.
  int32_t merge_group_splits = 0;
  int32_t* group_counters = nullptr;  // [B, Hkv * row_groups, DECODE_MERGE_GROUPS] group arrivals, as counters
  bool programmatic_launch = false;  // launch as a programmatic dependent (host side only, sm_90+)
  // Keys-major kernel only: let the next programmatic dependent start before this CTA's own dependency wait.
  bool early_trigger = false;
};

struct KvAppendParams {
  const void* k = nullptr;  // [T, Hkv, D] new tokens
  const void* v = nullptr;
  void* k_cache = nullptr;  // [num_pages, P, Hkv, D]
  void* v_cache = nullptr;
  const int64_t* slot_mapping = nullptr;  // [T], page * P + slot; negative = skip (padding)
  const int32_t* positions = nullptr;     // [T], may be null (no RoPE)
  const float* inv_freq = nullptr;        // [rope_dim / 2]
  int64_t num_tokens = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t rope_dim = 0;
  bool interleaved = false;
};

}  // namespace pagoda::cuda
