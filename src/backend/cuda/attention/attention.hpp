// CUDA attention over the paged KV cache: KV append with fused RoPE, FlashAttention-2 prefill, and
// split-KV Flash-Decoding (merge fused into the kernel) with a planned split count (plan once per step, then launch only, so a
// decode step can be captured in a CUDA graph).
// Inputs are bf16 or fp16 (the cache layout's dtype), head dims 64 and 128. Contiguous K/V is the
// special case of a trivial page table (P = capacity, block_table[b] = b): one code path.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "backend/cuda/attention/attention_params.hpp"
#include "backend/paged_kv.hpp"

namespace pagoda::cuda {

struct RopeArgs {
  const int32_t* positions = nullptr;  // [T] device
  const float* inv_freq = nullptr;     // [rope_dim / 2] device
  int32_t rope_dim = 0;                // rotates dims [0, rope_dim) of each K head
  bool interleaved = false;            // pairs (2i, 2i+1); else (i, i + rope_dim / 2)
};

// Writes k, v [T, Hkv, D] into their pages: slot_mapping[t] = page * P + slot (negative: skip).
// If rope is non-null, K is rotated in the same pass (V is copied as is).
void kv_append(const PagedKvView& cache, const void* k, const void* v, int64_t T, const int64_t* slot_mapping,
               const RopeArgs* rope, cudaStream_t stream);

// Device scratch of the prefill: the work counters of the persistent Hopper kernel, which its CTAs
// take works from. A launch needs them zero and leaves them zero, so a workspace zeroed once
// (prefill_workspace_init) serves every later launch on its stream, eager or captured in a graph.
// Prefills that may run at the same time (on other streams) need workspaces of their own.
constexpr std::size_t PREFILL_WORKSPACE_BYTES = 256;
struct PrefillWorkspace {
  void* ptr = nullptr;  // PREFILL_WORKSPACE_BYTES of device memory, 4-byte aligned; never null
  // false (the default): a launch that uses the counters zeroes them first (cudaMemsetAsync: one more
  // graph node per call). true: prefill_workspace_init ran on ptr once since it was allocated (and
  // nothing else wrote there since).
  bool initialized = false;
};

// Zeroes a prefill workspace (once, after allocating it; see PrefillWorkspace::initialized).
void prefill_workspace_init(void* workspace, cudaStream_t stream);

// out [T, H, D] = softmax(q k^T * scale) v for a ragged batch; lse [T, H] (natural log) if non-null.
// batch's arrays are device pointers; max_q_len bounds every sequence's query count (host-known).
// Launches only (no allocation, no host sync).
void attention_prefill(const void* q, int32_t H, const PagedKvView& cache, const AttentionBatch& batch,
                       int32_t max_q_len, void* out, float* lse, const PrefillWorkspace& workspace,
                       cudaStream_t stream);
// attention_prefill with an explicit key-tile size (32 or 64 keys; 0: the default), so that the
// bench and tests can compare and check both kernel variants.
void attention_prefill_variant(const void* q, int32_t H, const PagedKvView& cache, const AttentionBatch& batch,
                               int32_t max_q_len, void* out, float* lse, int32_t key_tile,
                               const PrefillWorkspace& workspace, cudaStream_t stream);

// Host-side decode plan: everything a decode launch needs that depends on shapes, not data.
struct DecodePlan {
  int32_t num_seqs = 0;
  int32_t num_heads = 0;
  int32_t max_q_len = 1;     // query tokens per sequence (1, or a few for speculative verify)
  // Packed (token, head-in-group) rows per CTA: 16, or 32 in the pair kernel (item_warps 0 only: one
  // CTA loads each K/V tile once for two 16-row groups; MQA and q_len x G > 16). Set by decode_plan.
  int32_t rows_per_cta = 1;
  int32_t row_groups = 1;  // ceil(max_q_len x G / rows_per_cta)
  int32_t num_splits = 1;
  int32_t split_tokens = 0;
  // Which decode kernel runs the items (one item = sequence, KV head, row group, split). 0: one CTA of
  // 4 warps per item, the warps sharing its tiles (long KV). 1, 2 or 4: one warp per item, that many
  // per CTA (many short KVs: no CTA ring to fill and drain per item). Set by decode_plan.
  int32_t item_warps = 0;
  // Warp kernel only: items each warp runs back to back through one ring (1-8; consecutive KV heads
  // of one sequence), so only the first pays the ring's fill. Set by decode_plan; may be changed.
  int32_t items_per_warp = 1;
  // Pair kernel only (rows_per_cta 32): rings per CTA, each shared by the two warps of a pair. 2: 4 warps,
  // 2 CTAs per SM; 4: 8 warps, 1 CTA per SM. 0 with 16-row CTAs. Set by decode_plan; may be changed to
  // the other of 2 and 4 (bench, tests).
  int32_t key_streams = 0;
  // Split merge (num_splits > 1, item_warps 0): 0 merges every split in the last CTA to arrive; gs > 0 merges
  // in two levels, groups of gs splits first (at most DECODE_MERGE_GROUPS groups: gs >= ceil(num_splits /
  // DECODE_MERGE_GROUPS)), which spreads a large merge (many rows x many splits) over several SMs. Set by
  // decode_plan; may be changed to 0 or any such gs where num_splits > DECODE_MERGE_GROUPS (bench, tests):
  // the workspace does not depend on it.
  int32_t merge_group_splits = 0;
  // The keys-major kernel (4, 6, 8 or 12 warps per CTA; 0: not it): K as the mma's M, for at most
  // DECODE_KEYS_MAX_ROWS packed rows per KV head (q_len x G), one merge level. Set by decode_plan; may be
  // set where those hold (bench, tests). early_trigger: its CTAs let the next programmatic dependent start
  // before their own dependency wait.
  int32_t keys_warps = 0;
  int32_t keys_stages = 0;  // K/V tiles per warp ring of the keys-major kernel; 0: its default for keys_warps
  bool early_trigger = false;
  int64_t total_q_tokens = 0;  // T: rows of q/out
  std::size_t workspace_bytes = 0;
  // With several splits the workspace starts with split counters that must be zero before a
  // launch; every launch leaves them zero again. false (the default): attention_decode zeroes them
  // itself with a cudaMemsetAsync (one more graph node per call). true: the caller has run
  // decode_workspace_init once on this workspace since allocating it (and never wrote over it).
  bool workspace_initialized = false;
  // Launch the decode kernel as a programmatic dependent (PDL, sm_90+; ignored on older devices):
  // its CTAs may be placed while the previous kernel in the stream drains, and wait on the device
  // (griddepcontrol.wait) before reading q and the step's new K/V rows. Contract: the previous
  // kernel may write q and each sequence's last q_len K/V rows (the step's append), but not the
  // lengths, cu_seqlens_q, the block table or older K/V rows: the split kernel reads those, and
  // issues its first tiles of older rows, before the wait. It also lets a following PDL-launched
  // kernel start early. false: a plain launch.
  bool programmatic_launch = true;
};

// Splits per group of the two-level split merge for a plan of num_splits splits: ceil(num_splits /
// DECODE_MERGE_GROUPS) where there are more splits than groups, else 0 (one level).
inline int32_t decode_two_level_group_splits(int64_t num_splits) {
  return num_splits > DECODE_MERGE_GROUPS ? int32_t((num_splits + DECODE_MERGE_GROUPS - 1) / DECODE_MERGE_GROUPS) : 0;
}

// max_kv_len bounds every sequence's KV length for the step (pass the cache capacity to keep one
// plan, and one captured graph, across steps). num_sms = device multiprocessor count.
// forced_splits > 0, forced_item_warps >= 0 (0, 1, 2 or 4) and forced_rows_per_cta > 0 (16, or 32 with
// item warps 0: the pair kernel) override the planner's choices (bench, tests).
DecodePlan decode_plan(int32_t num_seqs, int32_t H, const PagedKvLayout& layout, int32_t max_q_len,
                       int32_t max_kv_len, int32_t num_sms, int32_t forced_splits = 0,
                       int32_t forced_item_warps = -1, int32_t forced_rows_per_cta = 0);

// Zeroes a decode workspace of `bytes` bytes (once, after allocating it; see
// DecodePlan::workspace_initialized). Plans of one batch shape (sequences, heads, KV layout, max_q_len)
// whose workspace_bytes fits may then share it, whatever their kernels, splits or merges: their counters and
// partials lie at the same offsets. A plan of another shape places its partials elsewhere and may write them
// over this shape's counters: give it its own workspace (or take the default, which zeroes them each call).
void decode_workspace_init(void* workspace, std::size_t bytes, cudaStream_t stream);

// Launches only (no allocation, no host sync): one decode kernel (splits merged inside it), plus
// the counter memset unless plan.workspace_initialized.
// workspace: plan.workspace_bytes of device memory, 256-byte aligned.
void attention_decode(const DecodePlan& plan, const void* q, const PagedKvView& cache, const AttentionBatch& batch,
                      void* out, float* lse, void* workspace, cudaStream_t stream);

}  // namespace pagoda::cuda
