#include "runtime/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "core/error.hpp"

namespace pagoda {

void SamplingParams::validate() const {
  PAGODA_CHECK(std::isfinite(temperature) && temperature >= 0.0f && temperature <= 100.0f,
               "temperature must be between 0 and 100, got {}", temperature);
  PAGODA_CHECK(std::isfinite(top_p) && top_p > 0.0f && top_p <= 1.0f, "top_p must be in (0, 1], got {}", top_p);
  PAGODA_CHECK(std::isfinite(min_p) && min_p >= 0.0f && min_p <= 1.0f, "min_p must be in [0, 1], got {}", min_p);
  PAGODA_CHECK(std::isfinite(repetition_penalty) && repetition_penalty > 0.0f && repetition_penalty <= 10.0f,
               "repetition penalty must be in (0, 10], got {}", repetition_penalty);
  PAGODA_CHECK(std::isfinite(presence_penalty) && std::fabs(presence_penalty) <= 2.0f,
               "presence penalty must be in [-2, 2], got {}", presence_penalty);
  PAGODA_CHECK(std::isfinite(frequency_penalty) && std::fabs(frequency_penalty) <= 2.0f,
               "frequency penalty must be in [-2, 2], got {}", frequency_penalty);
  PAGODA_CHECK(penalty_last_n >= 0, "penalty window must be >= 0");
}

int32_t argmax(std::span<const float> logits) {
  PAGODA_ASSERT(!logits.empty());
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(const SamplingParams& params) : params_(params) {
  params_.validate();
  if (params_.has_seed) {
    device_seed_ = params_.seed;
  } else {
    std::random_device rd;
    device_seed_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  rng_.seed(params_.has_seed ? params_.seed : device_seed_);
}

std::vector<PenaltyEntry> penalty_entries(const SamplingParams& params, std::span<const int32_t> history,
                                          size_t generated_from, int64_t V) {
  std::vector<PenaltyEntry> out;
  if (params.repetition_penalty != 1.0f && params.penalty_last_n > 0) {
    const size_t start = history.size() > static_cast<size_t>(params.penalty_last_n)
                             ? history.size() - static_cast<size_t>(params.penalty_last_n)
                             : 0;
    for (size_t i = start; i < history.size(); ++i)
      if (history[i] >= 0 && history[i] < V) out.push_back({history[i], true, 0.0f});
  }
  std::vector<std::pair<int32_t, int32_t>> counts;  // (token, times generated)
  if (params.presence_penalty != 0.0f || params.frequency_penalty != 0.0f) {
    for (size_t i = std::min(generated_from, history.size()); i < history.size(); ++i)
      if (history[i] >= 0 && history[i] < V) counts.emplace_back(history[i], 1);
    std::sort(counts.begin(), counts.end());
    size_t w = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      if (w > 0 && counts[w - 1].first == counts[i].first) {
        ++counts[w - 1].second;
      } else {
        counts[w++] = counts[i];
      }
    }
    counts.resize(w);
    for (auto [t, n] : counts)
      out.push_back({t, false, params.presence_penalty + params.frequency_penalty * static_cast<float>(n)});
  }
  std::sort(out.begin(), out.end(), [](const PenaltyEntry& a, const PenaltyEntry& b) {
    return a.token < b.token || (a.token == b.token && a.repetition > b.repetition);
  });
  size_t w = 0;  // merge: one entry per token (repetition flag from the window, subtract from counts)
  for (size_t i = 0; i < out.size(); ++i) {
    if (w > 0 && out[w - 1].token == out[i].token) {
      out[w - 1].repetition |= out[i].repetition;
      if (!out[i].repetition) out[w - 1].subtract = out[i].subtract;
    } else {
      out[w++] = out[i];
    }
  }
  out.resize(w);
  return out;
}

void apply_penalties(std::span<float> logits, std::span<const PenaltyEntry> entries, float repetition_penalty) {
  for (const PenaltyEntry& e : entries) {
    float& l = logits[static_cast<size_t>(e.token)];
    if (e.repetition) l = l > 0 ? l / repetition_penalty : l * repetition_penalty;
    l -= e.subtract;
  }
}

void sampling_filter(const SamplingParams& params, std::span<const float> logits,
                     std::vector<std::pair<float, int32_t>>& candidates) {
  PAGODA_ASSERT(params.temperature > 0.0f);
  const float inv_t = 1.0f / params.temperature;
  candidates.clear();
  candidates.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    if (std::isfinite(logits[i]) || logits[i] > 0) candidates.emplace_back(logits[i] * inv_t, static_cast<int32_t>(i));
  PAGODA_CHECK(!candidates.empty(), "all logits are -inf or NaN");
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };

  size_t n = candidates.size();
  if (params.top_k > 0 && static_cast<size_t>(params.top_k) < n) {
    n = static_cast<size_t>(params.top_k);
    std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(n), candidates.end(), by_logit);
  } else {
    std::sort(candidates.begin(), candidates.end(), by_logit);
  }
  candidates.resize(n);

  // Softmax over the survivors (sorted, so the max is first).
  const float max_l = candidates[0].first;
  double sum = 0.0;
  for (auto& c : candidates) {
    c.first = std::exp(c.first - max_l);
    sum += c.first;
  }
  for (auto& c : candidates) c.first = static_cast<float>(c.first / sum);

  if (params.top_p < 1.0f) {
    double cum = 0.0;
    size_t keep = candidates.size();
    for (size_t i = 0; i < candidates.size(); ++i) {
      cum += candidates[i].first;
      if (cum >= params.top_p) {
        keep = i + 1;
        break;
      }
    }
    candidates.resize(keep);
  }
  if (params.min_p > 0.0f) {
    const float threshold = params.min_p * candidates[0].first;
    size_t keep = 1;
    while (keep < candidates.size() && candidates[keep].first >= threshold) ++keep;
    candidates.resize(keep);
  }
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history, size_t generated_from) {
  const std::vector<PenaltyEntry> entries = penalty_entries(params_, history, generated_from,
                                                            static_cast<int64_t>(logits.size()));
  apply_penalties(logits, entries, params_.repetition_penalty);
  if (params_.temperature <= 0.0f) return argmax(logits);
  sampling_filter(params_, logits, candidates_);

  double total = 0.0;
  for (const auto& c : candidates_) total += c.first;
  std::uniform_real_distribution<double> uniform(0.0, total);
  double r = uniform(rng_);
  for (const auto& c : candidates_) {
    r -= c.first;
    if (r <= 0.0) return c.second;
  }
  return candidates_.back().second;
}

}  // namespace pagoda
