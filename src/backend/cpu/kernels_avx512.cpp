// AVX-512 kernel table (F/BW/VL/DQ + VNNI): int8 block dots with vpdpbusd, two 32-element blocks
// per 512-bit register, register-tiled up to 4 weight rows x 4 tokens; float weights widened to f32
// and FMA'd (exact, no bf16 rounding of activations). Compiled only with AVX-512 flags.
// GCC 12's own AVX-512 headers leave the upper half of cast results undefined on purpose and then
// warn about it; the warning is theirs, not ours.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "backend/cpu/attention_item.inc"
#include "backend/cpu/blocks.hpp"
#include "backend/cpu/kernels.hpp"
#include "backend/cpu/scalar_ref.hpp"
#include "backend/cpu/tile_select.hpp"

namespace pagoda::cpu {
namespace {

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }
// [d0 x 8 | d1 x 8]: one scale per 8 int32 lanes of a block.
inline __m512 scale2(float d0, float d1) {
  return _mm512_insertf32x8(_mm512_set1_ps(d0), _mm256_set1_ps(d1), 1);
}
inline __m512i load_2x256(const int8_t* p0, const int8_t* p1) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p0))),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p1)), 1);
}
inline __m512i load_1x256(const int8_t* p0) {
  return _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p0)));
}
// 16 nibble bytes of each of two blocks -> 64 bytes [lo0, hi0, lo1, hi1] (element order of each block).
inline __m512i unpack_nibbles2(const uint8_t* q0, const uint8_t* q1) {
  const __m256i both = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q1)),
                                        _mm_loadu_si128(reinterpret_cast<const __m128i*>(q0)));
  const __m512i v = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3), _mm512_castsi256_si512(both));
  const __m512i sel = _mm512_mask_blend_epi64(0xCC, v, _mm512_srli_epi16(v, 4));
  return _mm512_and_si512(sel, _mm512_set1_epi8(0x0F));
}
inline __m512i unpack_nibbles1(const uint8_t* q0) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q0));
  const __m256i v = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
  return _mm512_zextsi256_si512(_mm256_and_si256(v, _mm256_set1_epi8(0x0F)));
}

// Weight formats as unsigned bytes u with w = u - OFFSET, so vpdpbusd(u, a) - OFFSET * sum(a) is exact.
struct WQ8_0 {
  using Block = BlockQ8_0;
  static constexpr int OFFSET = 128;
  static constexpr bool MIN = false;
  static __m512i load2(const Block* b) {
    return _mm512_xor_si512(load_2x256(b[0].qs, b[1].qs), _mm512_set1_epi8(char(0x80)));
  }
  static __m512i load1(const Block* b) {
    return _mm512_zextsi256_si512(_mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[0].qs)),
                                                   _mm256_set1_epi8(char(0x80))));
  }
  static float min(const Block&) { return 0.0f; }
};
struct WQ4_0 {
  using Block = BlockQ4_0;
  static constexpr int OFFSET = 8;
  static constexpr bool MIN = false;
  static __m512i load2(const Block* b) { return unpack_nibbles2(b[0].qs, b[1].qs); }
  static __m512i load1(const Block* b) { return unpack_nibbles1(b[0].qs); }
  static float min(const Block&) { return 0.0f; }
};
struct WQ4_1 {
  using Block = BlockQ4_1;
  static constexpr int OFFSET = 0;
  static constexpr bool MIN = true;  // adds m * s per block
  static __m512i load2(const Block* b) { return unpack_nibbles2(b[0].qs, b[1].qs); }
  static __m512i load1(const Block* b) { return unpack_nibbles1(b[0].qs); }
  static float min(const Block& b) { return h2f(b.m); }
};
struct AQ8_0 {
  using Block = BlockQ8_0;
  static float s(const Block&) { return 0.0f; }
};
struct AQ8_1 {
  using Block = BlockQ8_1;
  static float s(const Block& b) { return h2f(b.s); }
};

template <class W, class A>
struct QuantTile {
  template <int NR, int NT>
  static void run(int64_t k, const char* w, uint64_t ws, const char* a, uint64_t as, float* y, int64_t ldy) {
    using WB = typename W::Block;
    using AB = typename A::Block;
    const int64_t nb = k / QK;
    __m512 acc[NR][NT];
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
    const __m512i off_u8 = _mm512_set1_epi8(static_cast<char>(W::OFFSET));
    auto step = [&](int64_t i, bool pair) {
      __m512i av[NT], aoff[NT];
      __m512 ad[NT], asum[NT];
      for (int t = 0; t < NT; ++t) {
        const AB* ab = reinterpret_cast<const AB*>(a + t * as) + i;
        av[t] = pair ? load_2x256(ab[0].qs, ab[1].qs) : load_1x256(ab[0].qs);
        ad[t] = pair ? scale2(h2f(ab[0].d), h2f(ab[1].d)) : scale2(h2f(ab[0].d), 0.0f);
        if constexpr (W::OFFSET != 0)  // -OFFSET * sum(a), lane-wise, as the dot's starting value
          aoff[t] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), off_u8, av[t]));
        else
          aoff[t] = _mm512_setzero_si512();
        if constexpr (W::MIN) asum[t] = pair ? scale2(A::s(ab[0]), A::s(ab[1])) : scale2(A::s(ab[0]), 0.0f);
      }
      for (int r = 0; r < NR; ++r) {
        const WB* wb = reinterpret_cast<const WB*>(w + r * ws) + i;
        const __m512i wv = pair ? W::load2(wb) : W::load1(wb);
        const __m512 wd = pair ? scale2(h2f(wb[0].d), h2f(wb[1].d)) : scale2(h2f(wb[0].d), 0.0f);
        __m512 wm;
        if constexpr (W::MIN)  // m in the first lane of each block only, so m * s is added once per block
          wm = _mm512_maskz_mov_ps(0x0101, pair ? scale2(W::min(wb[0]), W::min(wb[1])) : scale2(W::min(wb[0]), 0.0f));
        for (int t = 0; t < NT; ++t) {
          const __m512i dot = _mm512_dpbusd_epi32(aoff[t], wv, av[t]);
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(wd, ad[t]), acc[r][t]);
          if constexpr (W::MIN) acc[r][t] = _mm512_fmadd_ps(wm, asum[t], acc[r][t]);
        }
      }
    };
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) step(i, true);
    if (i < nb) step(i, false);
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < NT; ++t) y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
  }
};

struct WF32 {
  static __m512 load(const char* p, int64_t i) { return _mm512_loadu_ps(reinterpret_cast<const float*>(p) + i); }
  static __m512 load_tail(const char* p, int64_t i, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(p) + i);
  }
};
struct WF16 {
  static __m512 load(const char* p, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * i)));
  }
  static __m512 load_tail(const char* p, int64_t i, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p + 2 * i));
  }
};
struct WBF16 {
  static __m512 widen(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
  static __m512 load(const char* p, int64_t i) {
    return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * i)));
  }
  static __m512 load_tail(const char* p, int64_t i, __mmask16 m) { return widen(_mm256_maskz_loadu_epi16(m, p + 2 * i)); }
};

template <class WF>
struct FloatTile {
  template <int NR, int NT>
  static void run(int64_t k, const char* w, uint64_t ws, const char* a, uint64_t as, float* y, int64_t ldy) {
    __m512 acc[NR][NT];
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
    auto step = [&](int64_t i, bool full, __mmask16 m) {
      __m512 av[NT];
      for (int t = 0; t < NT; ++t) {
        const float* ar = reinterpret_cast<const float*>(a + t * as) + i;
        av[t] = full ? _mm512_loadu_ps(ar) : _mm512_maskz_loadu_ps(m, ar);
      }
      for (int r = 0; r < NR; ++r) {
        const __m512 wv = full ? WF::load(w + r * ws, i) : WF::load_tail(w + r * ws, i, m);
        for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_fmadd_ps(wv, av[t], acc[r][t]);
      }
    };
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) step(i, true, 0xFFFF);
    if (i < k) step(i, false, static_cast<__mmask16>((1u << (k - i)) - 1));
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < NT; ++t) y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
  }
};

void attention_item(const AttentionArgs& args, int32_t b, int32_t g, int32_t q0, int32_t q1) {
  attention_item_impl(args, b, g, q0, q1);
}

const CpuKernels kTable = {
    CpuIsa::CPU_ISA_AVX512,
    4,
    4,
    quantize_q8_0_ref,
    quantize_q8_1_ref,
    tile_any<QuantTile<WQ8_0, AQ8_0>>,
    tile_any<QuantTile<WQ4_0, AQ8_0>>,
    tile_any<QuantTile<WQ4_1, AQ8_1>>,
    tile_any<FloatTile<WF32>>,
    tile_any<FloatTile<WF16>>,
    tile_any<FloatTile<WBF16>>,
    dequantize_q4_k_ref,
    dequantize_q6_k_ref,
    attention_item,
};

}  // namespace

const CpuKernels& kernels_avx512() { return kTable; }

}  // namespace pagoda::cpu
