#include "runtime/session.hpp"

#include <algorithm>
#include <numeric>

#include "core/error.hpp"

namespace pagoda {

Session::Session(Model& model, int64_t max_batch_tokens) : model_(model), max_batch_tokens_(max_batch_tokens) {
  PAGODA_CHECK(max_batch_tokens > 0, "batch size must be positive");
  // The single sequence owns pages 0..N-1 in order.
  batch_.max_pages_per_seq = static_cast<int32_t>(model_.num_pages());
  batch_.block_table.resize(static_cast<size_t>(model_.num_pages()));
  std::iota(batch_.block_table.begin(), batch_.block_table.end(), 0);
  batch_.cu_seqlens_q = {0, 0};
  batch_.kv_lens = {0};
}

void Session::run_chunk(std::span<const int32_t> chunk, bool all_logits, float* out) {
  const int64_t T = static_cast<int64_t>(chunk.size());
  const int64_t start = size();
  PAGODA_CHECK(start + T <= capacity(), "context is full: {} cached + {} new tokens exceed the KV cache of {} tokens",
               start, T, capacity());
  batch_.tokens.assign(chunk.begin(), chunk.end());
  batch_.positions.resize(static_cast<size_t>(T));
  batch_.slot_mapping.resize(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    batch_.positions[static_cast<size_t>(t)] = static_cast<int32_t>(start + t);
    batch_.slot_mapping[static_cast<size_t>(t)] = start + t;  // page p = pos / P holds slot pos % P
  }
  batch_.cu_seqlens_q[1] = static_cast<int32_t>(T);
  batch_.kv_lens[0] = static_cast<int32_t>(start + T);
  batch_.logit_rows.clear();
  if (all_logits) {
    for (int64_t t = 0; t < T; ++t) batch_.logit_rows.push_back(static_cast<int32_t>(t));
  } else {
    batch_.logit_rows.push_back(static_cast<int32_t>(T - 1));
  }
  model_.forward(batch_, out);
  tokens_.insert(tokens_.end(), chunk.begin(), chunk.end());
}

const std::vector<float>& Session::eval(std::span<const int32_t> tokens) {
  PAGODA_CHECK(!tokens.empty(), "nothing to evaluate");
  last_logits_.resize(static_cast<size_t>(model_.config().vocab_size));
  for (size_t i = 0; i < tokens.size(); i += static_cast<size_t>(max_batch_tokens_)) {
    const size_t n = std::min(tokens.size() - i, static_cast<size_t>(max_batch_tokens_));
    run_chunk(tokens.subspan(i, n), false, last_logits_.data());
  }
  return last_logits_;
}

std::vector<float> Session::eval_all(std::span<const int32_t> tokens) {
  const size_t V = static_cast<size_t>(model_.config().vocab_size);
  std::vector<float> out(tokens.size() * V);
  for (size_t i = 0; i < tokens.size(); i += static_cast<size_t>(max_batch_tokens_)) {
    const size_t n = std::min(tokens.size() - i, static_cast<size_t>(max_batch_tokens_));
    run_chunk(tokens.subspan(i, n), true, out.data() + i * V);
  }
  return out;
}

void Session::truncate(int64_t n) {
  PAGODA_CHECK(n >= 0 && n <= size(), "cannot truncate {} cached tokens to {}", size(), n);
  tokens_.resize(static_cast<size_t>(n));
}

}  // namespace pagoda
