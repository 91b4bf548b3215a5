// Token sampling from logits: penalties, temperature, top-k, top-p, min-p, then a draw from a
// seeded generator (same seed and inputs, same tokens). temperature <= 0 means greedy argmax.
// Order: penalties -> temperature -> top-k -> top-p -> min-p -> draw (as vLLM applies them).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace pagoda {

struct SamplingParams {
  float temperature = 0.8f;
  int32_t top_k = 40;           // <= 0: off
  float top_p = 0.95f;          // >= 1: off
  float min_p = 0.05f;          // <= 0: off
  float repetition_penalty = 1.0f;  // CTRL-style, over the last penalty_last_n tokens
  float presence_penalty = 0.0f;    // OpenAI-style, over the generated tokens
  float frequency_penalty = 0.0f;
  int32_t penalty_last_n = 64;
  uint64_t seed = 0;
  bool has_seed = false;  // without a seed, draw one from the OS

  void validate() const;  // throws pagoda::Error on out-of-range values
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  // logits [V] are modified in place. `history` is every token so far (prompt + generated);
  // `generated_from` is where the generated part begins (presence/frequency count only those).
  int32_t sample(std::span<float> logits, std::span<const int32_t> history, size_t generated_from);

  const SamplingParams& params() const { return params_; }

 private:
  void apply_penalties(std::span<float> logits, std::span<const int32_t> history, size_t generated_from);
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

int32_t argmax(std::span<const float> logits);

}  // namespace pagoda
