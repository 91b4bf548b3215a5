// One conversation's state on a model: the tokens whose K/V are cached and the pages that hold
// them. It turns "evaluate these tokens" into ForwardBatch steps (prompts in chunks of at most
// `max_batch_tokens`). Single-sequence; batching many sequences is the scheduler's job.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/model.hpp"

namespace pagoda {

class Session {
 public:
  Session(Model& model, int64_t max_batch_tokens = 512);

  // Evaluates `tokens` after the cached ones; returns the logits [V] of the last token.
  const std::vector<float>& eval(std::span<const int32_t> tokens);
  // Evaluates `tokens` and returns logits for every one of them: [T, V].
  std::vector<float> eval_all(std::span<const int32_t> tokens);

  // Keeps only the first n cached tokens (n <= size()), e.g. to reuse a shared chat prefix.
  void truncate(int64_t n);
  void reset() { truncate(0); }

  const std::vector<int32_t>& tokens() const { return tokens_; }
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  int64_t capacity() const { return model_.num_pages() * model_.page_size(); }
  Model& model() { return model_; }

 private:
  void run_chunk(std::span<const int32_t> chunk, bool all_logits, float* out);
  Model& model_;
  int64_t max_batch_tokens_;
  std::vector<int32_t> tokens_;
  std::vector<float> last_logits_;
  ForwardBatch batch_;
};

}  // namespace pagoda
