// Token sampling from logits: penalties, temperature, top-k, top-p, min-p, then a draw from a
// seeded generator (same seed and inputs, same tokens). temperature <= 0 means greedy argmax.
// Order: penalties -> temperature -> top-k -> top-p -> min-p -> draw (as vLLM applies them).
// The steps before the draw are callable on their own (penalty_entries, apply_penalties,
// sampling_filter): the independent reference for the on-device sampler, whose draw differs.
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

// One token's logit adjustment from the request's history: the CTRL repetition penalty when it is
// in the last penalty_last_n tokens, then `subtract` = presence + frequency * (times generated).
struct PenaltyEntry {
  int32_t token = 0;
  bool repetition = false;
  float subtract = 0.0f;
};

// The adjustments for `history` (prompt + generated; generated from `generated_from`), one entry
// per distinct token id in [0, V) that has any, sorted by token id. Empty when no penalty is set.
std::vector<PenaltyEntry> penalty_entries(const SamplingParams& params, std::span<const int32_t> history,
                                          size_t generated_from, int64_t V);
// logits [V]: l = l > 0 ? l / repetition_penalty : l * repetition_penalty (repetition entries),
// then l -= subtract.
void apply_penalties(std::span<float> logits, std::span<const PenaltyEntry> entries, float repetition_penalty);

// The distribution the draw samples from, for already penalized logits [V] and temperature > 0:
// `candidates` becomes (probability, token) sorted by logit descending (lower id first on ties),
// truncated by top-k, top-p and min-p; probabilities are the softmax over the top-k survivors (not
// renormalised after top-p/min-p: the draw scales by their sum). Throws when no logit is usable.
void sampling_filter(const SamplingParams& params, std::span<const float> logits,
                     std::vector<std::pair<float, int32_t>>& candidates);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  // logits [V] are modified in place. `history` is every token so far (prompt + generated);
  // `generated_from` is where the generated part begins (presence/frequency count only those).
  int32_t sample(std::span<float> logits, std::span<const int32_t> history, size_t generated_from);

  const SamplingParams& params() const { return params_; }
  // The key of this request's counter-based draws on a device: the seed when one was given,
  // otherwise one drawn from the OS at construction.
  uint64_t device_seed() const { return device_seed_; }

 private:
  SamplingParams params_;
  uint64_t device_seed_ = 0;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

int32_t argmax(std::span<const float> logits);

}  // namespace pagoda
