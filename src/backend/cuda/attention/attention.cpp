// Host side of the CUDA attention family: validates shapes (pagoda::Error on anything a caller can
// get wrong), fills the kernel params, plans Flash-Decoding splits, and calls the .cu launchers.
// Does not allocate and never synchronizes: decode steps stay capturable in a CUDA graph.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "backend/cuda/attention/attention.hpp"
#include "backend/cuda/attention/attention_launch.hpp"
#include "backend/cuda/attention/flash_prefill_sm90.hpp"
#include "backend/cuda/pdl.hpp"
#include "core/error.hpp"

namespace pagoda::cuda {
namespace {

constexpr int DECODE_DEFAULT_CTAS_PER_SM = 2;  // when the runtime cannot be asked (no device)
// A planned split of the 4-warp CTA kernel is a whole number of 64-key steps (one 16-key tile per
// warp) and at least one: at batch 1 a split of 144 keys (one warp with 3 tiles, two ring trips)
// measured 11.1 us against 9.6 us at 128 keys (H200, 2048 keys). Forced split counts keep 16.
constexpr int DECODE_SPLIT_STEP = 64;
// Split-count cost model, in key-equivalents: per-CTA fixed cost (Q load, pipeline fill, combine,
// partial write) and per-split merge cost (the last CTA reads one partial per split) for 4 real rows
// (G = 4, one query token), scaled by a CTA's real rows: the merge reads rows x splits partials. With
// 16 rows (MQA, H 32 / Hkv 1) the unscaled cost planned 128 splits at B1 64k keys (33.0 us on the
// H200; 64 measured 27.5 us); scaled it plans 54 (28.4 us), and G 8 at 8k 32 instead of 43 (10.8
// against 11.8 us; attention_notes.md, 32).
constexpr double DECODE_CTA_COST = 96.0;
constexpr double DECODE_MERGE_COST = 4.0;
constexpr double DECODE_MERGE_COST_ROWS = 4.0;
// Fixed cost of merging at all (partial write, fence, counter, the last CTA's partial loads and
// write: three more dependent L2 trips). Fitted at batch 1 (H200, graph replays): 128 keys in 1
// split 5.4 us vs 2 splits of 64 keys 7.4 us, with ~0.018 us per key of a split.
constexpr double DECODE_MERGE_FIXED_COST = 170.0;
// The warp-per-item kernel (many short KVs): chosen when every sequence's KV fits in
// DECODE_WARP_MAX_KV keys and the items fill every warp slot of the device at least once. 4 warps per
// CTA (4 KV heads of one sequence): at ragged lengths (B512, [129, 256]) 3-4% ahead of 2 warps, at
// uniform ones within 1% of it; 1 warp per CTA measured 1-6% behind (H200).
constexpr int DECODE_WARP_MAX_KV = 1024;
constexpr int DECODE_WARP_ITEM_WARPS = 4;
constexpr int DECODE_WARP_DEFAULT_CTAS_PER_SM = 8;
// The pair kernel (one CTA loads each K/V tile once for 32 rows) where a KV head has more than 16
// rows. Per key, a pair CTA with KS key streams costs DECODE_PAIR_KEY_COST x 4 / KS of a 16-row CTA
// (KS 4: 8 warps walk the split as 4 would for 16 rows; KS 2: half the warps per row; both without the
// second 16-row CTA's loads), its merge per split the 16-row cost x 32 rows / 4 x the KS scale (256
// threads merge faster than 128, not twice as fast). Only where the 16-row plan fills at least
// DECODE_PAIR_MIN_FILL of the device's CTA slots: with SMs to spare (MQA at batch 1, 108 16-row CTAs at
// 64k keys) two 16-row CTAs on two SMs beat one pair CTA on one (27.5 vs 31.8 us at 64 splits; G 8 x
// q_len 4 at 8k 15.7 vs 17.0). Fitted to 14 shapes measured on the H200 (notes 33): each gets the kernel
// measured fastest.
constexpr double DECODE_PAIR_KEY_COST = 0.7;
constexpr double DECODE_PAIR_MERGE_SCALE_KS2 = 1.0;
constexpr double DECODE_PAIR_MERGE_SCALE_KS4 = 0.75;
constexpr double DECODE_PAIR_MIN_FILL = 0.9;
constexpr int DECODE_PAIR_DEFAULT_CTAS_PER_SM_KS2 = 2;
constexpr int DECODE_PAIR_DEFAULT_CTAS_PER_SM_KS4 = 1;
// The two-level split merge (groups of ceil(n / DECODE_MERGE_GROUPS) splits merged first, on up to 8 SMs)
// costs a fixed DECODE_TWO_LEVEL_COST more (a second partial write, fence, counter and L2 trip) and the
// per-split merge cost for gs + groups instead of n partials. Fitted on the H200 (notes 35): one CTA's
// merge of MQA B1 64k (16 rows x 54-64 splits) took 8.5 us of 28; two levels won from 16 rows x 96 splits
// (64k: 128 splits 26.1 us against 32.9 in one level) and lost at 16 rows x 22-32 splits (G 8 x q_len 4
// at 8k: +3.7-4.1 us) and 4 rows x 32 (GQA 8k, 32k: +0.7, +1.3 us).
constexpr double DECODE_TWO_LEVEL_COST = 600.0;
// The keys-major kernel's one-CTA-per-SM plan (8 warps x 3-tile rings, 192 KB at D 128): from 2048 keys, where
// each item can take at least 4 splits with an SM per item to spare; a split of at least one tile per warp.
// From DECODE_KEYS_FILL_FULL_KV keys as many splits as fill the SMs (16 at B1 / Hkv 8 on 132 SMs: once the
// merge's ticket took one trip less, 16 beat 15, which left an SM per item for the next launch's CTAs while
// this one merged, by 1-2% at 8k-128k, notes 51), below it CTAs on 3/4 of the SMs (12): at batch 1
// (H 32 / Hkv 8, H200) 2k and 4k keys took 5.54 / 7.06 us at 12 splits against 5.95 / 7.67 at 15, the 16-row
// kernel's plan 6.65 / 9.35; at 1k and below the 4-warp keys-major kernel at the 16-row plan's split count was
// faster (attention_notes.md, 46).
constexpr int32_t DECODE_KEYS_FILL_MIN_KV = 2048;
constexpr int32_t DECODE_KEYS_FILL_FULL_KV = 8192;
constexpr int64_t DECODE_KEYS_FILL_MIN_SPLITS = 4;
constexpr int64_t DECODE_KEYS_FILL_STEP = 8 * DECODE_SPLIT_ALIGN;

// Merge cost of n splits at a per-split cost mc: the cheaper of one and two levels; gs: the two-level
// merge's splits per group, 0 for one level (or no merge at all, n = 1). The warp kernel has one level.
struct MergeChoice {
  double cost = 0.0;
  int32_t gs = 0;
};
MergeChoice merge_model(int64_t n, double mc, bool two_level_ok) {
  if (n <= 1) return {};
  MergeChoice best{DECODE_MERGE_FIXED_COST + mc * double(n), 0};
  if (const int32_t gs = decode_two_level_group_splits(n); two_level_ok && gs > 0) {
    const double two = DECODE_MERGE_FIXED_COST + DECODE_TWO_LEVEL_COST + mc * double(gs + (n + gs - 1) / gs);
    if (two < best.cost) best = {two, gs};
  }
  return best;
}

std::size_t align256(std::size_t n) { return (n + 255) & ~std::size_t(255); }

// Split counters at the start of the workspace: one per (sequence, KV head, 16-row group), then
// DECODE_MERGE_GROUPS per item for the two-level merge's groups. The pair kernel (32-row groups) uses the
// first half of each; sizing by 16-row groups for both kernels, and for both merges, keeps the partials at
// one offset, so plans of one shape that differ in the kernel or the merge (the model's graphs for short
// and long KV buckets) may share a workspace without one's partials landing on the other's counters.
std::size_t decode_items16(const DecodePlan& plan, const PagedKvLayout& L) {
  const int64_t groups = (int64_t(plan.max_q_len) * (plan.num_heads / L.num_kv_heads) + DECODE_ROWS_PER_CTA - 1) /
                         DECODE_ROWS_PER_CTA;
  return std::size_t(plan.num_seqs) * L.num_kv_heads * std::size_t(groups);
}
std::size_t decode_counter_bytes(const DecodePlan& plan, const PagedKvLayout& L) {
  return align256(decode_items16(plan, L) * (1 + DECODE_MERGE_GROUPS) * sizeof(int32_t));
}

// The split partials after the counters: outputs [rows][splits][D], then log2-sum-exps [rows][splits] (floats).
std::size_t decode_partial_out_bytes(int64_t splits, std::size_t rows_all, const PagedKvLayout& L) {
  return align256(std::size_t(splits) * rows_all * L.head_dim * sizeof(float));
}
std::size_t decode_partial_bytes(int64_t splits, std::size_t rows_all, const PagedKvLayout& L) {
  return decode_partial_out_bytes(splits, rows_all, L) + align256(std::size_t(splits) * rows_all * sizeof(float));
}

void cuda_check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) fail("{}: CUDA error {} ({})", what, cudaGetErrorName(err), cudaGetErrorString(err));
}

void layout_check(const PagedKvLayout& L, const char* what) {
  PAGODA_CHECK(attention_dtype_supported(L.dtype), "{}: KV dtype {} is not supported (BF16 or F16)", what,
               dtype_info(L.dtype).name);
  PAGODA_CHECK(attention_head_dim_supported(L.head_dim), "{}: head dim {} is not supported (64 or 128)", what,
               L.head_dim);
  PAGODA_CHECK(L.num_kv_heads > 0 && L.page_size > 0, "{}: empty cache layout", what);
}

AttentionParams params_make(const void* q, int32_t H, const PagedKvView& cache, const AttentionBatch& batch,
                            void* out, float* lse, const char* what) {
  const PagedKvLayout& L = cache.layout;
  layout_check(L, what);
  PAGODA_CHECK(H > 0 && H % L.num_kv_heads == 0, "{}: {} query heads is not a multiple of {} KV heads", what, H,
               L.num_kv_heads);
  PAGODA_CHECK(batch.num_seqs >= 0 && batch.num_seqs <= 65535, "{}: {} sequences (at most 65535)", what,
               batch.num_seqs);
  PAGODA_CHECK(batch.max_pages_per_seq > 0, "{}: max_pages_per_seq must be positive", what);
  PAGODA_CHECK(std::isfinite(batch.scale) && batch.scale > 0.0f, "{}: softmax scale must be positive", what);
  PAGODA_CHECK(cache.k != nullptr && cache.v != nullptr && q != nullptr && out != nullptr, "{}: null pointer", what);
  // The kernels index cache rows (page * P + slot) in 32 bits.
  PAGODA_CHECK(cache.num_pages * L.page_size < (int64_t(1) << 31), "{}: {} pages of {} slots is too many", what,
               cache.num_pages, L.page_size);
  AttentionParams p;
  p.q = q;
  p.k = cache.k;
  p.v = cache.v;
  p.out = out;
  p.lse = lse;
  p.cu_seqlens_q = batch.cu_seqlens_q;
  p.kv_lens = batch.kv_lens;
  p.block_table = batch.block_table;
  p.num_seqs = batch.num_seqs;
  p.max_pages = batch.max_pages_per_seq;
  p.num_heads = H;
  p.num_kv_heads = L.num_kv_heads;
  p.group = H / L.num_kv_heads;
  p.page_size = L.page_size;
  p.scale_log2 = batch.scale * 1.4426950408889634f;
  p.causal = batch.causal;
  return p;
}

}  // namespace

void kv_append(const PagedKvView& cache, const void* k, const void* v, int64_t T, const int64_t* slot_mapping,
               const RopeArgs* rope, cudaStream_t stream) {
  const PagedKvLayout& L = cache.layout;
  layout_check(L, "kv_append");
  PAGODA_CHECK(T >= 0 && T * L.num_kv_heads * L.head_dim < (int64_t(1) << 40),
               "kv_append: bad token count {}", T);
  if (T == 0) return;
  KvAppendParams p;
  p.k = k;
  p.v = v;
  p.k_cache = cache.k;
  p.v_cache = cache.v;
  p.slot_mapping = slot_mapping;
  p.num_tokens = T;
  p.num_kv_heads = L.num_kv_heads;
  p.head_dim = L.head_dim;
  if (rope != nullptr) {
    PAGODA_CHECK(rope->rope_dim > 0 && rope->rope_dim % 2 == 0 && rope->rope_dim <= L.head_dim,
                 "kv_append: rope_dim {} must be even and within head dim {}", rope->rope_dim, L.head_dim);
    PAGODA_CHECK(rope->positions != nullptr && rope->inv_freq != nullptr, "kv_append: RoPE needs positions and inv_freq");
    p.positions = rope->positions;
    p.inv_freq = rope->inv_freq;
    p.rope_dim = rope->rope_dim;
    p.interleaved = rope->interleaved;
  }
  cuda_check(kv_append_launch(p, L.dtype, stream), "kv_append");
}

static_assert(PREFILL_WORKSPACE_BYTES >= PREFILL_SM90_WORK_COUNTERS * sizeof(int32_t));

void prefill_workspace_init(void* workspace, cudaStream_t stream) {
  PAGODA_CHECK(workspace != nullptr, "prefill_workspace_init: null workspace");
  cuda_check(cudaMemsetAsync(workspace, 0, PREFILL_WORKSPACE_BYTES, stream), "prefill_workspace_init");
}

void attention_prefill_variant(const void* q, int32_t H, const PagedKvView& cache, const AttentionBatch& batch,
                               int32_t max_q_len, void* out, float* lse, int32_t key_tile,
                               const PrefillWorkspace& workspace, cudaStream_t stream) {
  const AttentionParams p = params_make(q, H, cache, batch, out, lse, "attention_prefill");
  // Checked on every device, so a caller that forgets the workspace fails on its first test run.
  PAGODA_CHECK(workspace.ptr != nullptr && reinterpret_cast<std::uintptr_t>(workspace.ptr) % alignof(int32_t) == 0,
               "attention_prefill: the workspace must be PREFILL_WORKSPACE_BYTES of 4-byte aligned device memory");
  PAGODA_CHECK(max_q_len >= 0, "attention_prefill: negative max_q_len");
  PAGODA_CHECK(int64_t(max_q_len) * p.group < (int64_t(1) << 36), "attention_prefill: too many query rows");
  const bool force_sm90 = key_tile == PREFILL_SM90_KEY_TILE || key_tile == PREFILL_SM90_KEY_TILE_OVERLAP;
  PAGODA_CHECK(key_tile == 0 || key_tile == 32 || key_tile == 64 || force_sm90,
               "attention_prefill: key tile {} (0, 32, 64, or {} / {} for the sm_90a kernel)", key_tile,
               PREFILL_SM90_KEY_TILE, PREFILL_SM90_KEY_TILE_OVERLAP);
  const DType dt = cache.layout.dtype;
  const int hd = cache.layout.head_dim;
  PAGODA_CHECK(!force_sm90 || prefill_sm90_available(dt, hd),
               "attention_prefill: the sm_90a kernel needs a compute capability 9.0 device and an sm_90a build");
  if (batch.num_seqs == 0 || max_q_len == 0) return;
  // The Hopper kernel serves the shapes it was measured on (prefill_sm90_selected); the rest, and
  // every other device, keep the mma.sync kernel.
  if (force_sm90 || (key_tile == 0 && prefill_sm90_selected(dt, hd))) {
    cuda_check(prefill_sm90_launch(p, cache.num_pages * cache.layout.page_size, dt, hd, max_q_len,
                                   key_tile == PREFILL_SM90_KEY_TILE_OVERLAP, static_cast<int*>(workspace.ptr),
                                   !workspace.initialized, stream),
               "attention_prefill");
    return;
  }
  cuda_check(prefill_launch(p, dt, hd, max_q_len, stream, key_tile), "attention_prefill");
}

void attention_prefill(const void* q, int32_t H, const PagedKvView& cache, const AttentionBatch& batch,
                       int32_t max_q_len, void* out, float* lse, const PrefillWorkspace& workspace,
                       cudaStream_t stream) {
  attention_prefill_variant(q, H, cache, batch, max_q_len, out, lse, 0, workspace, stream);
}

DecodePlan decode_plan(int32_t num_seqs, int32_t H, const PagedKvLayout& layout, int32_t max_q_len,
                       int32_t max_kv_len, int32_t num_sms, int32_t forced_splits, int32_t forced_item_warps,
                       int32_t forced_rows_per_cta) {
  layout_check(layout, "decode_plan");
  PAGODA_CHECK(num_seqs > 0 && num_seqs <= 65535 && H > 0 && H % layout.num_kv_heads == 0,
               "decode_plan: bad shape (B {}, H {}, Hkv {})", num_seqs, H, layout.num_kv_heads);
  PAGODA_CHECK(max_q_len >= 1 && max_kv_len >= max_q_len, "decode_plan: need 1 <= q_len ({}) <= kv_len ({})",
               max_q_len, max_kv_len);
  PAGODA_CHECK(num_sms > 0, "decode_plan: num_sms must be positive");
  PAGODA_CHECK(forced_splits >= 0, "decode_plan: negative forced split count");
  PAGODA_CHECK(forced_item_warps < 0 || decode_item_warps_supported(forced_item_warps),
               "decode_plan: item warps {} (0, 1, 2 or 4)", forced_item_warps);
  PAGODA_CHECK(forced_rows_per_cta == 0 || forced_rows_per_cta == DECODE_ROWS_PER_CTA ||
                   (forced_rows_per_cta == DECODE_PAIR_ROWS_PER_CTA && forced_item_warps <= 0),
               "decode_plan: rows per CTA {} (16, or 32 without the warp kernel)", forced_rows_per_cta);
  DecodePlan plan;
  plan.num_seqs = num_seqs;
  plan.num_heads = H;
  plan.max_q_len = max_q_len;
  const int64_t rows = int64_t(max_q_len) * (H / layout.num_kv_heads);
  plan.rows_per_cta = DECODE_ROWS_PER_CTA;
  plan.row_groups = int32_t((rows + DECODE_ROWS_PER_CTA - 1) / DECODE_ROWS_PER_CTA);
  PAGODA_CHECK(int64_t(plan.row_groups) * layout.num_kv_heads <= 65535, "decode_plan: too many query rows");
  const int64_t items = int64_t(num_seqs) * layout.num_kv_heads * plan.row_groups;
  // Kernel: short KVs in numbers that fill the device go one warp per item; the 4-warp CTA kernel
  // otherwise (a long item needs its 4 warps' rings to keep enough bytes in flight).
  auto warp_slots = [&](int item_warps) {
    int occ = decode_ctas_per_sm(layout.dtype, layout.head_dim, item_warps);
    if (occ <= 0) occ = DECODE_WARP_DEFAULT_CTAS_PER_SM / item_warps;
    return int64_t(num_sms) * occ * item_warps;
  };
  if (forced_item_warps >= 0) {
    plan.item_warps = forced_item_warps;
  } else if (forced_rows_per_cta != DECODE_PAIR_ROWS_PER_CTA && max_kv_len <= DECODE_WARP_MAX_KV &&
             items >= warp_slots(DECODE_WARP_ITEM_WARPS)) {
    plan.item_warps = DECODE_WARP_ITEM_WARPS;
  }
  // Items per warp stay 1: running 2 items back to back through one ring measured +1-2% at uniform
  // lengths (B512 ctx 192, B1024 ctx 160) and -3% at ragged ones (B512, [129, 256]): fewer, longer
  // warps leave a longer tail when lengths differ (dev/kernels/attention_notes.md, decode v13).
  // Split count (4-warp CTA kernel) from a cost model in units of keys: a wave is every SM holding
  // as many decode CTAs as fit (asked of the runtime); time ~ waves * (keys per split + per-CTA fixed
  // cost), plus, with more than one split, a fixed merge cost and one per split (the last CTA reads
  // every partial). A half-empty last wave
  // costs as much as a full one, so the split count that fills whole waves wins; ties go to fewer
  // splits.
  // With more than 16 rows per KV head the same model also prices the pair kernel (32 rows per CTA,
  // 2 or 4 key streams: its own occupancy, per-key and merge costs), and the cheapest plan wins.
  struct SplitChoice {
    int64_t splits = 1, tokens = 0;
    double cost = 0.0;
    double merge_cost = 0.0;  // per split, for the final merge choice
  };
  auto choose_splits = [&](int64_t n_items, int64_t wave, double key_cost, double merge_cost) {
    const int64_t max_splits = std::max<int64_t>(
        1, std::min<int64_t>((max_kv_len + DECODE_SPLIT_STEP - 1) / DECODE_SPLIT_STEP, 2 * wave));
    SplitChoice best;
    for (int64_t s = 1; s <= max_splits; ++s) {
      // The split length this count gives once rounded to whole 64-key steps, and the splits it makes.
      const int64_t per = ((int64_t(max_kv_len) + s - 1) / s + DECODE_SPLIT_STEP - 1) / DECODE_SPLIT_STEP *
                          DECODE_SPLIT_STEP;
      const int64_t n = (int64_t(max_kv_len) + per - 1) / per;
      const int64_t waves = (n_items * n + wave - 1) / wave;
      const double cost = double(waves) * (double(per) * key_cost + DECODE_CTA_COST) +
                          merge_model(n, merge_cost, plan.item_warps == 0).cost;
      if (s == 1 || cost < best.cost * 0.98) best = {n, per, cost, merge_cost};
    }
    return best;
  };
  int occ = decode_ctas_per_sm(layout.dtype, layout.head_dim, 0);
  if (occ <= 0) occ = DECODE_DEFAULT_CTAS_PER_SM;
  const int64_t wave = int64_t(num_sms) * occ;
  SplitChoice choice;
  if (forced_rows_per_cta != DECODE_PAIR_ROWS_PER_CTA)
    choice = choose_splits(items, wave, 1.0,
                           DECODE_MERGE_COST * double(std::min<int64_t>(rows, DECODE_ROWS_PER_CTA)) /
                               DECODE_MERGE_COST_ROWS);
  const bool fills = double(items * choice.splits) >= DECODE_PAIR_MIN_FILL * double(wave);
  if (plan.item_warps == 0 && (forced_rows_per_cta == DECODE_PAIR_ROWS_PER_CTA ||
                               (forced_rows_per_cta == 0 && rows > DECODE_ROWS_PER_CTA && fills))) {
    const int64_t blocks = (rows + DECODE_PAIR_ROWS_PER_CTA - 1) / DECODE_PAIR_ROWS_PER_CTA;
    const int64_t pair_items = int64_t(num_seqs) * layout.num_kv_heads * blocks;
    for (int ks : {2, 4}) {
      int pocc = decode_ctas_per_sm(layout.dtype, layout.head_dim, 0, ks);
      if (pocc <= 0) pocc = ks == 2 ? DECODE_PAIR_DEFAULT_CTAS_PER_SM_KS2 : DECODE_PAIR_DEFAULT_CTAS_PER_SM_KS4;
      const double merge_cost = DECODE_MERGE_COST *
                                double(std::min<int64_t>(rows, DECODE_PAIR_ROWS_PER_CTA)) / DECODE_MERGE_COST_ROWS *
                                (ks == 2 ? DECODE_PAIR_MERGE_SCALE_KS2 : DECODE_PAIR_MERGE_SCALE_KS4);
      const SplitChoice c =
          choose_splits(pair_items, int64_t(num_sms) * pocc, DECODE_PAIR_KEY_COST * 4.0 / ks, merge_cost);
      const bool forced_first = plan.key_streams == 0 && forced_rows_per_cta == DECODE_PAIR_ROWS_PER_CTA;
      if (forced_first || c.cost < choice.cost) {
        choice = c;
        plan.rows_per_cta = DECODE_PAIR_ROWS_PER_CTA;
        plan.row_groups = int32_t(blocks);
        plan.key_streams = ks;
      }
    }
  }
  int64_t splits = choice.splits;
  const int64_t planned_tokens = choice.tokens;
  // The warp kernel runs unsplit: it is chosen only when its items fill the device, and measured
  // with 2-3 forced splits at B256-512, ctx 192-512 (uniform and ragged) it lost 15-45% to the
  // extra partials and merges.
  if (plan.item_warps > 0) splits = 1;
  if (forced_splits > 0) splits = forced_splits;
  splits = std::clamp<int64_t>(splits, 1, max_kv_len);
  int64_t split_tokens = (max_kv_len + splits - 1) / splits;
  split_tokens = (split_tokens + DECODE_SPLIT_ALIGN - 1) / DECODE_SPLIT_ALIGN * DECODE_SPLIT_ALIGN;
  if (plan.item_warps == 0 && forced_splits == 0 && splits > 1) split_tokens = planned_tokens;
  splits = (max_kv_len + split_tokens - 1) / split_tokens;
  PAGODA_CHECK(splits <= 65535, "decode_plan: too many splits");
  plan.num_splits = int32_t(splits);
  plan.split_tokens = int32_t(split_tokens);
  // One merge level or two, by the same model at the final (maybe forced) split count.
  plan.merge_group_splits = merge_model(splits, choice.merge_cost, plan.item_warps == 0).gs;
  // The keys-major kernel takes the 16-row kernel's shapes with at most 8 rows per KV head (unless a kernel was
  // forced): 4 warps at the same split count, or, for a few long items, 8 warps (one CTA per SM) with splits
  // over 3/4 of the SMs (2k-8k keys) or all of them (from 8k). With 9-16 rows (its two-n-tile form) only where
  // the 16-row plan splits: unsplit batches of them (B64 2k, B128 1k at q_len 4) ran 0.9-1.4% faster on the
  // 16-row kernel, split ones 0.7-18% slower (attention_notes.md, 52).
  if (forced_item_warps < 0 && forced_rows_per_cta == 0 && plan.item_warps == 0 &&
      plan.rows_per_cta == DECODE_ROWS_PER_CTA &&
      (rows <= DECODE_KEYS_NTILE_ROWS || (rows <= DECODE_KEYS_MAX_ROWS && splits > 1))) {
    plan.merge_group_splits = 0;  // one merge level
    const int64_t fill_splits = (int64_t(num_sms) - items) / std::max<int64_t>(items, 1);
    plan.keys_stages = 3;
    if (max_kv_len >= DECODE_KEYS_FILL_MIN_KV && fill_splits >= DECODE_KEYS_FILL_MIN_SPLITS) {
      plan.keys_warps = 8;
      if (forced_splits == 0) {
        const int64_t want =
            max_kv_len < DECODE_KEYS_FILL_FULL_KV ? int64_t(num_sms) * 3 / 4 / items : int64_t(num_sms) / items;
        const int64_t n = std::clamp<int64_t>(want, 1, (max_kv_len + DECODE_KEYS_FILL_STEP - 1) / DECODE_KEYS_FILL_STEP);
        const int64_t per = ((max_kv_len + n - 1) / n + DECODE_SPLIT_ALIGN - 1) / DECODE_SPLIT_ALIGN * DECODE_SPLIT_ALIGN;
        plan.split_tokens = int32_t(per);
        plan.num_splits = int32_t((max_kv_len + per - 1) / per);
        splits = plan.num_splits;
      }
    } else {
      plan.keys_warps = 4;
    }
  }
  plan.total_q_tokens = int64_t(num_seqs) * max_q_len;
  if (plan.num_splits > 1) {
    const std::size_t rows_all = std::size_t(plan.total_q_tokens) * H;
    plan.workspace_bytes = decode_counter_bytes(plan, layout) + decode_partial_bytes(splits, rows_all, layout);
  }
  return plan;
}

void decode_workspace_init(void* workspace, std::size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return;
  PAGODA_CHECK(workspace != nullptr, "decode_workspace_init: null workspace");
  cuda_check(cudaMemsetAsync(workspace, 0, bytes, stream), "decode_workspace_init");
}

void attention_decode(const DecodePlan& plan, const void* q, const PagedKvView& cache, const AttentionBatch& batch,
                      void* out, float* lse, void* workspace, cudaStream_t stream) {
  PAGODA_CHECK(batch.num_seqs == plan.num_seqs, "attention_decode: plan made for {} sequences, batch has {}",
               plan.num_seqs, batch.num_seqs);
  const bool pair = plan.rows_per_cta == DECODE_PAIR_ROWS_PER_CTA;
  PAGODA_CHECK(plan.num_splits >= 1 && plan.split_tokens > 0 && plan.split_tokens % DECODE_SPLIT_ALIGN == 0 &&
                   (plan.rows_per_cta == DECODE_ROWS_PER_CTA || pair) && decode_item_warps_supported(plan.item_warps) &&
                   plan.items_per_warp >= 1 && plan.items_per_warp <= 8 &&
                   (pair ? plan.item_warps == 0 && decode_key_streams_supported(plan.key_streams)
                         : plan.key_streams == 0) &&
                   (plan.merge_group_splits == 0 ||
                    (plan.merge_group_splits > 0 && plan.item_warps == 0 &&
                     plan.num_splits > DECODE_MERGE_GROUPS &&
                     (int64_t(plan.num_splits) + plan.merge_group_splits - 1) / plan.merge_group_splits <=
                         DECODE_MERGE_GROUPS)),
               "attention_decode: plan was not made by decode_plan");
  DecodeParams dp;
  dp.attn = params_make(q, plan.num_heads, cache, batch, out, lse, "attention_decode");
  PAGODA_CHECK(int64_t(plan.row_groups) * plan.rows_per_cta >= int64_t(plan.max_q_len) * dp.attn.group,
               "attention_decode: plan made for another head grouping");
  dp.num_splits = plan.num_splits;
  dp.split_tokens = plan.split_tokens;
  dp.row_groups = plan.row_groups;
  dp.items_per_warp = plan.items_per_warp;
  dp.programmatic_launch = plan.programmatic_launch && pdl_enabled();
  const std::size_t rows_all = std::size_t(plan.total_q_tokens) * plan.num_heads;
  if (plan.num_splits > 1) {
    PAGODA_CHECK(workspace != nullptr, "attention_decode: plan needs {} bytes of workspace", plan.workspace_bytes);
    char* ws = static_cast<char*>(workspace);
    const std::size_t counter_bytes = decode_counter_bytes(plan, cache.layout);
    dp.counters = reinterpret_cast<int32_t*>(ws);
    dp.group_counters = dp.counters + decode_items16(plan, cache.layout);
    dp.merge_group_splits = plan.merge_group_splits;
    dp.partial_out = reinterpret_cast<float*>(ws + counter_bytes);
    dp.partial_lse = reinterpret_cast<float*>(
        ws + counter_bytes + decode_partial_out_bytes(plan.num_splits, rows_all, cache.layout));
    if (!plan.workspace_initialized)
      cuda_check(cudaMemsetAsync(ws, 0, counter_bytes, stream), "attention_decode: counter reset");
  }
  if (plan.keys_warps != 0) {
    const int64_t rows = int64_t(plan.max_q_len) * dp.attn.group;
    PAGODA_CHECK(plan.item_warps == 0 && !pair && plan.row_groups == 1 && plan.merge_group_splits == 0 &&
                     rows <= DECODE_KEYS_MAX_ROWS,
                 "attention_decode: the keys-major kernel takes at most {} rows per KV head, one merge level",
                 DECODE_KEYS_MAX_ROWS);
    PAGODA_CHECK(decode_keys_supported(cache.layout.dtype, cache.layout.head_dim, plan.keys_warps, plan.keys_stages,
                                       int(rows)),
                 "attention_decode: no keys-major kernel with {} warps x {} ring stages for {} rows per KV head",
                 plan.keys_warps, plan.keys_stages, rows);
    dp.early_trigger = plan.early_trigger;
    cuda_check(decode_keys_launch(dp, cache.layout.dtype, cache.layout.head_dim, plan.keys_warps,
                                  decode_keys_stages(plan.keys_warps, plan.keys_stages), int(rows), stream),
               "attention_decode");
    return;
  }
  cuda_check(decode_launch(dp, cache.layout.dtype, cache.layout.head_dim, plan.item_warps, plan.key_streams,
                           plan.merge_group_splits > 0, stream),
             "attention_decode");
}

}  // namespace pagoda::cuda
