// Paged attention and kv_append against a double-precision softmax over contiguous K/V.
// K/V go in through kv_append into shuffled pages (so paged == contiguous is what is checked),
// outputs are poisoned with NaN first, and lse is compared too. Tolerances: f32 kernels on O(1)
// data, 2e-5 absolute on out and lse (scores and exps are f32; the reference is f64).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "backend/cpu/kernels.hpp"
#include "backend/cpu/ops.hpp"
#include "core/error.hpp"
#include "core/threads.hpp"
#include "cpu_test_util.hpp"

namespace pagoda {
namespace {

using cpu::CpuIsa;

struct Case {
  int page_size, H, Hkv, D;
  std::vector<int> q_lens, kv_lens;
  bool causal;
  DType dtype = DType::DTYPE_F32;
};

float round_to(DType t, float v) {
  if (t == DType::DTYPE_F16) return f16_to_f32(f32_to_f16(v));
  if (t == DType::DTYPE_BF16) return bf16_to_f32(f32_to_bf16(v));
  return v;
}

void run_case(const cpu::CpuKernels& kr, const Case& c, std::mt19937& rng) {
  SCOPED_TRACE(fmt::format("isa {} P {} H {} Hkv {} D {} q [{}] kv [{}] causal {} dtype {}", cpu::cpu_isa_name(kr.isa),
                           c.page_size, c.H, c.Hkv, c.D, fmt::join(c.q_lens, ","), fmt::join(c.kv_lens, ","), c.causal,
                           dtype_info(c.dtype).name));
  const int B = static_cast<int>(c.q_lens.size()), P = c.page_size, D = c.D, H = c.H, Hkv = c.Hkv;
  const int64_t row = int64_t(Hkv) * D;
  // Pages: each sequence gets ceil(kv/P) pages drawn from a shuffled pool with spare pages.
  int max_pages = 0, total_pages = 0;
  for (int kv : c.kv_lens) max_pages = std::max(max_pages, (kv + P - 1) / P), total_pages += (kv + P - 1) / P;
  const int num_pages = total_pages + 3;
  std::vector<int32_t> pool(num_pages);
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), rng);
  std::vector<int32_t> block_table(B * max_pages, -1);
  int next = 0;
  for (int b = 0; b < B; ++b)
    for (int p = 0; p < (c.kv_lens[b] + P - 1) / P; ++p) block_table[b * max_pages + p] = pool[next++];

  const size_t esz = dtype_info(c.dtype).block_bytes;
  std::vector<uint8_t> kc(num_pages * P * row * esz, 0xFF), vc(kc.size(), 0xFF);  // 0xFF..: NaN in every dtype
  PagedKvView view{kc.data(), vc.data(), {P, Hkv, D, c.dtype}, num_pages};

  // Contiguous K/V per sequence [kv, Hkv, D], appended in one ragged kv_append call.
  std::vector<std::vector<float>> ks(B), vs(B);
  std::vector<float> kall, vall;
  std::vector<int64_t> slots;
  for (int b = 0; b < B; ++b) {
    ks[b] = test::random_floats(rng, c.kv_lens[b] * row, -1.0f, 1.0f);
    vs[b] = test::random_floats(rng, c.kv_lens[b] * row, -1.0f, 1.0f);
    kall.insert(kall.end(), ks[b].begin(), ks[b].end());
    vall.insert(vall.end(), vs[b].begin(), vs[b].end());
    for (int t = 0; t < c.kv_lens[b]; ++t) slots.push_back(int64_t(block_table[b * max_pages + t / P]) * P + t % P);
  }
  cpu::kv_append(view, kall.data(), vall.data(), static_cast<int64_t>(slots.size()), slots.data());

  std::vector<int32_t> cu(B + 1, 0);
  for (int b = 0; b < B; ++b) cu[b + 1] = cu[b] + c.q_lens[b];
  const int T = cu[B];
  const auto q = test::random_floats(rng, T * H * D, -2.0f, 2.0f);
  AttentionBatch batch{B, cu.data(), c.kv_lens.data(), block_table.data(), max_pages, c.causal,
                       static_cast<float>(1.0 / std::sqrt(D))};
  std::vector<float> out(T * H * D, std::nanf("")), lse(T * H, std::nanf(""));
  cpu::attention_paged_with(kr, q.data(), H, view, batch, out.data(), lse.data());

  const int G = H / Hkv;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < c.q_lens[b]; ++i)
      for (int h = 0; h < H; ++h) {
        const int t = cu[b] + i, g = h / G, pos = c.kv_lens[b] - c.q_lens[b] + i;
        const int n = c.causal ? pos + 1 : c.kv_lens[b];
        std::vector<double> s(n);
        double mx = -INFINITY;
        for (int j = 0; j < n; ++j) {
          double dot = 0.0;
          for (int d = 0; d < D; ++d) dot += double(q[(t * H + h) * D + d]) * round_to(c.dtype, ks[b][(j * Hkv + g) * D + d]);
          s[j] = dot * batch.scale;
          mx = std::max(mx, s[j]);
        }
        double den = 0.0;
        for (double& v : s) den += (v = std::exp(v - mx));
        ASSERT_NEAR(lse[t * H + h], mx + std::log(den), 2e-5) << "lse t " << t << " h " << h;
        for (int d = 0; d < D; ++d) {
          double o = 0.0;
          for (int j = 0; j < n; ++j) o += s[j] * round_to(c.dtype, vs[b][(j * Hkv + g) * D + d]);
          ASSERT_NEAR(out[(t * H + h) * D + d], o / den, 2e-5) << "out t " << t << " h " << h << " d " << d;
        }
      }
}

TEST(Attention, PagedSweepAllIsas) {
  threads_set(2);
  std::mt19937 rng(3);
  const std::pair<int, int> heads[] = {{4, 4}, {8, 2}, {16, 2}, {6, 1}};  // GQA ratios 1, 4, 8 and MQA
  for (CpuIsa isa : test::isas_available()) {
    const auto& kr = cpu::kernels_for(isa);
    for (int P : {1, 16, 64})
      for (auto [H, Hkv] : heads)
        for (int ql : {1, 7, 33})
          for (bool causal : {true, false}) {
            // Ragged: three sequences of different cached lengths (one long), same new-token count.
            const int long_kv = (P == 16 && H == 8) ? 1000 : 130;
            run_case(kr, {P, H, Hkv, 64, {ql, ql, ql}, {ql, ql + 45, long_kv}, causal}, rng);
          }
  }
}

TEST(Attention, RaggedMixedLengthsAndCacheTypes) {
  std::mt19937 rng(5);
  for (CpuIsa isa : test::isas_available())
    for (DType dt : {DType::DTYPE_F32, DType::DTYPE_F16, DType::DTYPE_BF16}) {
      // Decode rows, a chunked-prefill row and a fresh prompt in one batch; D = 128 and odd D = 40.
      run_case(cpu::kernels_for(isa), {16, 8, 2, 128, {1, 33, 7, 1}, {1000, 300, 7, 64}, true, dt}, rng);
      run_case(cpu::kernels_for(isa), {7, 3, 3, 40, {5, 1}, {20, 1}, false, dt}, rng);
    }
}

// The attention issue's sweep: every length in {1, 7, 33, 100, 1000, 4097} in one ragged batch, at
// page sizes 1, 16 and 64, f32 cache and the 16-bit caches (same float64 reference as above). The
// long sequences carry a few queries at their end (decode / chunked prefill), which keeps the f64
// reference cheap while every KV length is still read in full.
TEST(Attention, IssueLengthsAndPageSizes) {
  std::mt19937 rng(17);
  const std::vector<int> kv = {1, 7, 33, 100, 1000, 4097}, q = {1, 7, 33, 100, 7, 3};
  for (CpuIsa isa : test::isas_available())
    for (int P : {1, 16, 64})
      for (DType dt : {DType::DTYPE_F32, DType::DTYPE_F16, DType::DTYPE_BF16}) {
        if (dt != DType::DTYPE_F32 && P != 16) continue;
        run_case(cpu::kernels_for(isa), {P, 8, 2, 64, q, kv, true, dt}, rng);
        if (P == 16 && dt == DType::DTYPE_F32) run_case(cpu::kernels_for(isa), {P, 6, 1, 128, q, kv, false, dt}, rng);
      }
}

TEST(Attention, RejectsBadBatches) {
  std::vector<float> k(4 * 16 * 64), v(k.size()), q(64), out(64);
  PagedKvView view{k.data(), v.data(), {16, 1, 64, DType::DTYPE_F32}, 4};
  int32_t cu[2] = {0, 1}, kv[1] = {100}, bt[4] = {0, 1, 2, 3};
  AttentionBatch batch{1, cu, kv, bt, 4, true, 0.125f};
  EXPECT_THROW(cpu::attention_paged(q.data(), 1, view, batch, out.data()), Error);  // 100 tokens need 7 pages
  kv[0] = 20;
  bt[1] = 4;  // page id out of range
  EXPECT_THROW(cpu::attention_paged(q.data(), 1, view, batch, out.data()), Error);
  bt[1] = 1;
  view.layout.num_kv_heads = 2;
  view.layout.head_dim = 32;
  EXPECT_THROW(cpu::attention_paged(q.data(), 3, view, batch, out.data()), Error);  // 3 heads over 2 KV heads
}

TEST(KvAppend, CacheDtypesAndBadSlots) {
  const int P = 4, Hkv = 2, D = 8;
  std::mt19937 rng(9);
  const auto kf = test::random_floats(rng, 3 * Hkv * D), vf = test::random_floats(rng, 3 * Hkv * D);
  const int64_t slots[3] = {9, -1, 2};  // -1: padding token, not stored
  for (DType dt : {DType::DTYPE_F32, DType::DTYPE_F16, DType::DTYPE_BF16}) {
    const size_t esz = dtype_info(dt).block_bytes;
    std::vector<uint8_t> kc(3 * P * Hkv * D * esz, 0), vc(kc.size(), 0);
    PagedKvView view{kc.data(), vc.data(), {P, Hkv, D, dt}, 3};
    cpu::kv_append(view, kf.data(), vf.data(), 3, slots);
    for (int t : {0, 2})
      for (int i = 0; i < Hkv * D; ++i) {
        const int64_t off = view.layout.offset(slots[t] / P, slots[t] % P, 0) + i;
        float kgot, vgot;
        cpu::dequantize_row(dt, kc.data() + off * esz, &kgot, 1);
        cpu::dequantize_row(dt, vc.data() + off * esz, &vgot, 1);
        EXPECT_EQ(kgot, round_to(dt, kf[t * Hkv * D + i]));
        EXPECT_EQ(vgot, round_to(dt, vf[t * Hkv * D + i]));
      }
    size_t nonzero = 0;
    for (uint8_t b : kc) nonzero += b != 0;
    EXPECT_LE(nonzero, 2u * Hkv * D * esz) << "the padding token was written";
    const int64_t bad[1] = {12};
    EXPECT_THROW(cpu::kv_append(view, kf.data(), vf.data(), 1, bad), Error);
  }
}

}  // namespace
}  // namespace pagoda
