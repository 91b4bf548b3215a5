// Block formats: hand-built blocks whose values follow from the documented GGML layout, the
// activation quantizers' rounding rules, and rows of the real SmolLM2 GGUF (plus synthetic K-quant
// blocks) against gguf-py's dequantization (tests/reference/cpu_dequant_fixture.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "backend/cpu/blocks.hpp"
#include "backend/cpu/ops.hpp"
#include "backend/cpu/scalar_ref.hpp"
#include "common/test_paths.hpp"
#include "core/error.hpp"
#include "cpu_test_util.hpp"

namespace pagoda {
namespace {

using cpu::QK;
using cpu::QKK;

TEST(Blocks, Q8_0HandBuilt) {
  cpu::BlockQ8_0 b[2];
  b[0].d = 0x4000;  // 2.0
  b[1].d = 0xB800;  // -0.5
  for (int j = 0; j < QK; ++j) b[0].qs[j] = static_cast<int8_t>(j - 16), b[1].qs[j] = static_cast<int8_t>(j == 0 ? -128 : 127);
  float out[64];
  cpu::dequantize_row(DType::DTYPE_Q8_0, b, out, 64);
  for (int j = 0; j < QK; ++j) EXPECT_EQ(out[j], 2.0f * (j - 16)) << j;
  EXPECT_EQ(out[32], 64.0f);
  EXPECT_EQ(out[33], -63.5f);
}

TEST(Blocks, Q4_0HandBuilt) {
  cpu::BlockQ4_0 b;
  b.d = 0x3800;  // 0.5
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float out[32];
  cpu::dequantize_row(DType::DTYPE_Q4_0, &b, out, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], (j - 8) * 0.5f) << j;             // low nibble -> element j
    EXPECT_EQ(out[16 + j], (7 - j) * 0.5f) << 16 + j;   // high nibble -> element 16 + j
  }
}

TEST(Blocks, Q4_1HandBuilt) {
  cpu::BlockQ4_1 b;
  b.d = 0x3400;  // 0.25
  b.m = 0xBC00;  // -1
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(((j * 7) & 15) | (j << 4));
  float out[32];
  cpu::dequantize_row(DType::DTYPE_Q4_1, &b, out, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], ((j * 7) & 15) * 0.25f - 1.0f) << j;
    EXPECT_EQ(out[16 + j], j * 0.25f - 1.0f) << 16 + j;
  }
}

TEST(Blocks, Q4_KHandBuilt) {
  // 8 sub-blocks of 32; 6-bit scales/mins, several above 15 so the packed high bits matter.
  const int sc[8] = {3, 17, 40, 63, 5, 33, 50, 18}, mn[8] = {0, 9, 63, 20, 44, 1, 31, 16};
  cpu::BlockQ4_K b{};
  b.d = 0x3C00;     // 1.0
  b.dmin = 0x3800;  // 0.5
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[4 + j] >> 4) << 6));
    b.scales[j + 4] = static_cast<uint8_t>((mn[j] & 63) | ((mn[4 + j] >> 4) << 6));
    b.scales[8 + j] = static_cast<uint8_t>((sc[4 + j] & 0xF) | ((mn[4 + j] & 0xF) << 4));
  }
  int q[QKK];
  for (int e = 0; e < QKK; ++e) {
    q[e] = (e * 5 + e / 7) & 15;
    const int s = e / 32, byte = 32 * (s / 2) + e % 32;
    b.qs[byte] = static_cast<uint8_t>(s % 2 == 0 ? (b.qs[byte] & 0xF0) | q[e] : (b.qs[byte] & 0x0F) | (q[e] << 4));
  }
  float out[QKK];
  cpu::dequantize_row(DType::DTYPE_Q4_K, &b, out, QKK);
  for (int e = 0; e < QKK; ++e) EXPECT_EQ(out[e], 1.0f * sc[e / 32] * q[e] - 0.5f * mn[e / 32]) << e;
}

TEST(Blocks, Q6_KHandBuilt) {
  cpu::BlockQ6_K b{};
  b.d = 0x3000;  // 0.125
  for (int i = 0; i < 16; ++i) b.scales[i] = static_cast<int8_t>(i * 9 - 70);
  int q[QKK], scale_of[QKK];
  for (int e = 0; e < QKK; ++e) {
    q[e] = (e * 37 + 11) & 63;
    // element e: half h = e / 128; within it, quadrant qd = (e % 128) / 32 and lane l = e % 32.
    const int h = e / 128, qd = (e % 128) / 32, l = e % 32;
    uint8_t& lo = b.ql[64 * h + l + (qd & 1) * 32];
    lo = static_cast<uint8_t>(qd < 2 ? (lo & 0xF0) | (q[e] & 0xF) : (lo & 0x0F) | ((q[e] & 0xF) << 4));
    b.qh[32 * h + l] |= static_cast<uint8_t>((q[e] >> 4) << (2 * qd));
    scale_of[e] = b.scales[8 * h + l / 16 + 2 * qd];
  }
  float out[QKK];
  cpu::dequantize_row(DType::DTYPE_Q6_K, &b, out, QKK);
  for (int e = 0; e < QKK; ++e) EXPECT_EQ(out[e], 0.125f * scale_of[e] * (q[e] - 32)) << e;
}

TEST(Blocks, FloatFormats) {
  const uint16_t f16[4] = {0x3C00, 0xC000, 0x0001, 0x7BFF};  // 1, -2, smallest subnormal, 65504
  const uint16_t bf16[3] = {0x3F80, 0xC040, 0x4049};         // 1, -3, 3.140625
  float out[4];
  cpu::dequantize_row(DType::DTYPE_F16, f16, out, 4);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], std::ldexp(1.0f, -24));
  EXPECT_EQ(out[3], 65504.0f);
  cpu::dequantize_row(DType::DTYPE_BF16, bf16, out, 3);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -3.0f);
  EXPECT_EQ(out[2], 3.140625f);
  EXPECT_THROW(cpu::dequantize_row(DType::DTYPE_Q4_0, f16, out, 31), Error);
  EXPECT_THROW(cpu::dequantize_row(DType::DTYPE_I32, f16, out, 1), Error);
}

// llama.cpp's rule: d = amax / 127 (fp32 while quantizing, stored fp16), q = roundf(x / d).
TEST(Blocks, ActivationQuantizers) {
  float x[QK];
  for (int j = 0; j < QK; ++j) x[j] = (j - 10) * 0.1f;  // largest magnitude at j = 31
  float amax = 0.0f;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  const float d = amax / 127.0f;
  cpu::BlockQ8_0 a;
  cpu::BlockQ8_1 b;
  cpu::quantize_q8_0_ref(x, &a, QK);
  cpu::quantize_q8_1_ref(x, &b, QK);
  EXPECT_EQ(a.d, f32_to_f16(d));
  EXPECT_EQ(b.d, f32_to_f16(d));
  int sum = 0;
  for (int j = 0; j < QK; ++j) {
    const int expect = static_cast<int>(std::lround(x[j] * (1.0f / d)));
    EXPECT_EQ(a.qs[j], expect) << j;
    EXPECT_EQ(b.qs[j], expect) << j;
    sum += expect;
  }
  EXPECT_EQ(a.qs[31], 127);
  EXPECT_EQ(a.qs[0], static_cast<int>(std::lround(-1.0f * (1.0f / d))));
  EXPECT_EQ(b.s, f32_to_f16(static_cast<float>(sum) * d));
  // All-zero block: d = 0 and q = 0, no division by zero.
  float z[QK] = {};
  cpu::quantize_q8_1_ref(z, &b, QK);
  EXPECT_EQ(b.d, 0);
  EXPECT_EQ(b.s, 0);
  for (int j = 0; j < QK; ++j) EXPECT_EQ(b.qs[j], 0);
}

struct FixtureRow {
  std::string tensor, dtype;
  int64_t cols = 0, row = 0, offset = 0;
  std::vector<uint8_t> bytes;
  std::vector<float> values;
};

std::vector<FixtureRow> load_fixture() {
  std::ifstream f(test::fixtures_dir() + "/cpu_dequant/rows.txt");
  std::vector<FixtureRow> rows;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string tag;
    in >> tag;
    if (tag == "row") {
      FixtureRow r;
      std::string hex;
      in >> r.tensor >> r.dtype >> r.cols >> r.row >> r.offset >> hex;
      for (size_t i = 0; i + 1 < hex.size(); i += 2)
        r.bytes.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
      rows.push_back(std::move(r));
    } else if (tag == "values") {
      float v;
      while (in >> v) rows.back().values.push_back(v);
    }
  }
  return rows;
}

TEST(Blocks, MatchesGgufPy) {
  const auto rows = load_fixture();
  ASSERT_EQ(rows.size(), 11u);
  for (const auto& r : rows) {
    SCOPED_TRACE(r.tensor + " row " + std::to_string(r.row));
    const DType t = *dtype_from_name(r.dtype);
    ASSERT_EQ(static_cast<int64_t>(r.values.size()), r.cols);
    ASSERT_EQ(r.bytes.size(), *dtype_row_bytes(t, r.cols));
    std::vector<float> out(r.cols);
    cpu::dequantize_row(t, r.bytes.data(), out.data(), r.cols);
    // gguf-py computes in float32 numpy; printed with 9 digits, so values round-trip exactly,
    // but its operation order may differ from GGML's by one rounding: allow 1 ulp-ish.
    for (int64_t i = 0; i < r.cols; ++i)
      ASSERT_NEAR(out[i], r.values[i], 2e-7f * std::fabs(r.values[i]) + 1e-12f) << i;
  }
}

TEST(Blocks, RealModelBytesMatchFixture) {
  const std::string path = test::smollm2_path();
  if (path.empty()) GTEST_SKIP() << "SmolLM2 GGUF not fetched";
  std::ifstream f(path, std::ios::binary);
  for (const auto& r : load_fixture()) {
    if (r.offset < 0) continue;
    std::vector<uint8_t> bytes(r.bytes.size());
    f.seekg(r.offset);
    f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(f.good());
    EXPECT_EQ(bytes, r.bytes) << r.tensor << " row " << r.row;
    std::vector<float> out(r.cols);
    cpu::dequantize_row(*dtype_from_name(r.dtype), bytes.data(), out.data(), r.cols);
    for (int64_t i = 0; i < r.cols; ++i) ASSERT_NEAR(out[i], r.values[i], 2e-7f * std::fabs(r.values[i]) + 1e-12f);
  }
}

}  // namespace
}  // namespace pagoda

namespace pagoda {
namespace {

// Every table's quantizers are bit-identical to the reference (ties, zeros, NaN included).
TEST(Blocks, QuantizersBitExactAcrossIsas) {
  std::mt19937 rng(21);
  const int64_t k = 32 * 40;
  auto x = test::random_floats(rng, k, -5.0f, 5.0f);
  for (int j = 0; j < 32; ++j) x[32 + j] = (j - 16) * 0.5f * (127.0f / 8.0f) / 127.0f;  // many exact .5 ties
  for (int j = 0; j < 32; ++j) x[64 + j] = 0.0f;
  x[100] = std::nanf("");
  for (int j = 0; j < 32; ++j) x[128 + j] = static_cast<float>(j % 3 - 1) * 1e-30f;  // tiny scale
  std::vector<uint8_t> ref0(k / 32 * 34), ref1(k / 32 * 36);
  cpu::quantize_q8_0_ref(x.data(), ref0.data(), k);
  cpu::quantize_q8_1_ref(x.data(), ref1.data(), k);
  for (cpu::CpuIsa isa : test::isas_available()) {
    const auto& kr = cpu::kernels_for(isa);
    std::vector<uint8_t> a0(ref0.size(), 0xAB), a1(ref1.size(), 0xAB);
    kr.quantize_q8_0(x.data(), a0.data(), k);
    kr.quantize_q8_1(x.data(), a1.data(), k);
    EXPECT_EQ(a0, ref0) << cpu::cpu_isa_name(isa);
    EXPECT_EQ(a1, ref1) << cpu::cpu_isa_name(isa);
  }
}

}  // namespace
}  // namespace pagoda
