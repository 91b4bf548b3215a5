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
  rng_.seed(params_.has_seed ? params_.seed : std::random_device{}());
}

void Sampler::apply_penalties(std::span<float> logits, std::span<const int32_t> history, size_t generated_from) {
  const int64_t V = static_cast<int64_t>(logits.size());
  if (params_.repetition_penalty != 1.0f && params_.penalty_last_n > 0) {
    const size_t start = history.size() > static_cast<size_t>(params_.penalty_last_n)
                             ? history.size() - static_cast<size_t>(params_.penalty_last_n)
                             : 0;
    std::vector<int32_t> seen(history.begin() + static_cast<std::ptrdiff_t>(start), history.end());
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (int32_t t : seen) {
      if (t < 0 || t >= V) continue;
      float& l = logits[static_cast<size_t>(t)];
      l = l > 0 ? l / params_.repetition_penalty : l * params_.repetition_penalty;
    }
  }
  if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) {
    std::unordered_map<int32_t, int32_t> counts;
    for (size_t i = std::min(generated_from, history.size()); i < history.size(); ++i) ++counts[history[i]];
    for (auto [t, n] : counts) {
      if (t < 0 || t >= V) continue;
      logits[static_cast<size_t>(t)] -= params_.presence_penalty + params_.frequency_penalty * static_cast<float>(n);
    }
  }
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history, size_t generated_from) {
  apply_penalties(logits, history, generated_from);
  if (params_.temperature <= 0.0f) return argmax(logits);

  const float inv_t = 1.0f / params_.temperature;
  candidates_.clear();
  candidates_.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    if (std::isfinite(logits[i]) || logits[i] > 0) candidates_.emplace_back(logits[i] * inv_t, static_cast<int32_t>(i));
  PAGODA_CHECK(!candidates_.empty(), "all logits are -inf or NaN");
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };

  size_t n = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    n = static_cast<size_t>(params_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(n), candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  candidates_.resize(n);

  // Softmax over the survivors (sorted, so the max is first).
  const float max_l = candidates_[0].first;
  double sum = 0.0;
  for (auto& c : candidates_) {
    c.first = std::exp(c.first - max_l);
    sum += c.first;
  }
  for (auto& c : candidates_) c.first = static_cast<float>(c.first / sum);

  if (params_.top_p < 1.0f) {
    double cum = 0.0;
    size_t keep = candidates_.size();
    for (size_t i = 0; i < candidates_.size(); ++i) {
      cum += candidates_[i].first;
      if (cum >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
    candidates_.resize(keep);
  }
  if (params_.min_p > 0.0f) {
    const float threshold = params_.min_p * candidates_[0].first;
    size_t keep = 1;
    while (keep < candidates_.size() && candidates_[keep].first >= threshold) ++keep;
    candidates_.resize(keep);
  }

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
