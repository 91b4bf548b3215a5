// rmsnorm, add, silu_mul, RoPE (both pairings), embedding lookup vs double references.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/ops.hpp"
#include "core/error.hpp"
#include "core/threads.hpp"
#include "cpu_test_util.hpp"

namespace pagoda {
namespace {

TEST(Elementwise, RmsNorm) {
  std::mt19937 rng(1);
  for (int64_t D : {1, 7, 576, 1000})
    for (int64_t T : {1, 3, 70}) {
      auto x = test::random_floats(rng, T * D, -3.0f, 3.0f);
      x[0] = 1e4f;  // one large value: the sum of squares must not lose the rest
      const auto w = test::random_floats(rng, D);
      std::vector<float> out(T * D, std::nanf(""));
      cpu::rmsnorm(x.data(), w.data(), T, D, 1e-5f, out.data());
      for (int64_t t = 0; t < T; ++t) {
        double ss = 0.0;
        for (int64_t i = 0; i < D; ++i) ss += double(x[t * D + i]) * x[t * D + i];
        const double inv = 1.0 / std::sqrt(ss / D + 1e-5);
        for (int64_t i = 0; i < D; ++i) {
          const double ref = x[t * D + i] * inv * w[i];
          ASSERT_NEAR(out[t * D + i], ref, 4e-7 * std::fabs(ref) + 1e-30) << t << " " << i;
        }
      }
      cpu::rmsnorm(x.data(), w.data(), T, D, 1e-5f, x.data());  // in place
      for (int64_t i = 0; i < T * D; ++i) ASSERT_EQ(x[i], out[i]);
    }
}

TEST(Elementwise, AddAndSiluMul) {
  std::mt19937 rng(2);
  for (int64_t n : {1, 33, 200000}) {
    auto x = test::random_floats(rng, n, -10.0f, 10.0f);
    const auto y = test::random_floats(rng, n, -10.0f, 10.0f);
    const auto x0 = x;
    cpu::add_inplace(x.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(x[i], x0[i] + y[i]);
    std::vector<float> out(n, std::nanf(""));
    cpu::silu_mul(x0.data(), y.data(), n, out.data());
    for (int64_t i = 0; i < n; ++i) {
      const double g = x0[i], ref = g / (1.0 + std::exp(-g)) * y[i];
      ASSERT_NEAR(out[i], ref, 4e-7 * std::fabs(ref) + 1e-30) << i;
    }
  }
}

TEST(Elementwise, RopeBothPairings) {
  std::mt19937 rng(4);
  const int64_t T = 5, H = 3, D = 64;
  const int32_t pos[T] = {0, 1, 17, 4095, 100000};
  for (int64_t rope_dim : {64, 32})
    for (bool interleaved : {false, true}) {
      std::vector<float> inv(rope_dim / 2);
      for (int64_t i = 0; i < rope_dim / 2; ++i) inv[i] = static_cast<float>(std::pow(10000.0, -2.0 * i / rope_dim));
      const auto x0 = test::random_floats(rng, T * H * D);
      auto x = x0;
      cpu::rope_apply(x.data(), T, H, D, rope_dim, pos, inv.data(), interleaved);
      for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < H; ++h) {
          const float* a = x0.data() + (t * H + h) * D;
          const float* got = x.data() + (t * H + h) * D;
          for (int64_t d = rope_dim; d < D; ++d) ASSERT_EQ(got[d], a[d]);  // unrotated tail
          for (int64_t i = 0; i < rope_dim / 2; ++i) {
            const int64_t i0 = interleaved ? 2 * i : i, i1 = interleaved ? 2 * i + 1 : i + rope_dim / 2;
            const double ang = double(pos[t]) * double(inv[i]);
            ASSERT_NEAR(got[i0], a[i0] * std::cos(ang) - a[i1] * std::sin(ang), 2e-7);
            ASSERT_NEAR(got[i1], a[i0] * std::sin(ang) + a[i1] * std::cos(ang), 2e-7);
          }
        }
    }
  float x[8] = {};
  EXPECT_THROW(cpu::rope_apply(x, 1, 1, 8, 3, pos, nullptr, false), Error);
}

TEST(Elementwise, EmbeddingLookup) {
  std::mt19937 rng(6);
  auto table = test::random_blocks(rng, DType::DTYPE_Q8_0, 10, 64, {0}, -0.1f, 0.1f);
  cpu::WeightView w{DType::DTYPE_Q8_0, 10, 64, table.data(), 68};
  const int32_t ids[3] = {9, 0, 9};
  std::vector<float> out(3 * 64), row(64);
  cpu::embedding_lookup(w, ids, 3, out.data());
  for (int t = 0; t < 3; ++t) {
    cpu::dequantize_row(DType::DTYPE_Q8_0, table.data() + ids[t] * 68, row.data(), 64);
    for (int i = 0; i < 64; ++i) ASSERT_EQ(out[t * 64 + i], row[i]);
  }
  const int32_t bad[1] = {10};
  EXPECT_THROW(cpu::embedding_lookup(w, bad, 1, out.data()), Error);
}

}  // namespace
}  // namespace pagoda
