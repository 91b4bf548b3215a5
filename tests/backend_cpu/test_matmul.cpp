// matmul and the per-ISA tiles against double-precision references.
// Two checks per quantized format:
//  1. tile semantics: the tile's result vs sum over blocks of (dequantized weight block) ·
//     (dequantized activation block) in double, for the very same quantized blocks. Only float
//     summation differs: tolerance (nb + 8) * 2^-24 * sum_i |w_i a_i|, plus for Q4_1 the
//     fp16 roundings in s vs d_a * sum(q) used by the double side (|m| * |s| * 2^-10 per block).
//  2. matmul end to end vs dequantized W · x (unquantized x) in double. The Q8 activation rounding
//     bounds the error: |x - d16 q| <= d/2 + 127 d 2^-11 with d = amax/127 per block (x/d rounded
//     to an integer, d stored as fp16), so tol = sum_i |w_i| * 0.5625 d_blk (+ Q4_1's
//     |m| * 32 * 127 * d * 2^-10 for s) + the float summation term; the test computes d itself.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/blocks.hpp"
#include "backend/cpu/kernels.hpp"
#include "backend/cpu/ops.hpp"
#include "backend/cpu/scalar_ref.hpp"
#include "core/error.hpp"
#include "core/threads.hpp"
#include "cpu_test_util.hpp"

namespace pagoda {
namespace {

using cpu::CpuIsa;

struct Weights {
  DType t;
  int64_t n, k;
  std::vector<uint8_t> bytes;
  cpu::WeightView view() const {
    return {t, n, k, bytes.data(), *dtype_row_bytes(t, k)};
  }
};

Weights make_weights(std::mt19937& rng, DType t, int64_t n, int64_t k) {
  Weights w{t, n, k, {}};
  switch (t) {
    case DType::DTYPE_F32: {
      auto f = test::random_floats(rng, n * k);
      w.bytes.resize(f.size() * 4);
      std::memcpy(w.bytes.data(), f.data(), w.bytes.size());
      break;
    }
    case DType::DTYPE_F16:
    case DType::DTYPE_BF16: {
      auto f = test::random_floats(rng, n * k);
      w.bytes.resize(f.size() * 2);
      for (size_t i = 0; i < f.size(); ++i) {
        const uint16_t h = t == DType::DTYPE_F16 ? f32_to_f16(f[i]) : f32_to_bf16(f[i]);
        std::memcpy(&w.bytes[2 * i], &h, 2);
      }
      break;
    }
    case DType::DTYPE_Q8_0: w.bytes = test::random_blocks(rng, t, n, k, {0}, -0.02f, 0.02f); break;
    case DType::DTYPE_Q4_0: w.bytes = test::random_blocks(rng, t, n, k, {0}, -0.1f, 0.1f); break;
    case DType::DTYPE_Q4_1: w.bytes = test::random_blocks(rng, t, n, k, {0, 2}, -0.1f, 0.1f); break;
    case DType::DTYPE_Q4_K: w.bytes = test::random_blocks(rng, t, n, k, {0, 2}, -0.01f, 0.01f); break;
    case DType::DTYPE_Q6_K: w.bytes = test::random_blocks(rng, t, n, k, {208}, -0.002f, 0.002f); break;
    default: ADD_FAILURE();
  }
  return w;
}

std::vector<double> dequant_double(const Weights& w, int64_t row) {
  std::vector<float> f(w.k);
  cpu::dequantize_row(w.t, w.bytes.data() + row * *dtype_row_bytes(w.t, w.k), f.data(), w.k);
  return {f.begin(), f.end()};
}

// Error bound for one output, from the activation quantization (see the file comment).
double act_error_bound(DType t, const std::vector<double>& wd, const Weights& w, int64_t row, const float* x) {
  const DType af = cpu::act_format(t);
  double bound = 0.0, mag = 0.0;
  for (int64_t i = 0; i < w.k; ++i) mag += std::fabs(wd[i] * x[i]);
  bound += mag * (w.k / 32.0 + 16) * std::ldexp(1.0, -24) * 2;
  if (af == DType::DTYPE_F32) return bound + 1e-30;
  for (int64_t b = 0; b < w.k / 32; ++b) {
    double amax = 0.0, wabs = 0.0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(double(x[b * 32 + j]))), wabs += std::fabs(wd[b * 32 + j]);
    const double d = amax / 127.0;
    bound += wabs * 0.5625 * d;
    if (t == DType::DTYPE_Q4_1) {
      const auto* blk = reinterpret_cast<const cpu::BlockQ4_1*>(w.bytes.data() + row * *dtype_row_bytes(t, w.k)) + b;
      bound += std::fabs(f16_to_f32(blk->m)) * 32 * 127 * d * std::ldexp(1.0, -10) * 1.01;
    }
  }
  return bound;
}

constexpr DType kAllTypes[] = {DType::DTYPE_F32,  DType::DTYPE_F16,  DType::DTYPE_BF16, DType::DTYPE_Q8_0,
                               DType::DTYPE_Q4_0, DType::DTYPE_Q4_1, DType::DTYPE_Q4_K, DType::DTYPE_Q6_K};

std::vector<int64_t> ks_for(DType t) {
  switch (dtype_info(t).block_size) {
    case 1: return {1, 15, 33, 100, 257};
    case 32: return {32, 96, 160, 576};  // 1, 3, 5, 18 blocks: odd counts exercise the pair loops' tails
    default: return {256, 768};
  }
}

TEST(Matmul, AllTypesAllIsasVsDouble) {
  threads_set(2);
  std::mt19937 rng(7);
  for (CpuIsa isa : test::isas_available()) {
    const cpu::CpuKernels& kr = cpu::kernels_for(isa);
    for (DType t : kAllTypes)
      for (int64_t k : ks_for(t))
        for (int64_t n : {1, 7, 33})
          for (int64_t T : {1, 3, 17, 70}) {
            SCOPED_TRACE(fmt::format("isa {} type {} N {} K {} T {}", cpu::cpu_isa_name(isa), dtype_info(t).name, n,
                                     k, T));
            const Weights w = make_weights(rng, t, n, k);
            const auto x = test::random_floats(rng, T * k, -2.0f, 2.0f);
            const auto bias = test::random_floats(rng, n);
            std::vector<float> y(T * n, std::nanf(""));
            const bool with_bias = (n + T) % 2 == 0;
            cpu::matmul_with(kr, w.view(), x.data(), T, y.data(), with_bias ? bias.data() : nullptr);
            for (int64_t r = 0; r < n; ++r) {
              const auto wd = dequant_double(w, r);
              for (int64_t tt = 0; tt < T; ++tt) {
                double ref = with_bias ? bias[r] : 0.0;
                for (int64_t i = 0; i < k; ++i) ref += wd[i] * x[tt * k + i];
                const double tol = act_error_bound(t, wd, w, r, x.data() + tt * k) + (with_bias ? 1e-6 : 0.0);
                ASSERT_NEAR(y[tt * n + r], ref, tol) << "row " << r << " token " << tt;
              }
            }
          }
  }
}

// The tile contract for every (nr, nt) a table allows: exact block semantics, checked in double.
TEST(Matmul, QuantTilesMatchBlockSemantics) {
  std::mt19937 rng(11);
  for (CpuIsa isa : test::isas_available()) {
    const cpu::CpuKernels& kr = cpu::kernels_for(isa);
    for (DType t : {DType::DTYPE_Q8_0, DType::DTYPE_Q4_0, DType::DTYPE_Q4_1}) {
      const DType af = cpu::act_format(t);
      const cpu::TileFn tile = t == DType::DTYPE_Q8_0 ? kr.tile_q8_0 : t == DType::DTYPE_Q4_0 ? kr.tile_q4_0 : kr.tile_q4_1;
      for (int64_t k : {32, 64, 96, 1536}) {
        const int64_t nb = k / 32;
        const Weights w = make_weights(rng, t, 4, k);
        const uint64_t ws = *dtype_row_bytes(t, k), as = *dtype_row_bytes(af, k);
        // Activations with extreme values included: +-127 and a block of zeros.
        auto x = test::random_floats(rng, 4 * k, -3.0f, 3.0f);
        for (int64_t i = 0; i < 32; ++i) x[i] = 0.0f;
        std::vector<uint8_t> a(4 * as);
        for (int tt = 0; tt < 4; ++tt)
          (af == DType::DTYPE_Q8_1 ? kr.quantize_q8_1 : kr.quantize_q8_0)(x.data() + tt * k, a.data() + tt * as, k);
        for (int nr = 1; nr <= kr.tile_rows; ++nr)
          for (int nt = 1; nt <= kr.tile_toks; ++nt) {
            SCOPED_TRACE(fmt::format("isa {} type {} K {} nr {} nt {}", cpu::cpu_isa_name(isa), dtype_info(t).name, k,
                                     nr, nt));
            std::vector<float> y(4 * 4, std::nanf(""));
            tile(k, w.bytes.data(), ws, nr, a.data(), as, nt, y.data(), 4);
            for (int r = 0; r < 4; ++r)
              for (int tt = 0; tt < 4; ++tt) {
                if (r >= nr || tt >= nt) {
                  EXPECT_TRUE(std::isnan(y[tt * 4 + r])) << "wrote outside the tile";
                  continue;
                }
                const auto wd = dequant_double(w, r);
                std::vector<float> ad(k);
                cpu::dequantize_row(af, a.data() + tt * as, ad.data(), k);
                double ref = 0.0, mag = 0.0, s_err = 0.0;
                for (int64_t b = 0; b < nb; ++b) {
                  double term = 0.0;
                  for (int j = 0; j < 32; ++j) {
                    term += wd[b * 32 + j] * ad[b * 32 + j];
                    mag += std::fabs(wd[b * 32 + j] * ad[b * 32 + j]);  // bounds every partial sum
                  }
                  ref += term;
                  if (t == DType::DTYPE_Q4_1) {
                    const auto* wb = reinterpret_cast<const cpu::BlockQ4_1*>(w.bytes.data() + r * ws) + b;
                    const auto* ab = reinterpret_cast<const cpu::BlockQ8_1*>(a.data() + tt * as) + b;
                    s_err += std::fabs(f16_to_f32(wb->m) * f16_to_f32(ab->s)) * std::ldexp(1.0, -10) * 1.01;
                  }
                }
                const double tol = mag * (nb + 8) * std::ldexp(1.0, -24) + s_err + 1e-30;
                ASSERT_NEAR(y[tt * 4 + r], ref, tol) << "row " << r << " token " << tt;
              }
          }
      }
    }
  }
}

// The batch-1 GEMV contract (where an ISA has one): same block semantics as the tile, checked in
// double, over row counts that hit the row-pair loop and its odd tail and block counts that hit
// every group tail (Q4_1: groups of 4 blocks; Q8_0: pairs). Weights sit in an exactly sized
// buffer and y has guard values on both sides, so reads past the row data or writes outside
// y[0, nr) would show (under ASan) or fail here.
TEST(Matmul, GemvMatchesBlockSemantics) {
  std::mt19937 rng(13);
  int checked = 0;
  for (CpuIsa isa : test::isas_available()) {
    const cpu::CpuKernels& kr = cpu::kernels_for(isa);
    for (DType t : {DType::DTYPE_Q8_0, DType::DTYPE_Q4_1}) {
      const cpu::GemvKernel& g = t == DType::DTYPE_Q8_0 ? kr.gemv_q8_0 : kr.gemv_q4_1;
      if (!g.run) continue;
      const DType af = cpu::act_format(t);
      for (int64_t k : {32, 64, 96, 128, 160, 224, 576, 1536})
        for (int64_t n : {1, 2, 3, 5, 33}) {
          SCOPED_TRACE(fmt::format("isa {} type {} K {} N {}", cpu::cpu_isa_name(isa), dtype_info(t).name, k, n));
          const int64_t nb = k / 32;
          const Weights w = make_weights(rng, t, n, k);
          const uint64_t ws = *dtype_row_bytes(t, k), as = *dtype_row_bytes(af, k);
          auto x = test::random_floats(rng, k, -3.0f, 3.0f);
          for (int64_t i = 0; i < 32; ++i) x[i] = 0.0f;  // a zero block (d = 0)
          std::vector<uint8_t> a(as), prep(g.prep_bytes(k));
          (af == DType::DTYPE_Q8_1 ? kr.quantize_q8_1 : kr.quantize_q8_0)(x.data(), a.data(), k);
          g.prep(k, a.data(), prep.data());
          std::vector<float> y(n + 2, std::nanf(""));
          g.run(k, w.bytes.data(), ws, n, prep.data(), y.data() + 1);
          EXPECT_TRUE(std::isnan(y[0]) && std::isnan(y[n + 1])) << "wrote outside y";
          std::vector<float> ad(k);
          cpu::dequantize_row(af, a.data(), ad.data(), k);
          for (int64_t r = 0; r < n; ++r) {
            const auto wd = dequant_double(w, r);
            double ref = 0.0, mag = 0.0, s_err = 0.0;
            for (int64_t b = 0; b < nb; ++b) {
              for (int j = 0; j < 32; ++j) {
                ref += wd[b * 32 + j] * ad[b * 32 + j];
                mag += std::fabs(wd[b * 32 + j] * ad[b * 32 + j]);
              }
              if (t == DType::DTYPE_Q4_1) {
                const auto* wb = reinterpret_cast<const cpu::BlockQ4_1*>(w.bytes.data() + r * ws) + b;
                const auto* ab = reinterpret_cast<const cpu::BlockQ8_1*>(a.data()) + b;
                s_err += std::fabs(f16_to_f32(wb->m) * f16_to_f32(ab->s)) * std::ldexp(1.0, -10) * 1.01;
              }
            }
            const double tol = mag * (nb + 8) * std::ldexp(1.0, -24) + s_err + 1e-30;
            ASSERT_NEAR(y[1 + r], ref, tol) << "row " << r;
            ++checked;
          }
        }
    }
  }
  if (cpu::cpu_isa_available(CpuIsa::CPU_ISA_AVX512)) {
    EXPECT_GT(checked, 0) << "AVX-512 has GEMV kernels";
  }
}

TEST(Matmul, RejectsBadShapes) {
  std::vector<uint8_t> data(34 * 4);
  cpu::WeightView w{DType::DTYPE_Q8_0, 2, 48, data.data(), 34};  // 48 is not whole blocks
  float x[96] = {}, y[4];
  EXPECT_THROW(cpu::matmul(w, x, 1, y), Error);
  w = {DType::DTYPE_Q8_0, 2, 64, data.data(), 60};  // wrong row_bytes
  EXPECT_THROW(cpu::matmul(w, x, 1, y), Error);
  w = {DType::DTYPE_I32, 2, 2, data.data(), 8};
  EXPECT_THROW(cpu::matmul(w, x, 1, y), Error);
}

}  // namespace
}  // namespace pagoda
