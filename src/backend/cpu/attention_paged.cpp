// Paged attention driver: validates the batch against the cache (so kernels never read outside it),
// then runs (sequence, KV head, query block) work items in parallel with the ISA's item kernel.
#include <array>
#include <cmath>
#include <vector>

#include "backend/cpu/kernels.hpp"
#include "backend/cpu/ops.hpp"
#include "core/error.hpp"
#include "core/threads.hpp"

namespace pagoda::cpu {

namespace {
constexpr int32_t kQueryBlock = 16;  // query tokens per item: enough rows to reuse each K/V chunk

void check_attention(int64_t H, const PagedKvView& cache, const AttentionBatch& bt) {
  const PagedKvLayout& L = cache.layout;
  PAGODA_CHECK(L.page_size > 0 && L.num_kv_heads > 0 && L.head_dim > 0, "attention: bad cache layout");
  PAGODA_CHECK(H > 0 && H % L.num_kv_heads == 0, "attention: {} query heads are not a multiple of {} KV heads", H,
               L.num_kv_heads);
  PAGODA_CHECK(L.dtype == DType::DTYPE_F32 || L.dtype == DType::DTYPE_F16 || L.dtype == DType::DTYPE_BF16,
               "attention: KV cache type {} is not supported", dtype_info(L.dtype).name);
  PAGODA_CHECK(std::isfinite(bt.scale), "attention: scale must be finite");
  if (bt.num_seqs == 0) return;
  PAGODA_CHECK(bt.num_seqs > 0 && bt.cu_seqlens_q && bt.kv_lens && bt.block_table, "attention: incomplete batch");
  PAGODA_CHECK(cache.k && cache.v, "attention: cache has no data");
  PAGODA_CHECK(bt.cu_seqlens_q[0] == 0, "attention: cu_seqlens_q must start at 0");
  for (int32_t b = 0; b < bt.num_seqs; ++b) {
    const int64_t q_len = int64_t(bt.cu_seqlens_q[b + 1]) - bt.cu_seqlens_q[b], kv_len = bt.kv_lens[b];
    PAGODA_CHECK(q_len >= 0 && kv_len >= q_len, "attention: sequence {} has {} queries but {} cached tokens", b,
                 q_len, kv_len);
    if (q_len == 0) continue;
    const int64_t pages = (kv_len + L.page_size - 1) / L.page_size;
    PAGODA_CHECK(pages <= bt.max_pages_per_seq, "attention: sequence {} needs {} pages, block table has {}", b, pages,
                 bt.max_pages_per_seq);
    for (int64_t p = 0; p < pages; ++p) {
      const int32_t id = bt.block_table[int64_t(b) * bt.max_pages_per_seq + p];
      PAGODA_CHECK(id >= 0 && id < cache.num_pages, "attention: sequence {} page {} is {}, cache has {} pages", b, p,
                   id, cache.num_pages);
    }
  }
}
}  // namespace

void attention_paged_with(const CpuKernels& kr, const float* q, int64_t H, const PagedKvView& cache,
                          const AttentionBatch& batch, float* out, float* lse) {
  check_attention(H, cache, batch);
  thread_local std::vector<std::array<int32_t, 4>> items;  // (b, g, q_begin, q_end)
  items.clear();
  for (int32_t b = 0; b < batch.num_seqs; ++b) {
    const int32_t q_len = batch.cu_seqlens_q[b + 1] - batch.cu_seqlens_q[b];
    for (int32_t q0 = 0; q0 < q_len; q0 += kQueryBlock)
      for (int32_t g = 0; g < cache.layout.num_kv_heads; ++g)
        items.push_back({b, g, q0, std::min(q_len, q0 + kQueryBlock)});
  }
  const AttentionArgs args{q, H, &cache, &batch, out, lse};
  const int64_t n = static_cast<int64_t>(items.size());
  const auto* it = items.data();
#pragma omp parallel for num_threads(threads_get()) schedule(dynamic, 1) if (n > 1)
  for (int64_t i = 0; i < n; ++i) kr.attention_item(args, it[i][0], it[i][1], it[i][2], it[i][3]);
}

void attention_paged(const float* q, int64_t H, const PagedKvView& cache, const AttentionBatch& batch, float* out,
                     float* lse) {
  attention_paged_with(kernels_active(), q, H, cache, batch, out, lse);
}

}  // namespace pagoda::cpu
