// Sampler: each filter does what its definition says, and draws follow the filtered softmax
// (checked statistically against probabilities computed independently here in double); the
// filtered distribution and the penalty entries, callable on their own, against plain re-derivations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "core/error.hpp"
#include "runtime/sampler.hpp"

namespace pagoda {
namespace {

std::vector<double> softmax(const std::vector<float>& l, double t) {
  double m = -1e300;
  for (float x : l) m = std::max(m, double(x) / t);
  std::vector<double> p;
  double s = 0;
  for (float x : l) {
    p.push_back(std::exp(double(x) / t - m));
    s += p.back();
  }
  for (double& x : p) x /= s;
  return p;
}

std::map<int32_t, int> draw(SamplingParams params, const std::vector<float>& logits, int n) {
  params.has_seed = true;
  params.seed = 42;
  Sampler s(params);
  std::map<int32_t, int> counts;
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = logits;
    ++counts[s.sample(l, {}, 0)];
  }
  return counts;
}

SamplingParams plain(float temperature) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  return p;
}

TEST(Sampler, GreedyIsArgmax) {
  std::vector<float> l = {0.1f, 3.0f, -1.0f, 2.9f};
  auto c = draw(plain(0.0f), l, 10);
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c.begin()->first, 1);
}

TEST(Sampler, FollowsSoftmaxAtTemperature) {
  std::vector<float> l = {1.0f, 2.0f, 0.5f, -1.0f, 1.5f};
  const double t = 0.7;
  const int n = 40000;
  auto c = draw(plain(static_cast<float>(t)), l, n);
  std::vector<double> p = softmax(l, t);
  for (size_t i = 0; i < l.size(); ++i) {
    const double expect = p[i] * n;
    const double sd = std::sqrt(n * p[i] * (1 - p[i]));
    EXPECT_NEAR(c[static_cast<int32_t>(i)], expect, 5 * sd + 1) << "token " << i;
  }
}

TEST(Sampler, TopKKeepsOnlyTheKBest) {
  std::vector<float> l = {1.0f, 2.0f, 0.5f, -1.0f, 1.5f};
  SamplingParams p = plain(1.0f);
  p.top_k = 2;
  auto c = draw(p, l, 5000);
  for (auto [tok, n] : c) EXPECT_TRUE(tok == 1 || tok == 4) << tok;
  EXPECT_EQ(c.size(), 2u);
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
  // probabilities at t=1: token 0 dominates (~0.84); top_p 0.8 keeps only it.
  std::vector<float> l = {4.0f, 2.0f, 1.0f, 0.0f};
  SamplingParams p = plain(1.0f);
  p.top_p = 0.8f;
  auto c = draw(p, l, 2000);
  EXPECT_EQ(c.size(), 1u);
  p.top_p = 0.9f;  // now token 1 is needed too
  c = draw(p, l, 5000);
  EXPECT_EQ(c.size(), 2u);
}

TEST(Sampler, MinPDropsTokensFarBelowTheTop) {
  std::vector<float> l = {0.0f, -0.1f, -3.0f, -5.0f};  // p2/p0 ~ 0.05, p3/p0 ~ 0.007
  SamplingParams p = plain(1.0f);
  p.min_p = 0.1f;
  auto c = draw(p, l, 5000);
  EXPECT_EQ(c.count(2), 0u);
  EXPECT_EQ(c.count(3), 0u);
  EXPECT_GT(c[0], 0);
  EXPECT_GT(c[1], 0);
}

TEST(Sampler, SameSeedSameTokens) {
  std::vector<float> l = {1.0f, 1.1f, 0.9f, 1.05f, 0.95f};
  SamplingParams p = plain(1.0f);
  p.has_seed = true;
  p.seed = 7;
  Sampler a(p), b(p);
  for (int i = 0; i < 100; ++i) {
    std::vector<float> la = l, lb = l;
    EXPECT_EQ(a.sample(la, {}, 0), b.sample(lb, {}, 0));
  }
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
  SamplingParams p = plain(0.0f);
  p.repetition_penalty = 2.0f;
  Sampler s(p);
  std::vector<float> l = {3.0f, 2.0f, -1.0f};
  std::vector<int32_t> hist = {0, 2};
  EXPECT_EQ(s.sample(l, hist, 0), 1);  // 3 -> 1.5 < 2
  EXPECT_FLOAT_EQ(l[0], 1.5f);
  EXPECT_FLOAT_EQ(l[2], -2.0f);
}

TEST(Sampler, PresenceAndFrequencyCountOnlyGeneratedTokens) {
  SamplingParams p = plain(0.0f);
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  Sampler s(p);
  std::vector<float> l = {1.0f, 1.0f, 1.0f};
  std::vector<int32_t> hist = {2, 2, 0, 0, 0};  // prompt is {2, 2}; generated {0, 0, 0}
  s.sample(l, hist, 2);
  EXPECT_FLOAT_EQ(l[0], 1.0f - 0.5f - 0.75f);
  EXPECT_FLOAT_EQ(l[2], 1.0f);
}

TEST(Sampler, RejectsOutOfRangeParameters) {
  SamplingParams p;
  p.temperature = -1.0f;
  EXPECT_THROW(p.validate(), Error);
  p = SamplingParams{};
  p.top_p = 0.0f;
  EXPECT_THROW(p.validate(), Error);
  p = SamplingParams{};
  p.min_p = 2.0f;
  EXPECT_THROW(p.validate(), Error);
  p = SamplingParams{};
  p.temperature = NAN;
  EXPECT_THROW(p.validate(), Error);
}


// Independent re-derivation of the filtered distribution in double: full sort by (logit desc, id
// asc), softmax over the top-k, cumulative top-p, min-p against the top probability.
std::vector<std::pair<double, int32_t>> filter_reference(const SamplingParams& p, const std::vector<float>& l) {
  std::vector<int32_t> idx(l.size());
  std::iota(idx.begin(), idx.end(), 0);
  const double t = p.temperature;
  std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return l[size_t(a)] > l[size_t(b)]; });
  if (p.top_k > 0 && size_t(p.top_k) < idx.size()) idx.resize(size_t(p.top_k));
  std::vector<std::pair<double, int32_t>> c;
  double sum = 0;
  for (int32_t i : idx) sum += std::exp((double(l[size_t(i)]) - l[size_t(idx[0])]) / t);
  for (int32_t i : idx) c.emplace_back(std::exp((double(l[size_t(i)]) - l[size_t(idx[0])]) / t) / sum, i);
  if (p.top_p < 1.0f) {
    double cum = 0;
    size_t keep = 0;
    while (keep < c.size() && cum < p.top_p) cum += c[keep++].first;
    c.resize(keep);
  }
  if (p.min_p > 0.0f) {
    const double thr = p.min_p * c[0].first;
    size_t keep = 1;
    while (keep < c.size() && c[keep].first >= thr) ++keep;
    c.resize(keep);
  }
  return c;
}

TEST(SamplingFilter, MatchesIndependentDerivation) {
  std::mt19937 rng(11);
  std::vector<std::pair<float, int32_t>> got;
  int checked = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const int V = std::uniform_int_distribution<int>(1, 3000)(rng);
    std::normal_distribution<float> nd(0.0f, std::uniform_real_distribution<float>(0.5f, 6.0f)(rng));
    std::vector<float> l(static_cast<size_t>(V));
    for (float& x : l) x = nd(rng);
    if (trial % 5 == 0)  // coarse values: many ties, which the order breaks by lower id
      for (float& x : l) x = std::round(x);
    SamplingParams p = plain(std::uniform_real_distribution<float>(0.3f, 2.0f)(rng));
    p.top_k = trial % 3 == 0 ? 0 : std::uniform_int_distribution<int>(1, 200)(rng);
    p.top_p = trial % 4 == 0 ? 1.0f : std::uniform_real_distribution<float>(0.05f, 0.999f)(rng);
    p.min_p = trial % 2 == 0 ? 0.0f : std::uniform_real_distribution<float>(0.001f, 0.5f)(rng);
    sampling_filter(p, l, got);
    const auto ref = filter_reference(p, l);
    // The float cumulative sum can land the top-p cut one token off when the reference's running
    // mass is within 1e-5 of top_p; skip those rare rows rather than loosen the check.
    double cum = 0;
    bool ambiguous = false;
    for (const auto& c : ref) cum += c.first, ambiguous |= p.top_p < 1.0f && std::fabs(cum - p.top_p) < 1e-5;
    if (ambiguous) continue;
    ASSERT_EQ(got.size(), ref.size()) << "trial " << trial;
    for (size_t i = 0; i < ref.size(); ++i) {
      EXPECT_EQ(got[i].second, ref[i].second) << "trial " << trial << " rank " << i;
      // The host rounds logit / T to float before exp: 2 ulps of |v_i| + |v_max| in the exponent.
      const double v_i = std::fabs(l[size_t(ref[i].second)] / p.temperature), v_0 = std::fabs(l[size_t(ref[0].second)] / p.temperature);
      const double tol = ref[i].first * (1e-6 + 2.4e-7 * (v_i + v_0)) + 1e-12;
      EXPECT_NEAR(got[i].first, ref[i].first, tol) << "trial " << trial << " rank " << i;
    }
    ++checked;
  }
  EXPECT_GE(checked, 280);
}

TEST(SamplingFilter, TopKTiesKeepLowerIds) {
  std::vector<float> l = {1.0f, 2.0f, 2.0f, 0.0f, 2.0f, 2.0f};
  SamplingParams p = plain(1.0f);
  p.top_k = 3;
  std::vector<std::pair<float, int32_t>> c;
  sampling_filter(p, l, c);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].second, 1);
  EXPECT_EQ(c[1].second, 2);
  EXPECT_EQ(c[2].second, 4);
  EXPECT_FLOAT_EQ(c[0].first, 1.0f / 3.0f);
}

TEST(SamplingFilter, SkipsNanAndMinusInfinity) {
  std::vector<float> l = {NAN, -INFINITY, 0.0f, std::log(3.0f)};
  std::vector<std::pair<float, int32_t>> c;
  sampling_filter(plain(1.0f), l, c);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].second, 3);
  EXPECT_NEAR(c[0].first, 0.75, 1e-6);
  std::vector<float> bad = {NAN, -INFINITY};
  EXPECT_THROW(sampling_filter(plain(1.0f), bad, c), Error);
}

TEST(PenaltyEntries, WindowAndGeneratedCountsMergePerToken) {
  SamplingParams p = plain(1.0f);
  p.repetition_penalty = 1.5f;
  p.penalty_last_n = 4;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  // prompt {9, 1, 7}; generated {7, 3, 7, 99}: window (last 4) {7, 3, 7, 99}; 99 is outside V = 10.
  std::vector<int32_t> hist = {9, 1, 7, 7, 3, 7, 99};
  const auto e = penalty_entries(p, hist, 3, 10);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].token, 3);
  EXPECT_TRUE(e[0].repetition);
  EXPECT_FLOAT_EQ(e[0].subtract, 0.5f + 0.25f);
  EXPECT_EQ(e[1].token, 7);
  EXPECT_TRUE(e[1].repetition);
  EXPECT_FLOAT_EQ(e[1].subtract, 0.5f + 0.5f);
  std::vector<float> l(10, 2.0f);
  l[3] = -2.0f;
  apply_penalties(l, e, p.repetition_penalty);
  EXPECT_FLOAT_EQ(l[3], -2.0f * 1.5f - 0.75f);
  EXPECT_FLOAT_EQ(l[7], 2.0f / 1.5f - 1.0f);
  EXPECT_FLOAT_EQ(l[9], 2.0f);  // in the prompt, outside the window: untouched
  p.penalty_last_n = 0;
  p.presence_penalty = p.frequency_penalty = 0.0f;
  EXPECT_TRUE(penalty_entries(p, hist, 3, 10).empty());
}

}  // namespace
}  // namespace pagoda
