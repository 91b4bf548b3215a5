// Index checks shared by every backend's forward.
#include "model/forward_batch.hpp"

#include "core/error.hpp"

namespace pagoda {

void forward_batch_validate(const ForwardBatch& b, int64_t vocab_size, int64_t num_pages, int32_t page_size) {
  const int64_t T = b.num_tokens();
  const int32_t B = b.num_seqs();
  PAGODA_CHECK(T > 0, "empty batch");
  PAGODA_CHECK(B > 0 && b.cu_seqlens_q.size() == static_cast<size_t>(B) + 1 && b.cu_seqlens_q[0] == 0 &&
                   b.cu_seqlens_q[static_cast<size_t>(B)] == T,
               "malformed batch: sequence offsets do not cover {} tokens", T);
  PAGODA_CHECK(b.positions.size() == static_cast<size_t>(T) && b.slot_mapping.size() == static_cast<size_t>(T),
               "malformed batch: positions/slots size");
  PAGODA_CHECK(b.max_pages_per_seq >= 0 &&
                   b.block_table.size() == static_cast<size_t>(B) * static_cast<size_t>(b.max_pages_per_seq),
               "malformed batch: block table size");
  const int64_t capacity = num_pages * page_size;
  for (int64_t t = 0; t < T; ++t) {
    const int32_t tok = b.tokens[static_cast<size_t>(t)];
    PAGODA_CHECK(tok >= 0 && tok < vocab_size, "token id {} outside the vocabulary (0..{})", tok, vocab_size - 1);
    PAGODA_CHECK(b.slot_mapping[static_cast<size_t>(t)] >= 0 && b.slot_mapping[static_cast<size_t>(t)] < capacity,
                 "malformed batch: KV slot out of range");
    PAGODA_CHECK(b.positions[static_cast<size_t>(t)] >= 0, "malformed batch: negative position");
  }
  for (int32_t s = 0; s < B; ++s) {
    const int32_t q_len = b.cu_seqlens_q[static_cast<size_t>(s) + 1] - b.cu_seqlens_q[static_cast<size_t>(s)];
    const int32_t kv_len = b.kv_lens[static_cast<size_t>(s)];
    PAGODA_CHECK(q_len >= 0 && kv_len >= q_len && kv_len <= static_cast<int64_t>(b.max_pages_per_seq) * page_size,
                 "malformed batch: sequence {} has {} new tokens but {} cached", s, q_len, kv_len);
    const int32_t pages = (kv_len + page_size - 1) / page_size;
    for (int32_t p = 0; p < pages; ++p) {
      const int32_t page = b.block_table[static_cast<size_t>(s) * static_cast<size_t>(b.max_pages_per_seq) + static_cast<size_t>(p)];
      PAGODA_CHECK(page >= 0 && page < num_pages, "malformed batch: page {} out of range", page);
    }
  }
  for (int32_t r : b.logit_rows) PAGODA_CHECK(r >= 0 && r < T, "malformed batch: logit row {} out of range", r);
}

}  // namespace pagoda
