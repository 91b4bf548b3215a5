// Sampler: each filter does what its definition says, and draws follow the filtered softmax
// (checked statistically against probabilities computed independently here in double).
#include <gtest/gtest.h>

#include <cmath>
#include <map>

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

}  // namespace
}  // namespace pagoda
