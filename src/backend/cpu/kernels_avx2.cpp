// AVX2+FMA kernel table: one 32-element block per 256-bit register, int8 products with
// vpmaddubsw (unsigned x signed; Q8_0 weights use the |w|, sign(a, w) form so the int16 pair sums
// cannot saturate), register-tiled up to 4 weight rows x 2 tokens (16 ymm registers).
#include <immintrin.h>

#include <cstring>

#include "backend/cpu/attention_item.inc"
#include "backend/cpu/blocks.hpp"
#include "backend/cpu/kernels.hpp"
#include "backend/cpu/scalar_ref.hpp"
#include "backend/cpu/tile_select.hpp"

namespace pagoda::cpu {
namespace {

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }
inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}
inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m256i unpack_nibbles(const uint8_t* q0) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q0));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F));
}
inline __m256i sum_pairs16(__m256i v) { return _mm256_madd_epi16(v, _mm256_set1_epi16(1)); }

// Q4_0 / Q4_1: u = nibble in 0..15, so maddubs(u, a) pairs stay below 2 * 15 * 127.
template <bool MIN, class WB, class AB, int OFFSET>
struct Q4Tile {
  template <int NR, int NT>
  static void run(int64_t k, const char* w, uint64_t ws, const char* a, uint64_t as, float* y, int64_t ldy) {
    const int64_t nb = k / QK;
    __m256 acc[NR][NT];
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      __m256i av[NT], aoff[NT];
      float ad[NT], asum[NT];
      for (int t = 0; t < NT; ++t) {
        const AB& ab = reinterpret_cast<const AB*>(a + t * as)[i];
        av[t] = load256(ab.qs);
        ad[t] = h2f(ab.d);
        if constexpr (MIN) asum[t] = h2f(ab.s);
        if constexpr (OFFSET != 0)  // OFFSET * sum(a), lane-wise
          aoff[t] = sum_pairs16(_mm256_maddubs_epi16(_mm256_set1_epi8(OFFSET), av[t]));
      }
      for (int r = 0; r < NR; ++r) {
        const WB& wb = reinterpret_cast<const WB*>(w + r * ws)[i];
        const __m256i wv = unpack_nibbles(wb.qs);
        const float wd = h2f(wb.d);
        for (int t = 0; t < NT; ++t) {
          __m256i dot = sum_pairs16(_mm256_maddubs_epi16(wv, av[t]));
          if constexpr (OFFSET != 0) dot = _mm256_sub_epi32(dot, aoff[t]);
          acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(wd * ad[t]), acc[r][t]);
          if constexpr (MIN) {  // m * s once per block: put it in lane 0 only
            acc[r][t] = _mm256_add_ps(acc[r][t], _mm256_setr_ps(h2f(wb.m) * asum[t], 0, 0, 0, 0, 0, 0, 0));
          }
        }
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < NT; ++t) y[t * ldy + r] = hsum(acc[r][t]);
  }
};

struct Q8Tile {
  template <int NR, int NT>
  static void run(int64_t k, const char* w, uint64_t ws, const char* a, uint64_t as, float* y, int64_t ldy) {
    const int64_t nb = k / QK;
    __m256 acc[NR][NT];
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      __m256i av[NT];
      float ad[NT];
      for (int t = 0; t < NT; ++t) {
        const BlockQ8_0& ab = reinterpret_cast<const BlockQ8_0*>(a + t * as)[i];
        av[t] = load256(ab.qs);
        ad[t] = h2f(ab.d);
      }
      for (int r = 0; r < NR; ++r) {
        const BlockQ8_0& wb = reinterpret_cast<const BlockQ8_0*>(w + r * ws)[i];
        const __m256i wv = load256(wb.qs);
        const __m256i wabs = _mm256_sign_epi8(wv, wv);  // |w| as unsigned (|-128| = 128 still fits)
        const float wd = h2f(wb.d);
        for (int t = 0; t < NT; ++t) {
          const __m256i dot = sum_pairs16(_mm256_maddubs_epi16(wabs, _mm256_sign_epi8(av[t], wv)));
          acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(wd * ad[t]), acc[r][t]);
        }
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < NT; ++t) y[t * ldy + r] = hsum(acc[r][t]);
  }
};

struct WF32 {
  static __m256 load(const char* p, int64_t i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p) + i); }
  static float one(const char* p, int64_t i) {
    float f;
    std::memcpy(&f, p + 4 * i, 4);
    return f;
  }
};
struct WF16 {
  static __m256 load(const char* p, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i)));
  }
  static float one(const char* p, int64_t i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    return h2f(h);
  }
};
struct WBF16 {
  static __m256 load(const char* p, int64_t i) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  }
  static float one(const char* p, int64_t i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    return bf16_to_f32(h);
  }
};

template <class WF>
struct FloatTile {
  template <int NR, int NT>
  static void run(int64_t k, const char* w, uint64_t ws, const char* a, uint64_t as, float* y, int64_t ldy) {
    __m256 acc[NR][NT];
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
      __m256 av[NT];
      for (int t = 0; t < NT; ++t) av[t] = _mm256_loadu_ps(reinterpret_cast<const float*>(a + t * as) + i);
      for (int r = 0; r < NR; ++r) {
        const __m256 wv = WF::load(w + r * ws, i);
        for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_fmadd_ps(wv, av[t], acc[r][t]);
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < NT; ++t) {
        float s = hsum(acc[r][t]);
        const float* ar = reinterpret_cast<const float*>(a + t * as);
        for (int64_t j = i; j < k; ++j) s = std::fma(WF::one(w + r * ws, j), ar[j], s);
        y[t * ldy + r] = s;
      }
  }
};

void attention_item(const AttentionArgs& args, int32_t b, int32_t g, int32_t q0, int32_t q1) {
  attention_item_impl(args, b, g, q0, q1);
}

// tile_any instantiates up to 4 x 4; the driver calls with nt <= tile_toks = 2.
const CpuKernels kTable = {
    CpuIsa::CPU_ISA_AVX2,
    4,
    2,
    quantize_q8_0_ref,
    quantize_q8_1_ref,
    tile_any<Q8Tile>,
    tile_any<Q4Tile<false, BlockQ4_0, BlockQ8_0, 8>>,
    tile_any<Q4Tile<true, BlockQ4_1, BlockQ8_1, 0>>,
    tile_any<FloatTile<WF32>>,
    tile_any<FloatTile<WF16>>,
    tile_any<FloatTile<WBF16>>,
    dequantize_q4_k_ref,
    dequantize_q6_k_ref,
    attention_item,
    {},
    {},
};

}  // namespace

const CpuKernels& kernels_avx2() { return kTable; }

}  // namespace pagoda::cpu
