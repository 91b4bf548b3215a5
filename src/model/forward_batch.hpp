// What one forward step runs: a ragged batch of new tokens from B sequences, where their K/V go
// (slot mapping into the paged cache) and which rows need logits. Built by the runtime, read by
// the model; plain host data.
#pragma once

#include <cstdint>
#include <vector>

namespace pagoda {

struct ForwardBatch {
  std::vector<int32_t> tokens;        // [T]
  std::vector<int32_t> positions;     // [T] absolute positions
  std::vector<int64_t> slot_mapping;  // [T] page * P + slot for each token's K/V
  std::vector<int32_t> cu_seqlens_q;  // [B + 1]
  std::vector<int32_t> kv_lens;       // [B] cached tokens after this step (incl. the new ones)
  std::vector<int32_t> block_table;   // [B, max_pages_per_seq]
  int32_t max_pages_per_seq = 0;
  std::vector<int32_t> logit_rows;    // indices into [T] whose logits are wanted, in output order

  int64_t num_tokens() const { return static_cast<int64_t>(tokens.size()); }
  int32_t num_seqs() const { return static_cast<int32_t>(kv_lens.size()); }
};

// Throws pagoda::Error unless every index in the batch is in range for a model with this vocabulary
// and KV cache: token ids, positions, slots, offsets, pages and logit rows. Every backend calls it
// before launching anything, so a malformed batch can never reach a kernel.
void forward_batch_validate(const ForwardBatch& b, int64_t vocab_size, int64_t num_pages, int32_t page_size);

}  // namespace pagoda
