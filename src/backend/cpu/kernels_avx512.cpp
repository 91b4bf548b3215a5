// AVX-512 kernel table (F/BW/VL/DQ + VNNI): int8 block dots with vpdpbusd, two 32-element blocks
// per 512-bit register, register-tiled up to 4 weight rows x 4 tokens; float weights widened to f32
// and FMA'd (exact, no bf16 rounding of activations). Compiled only with AVX-512 flags.
// GCC 12's own AVX-512 headers leave the upper half of cast results undefined on purpose and then
// warn about it; the warning is theirs, not ours.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

#include "backend/cpu/attention_item.inc"
#include "backend/cpu/blocks.hpp"
#include "backend/cpu/kernels.hpp"
#include "backend/cpu/scalar_ref.hpp"
#include "backend/cpu/tile_select.hpp"

namespace pagoda::cpu {
namespace {

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }
// [d0 x 8 | d1 x 8] from two fp16 scales: one scale per 8 int32 lanes of a block.
inline __m512 scale2(uint16_t h0, uint16_t h1) {
  const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(h0 | (uint32_t(h1) << 16))));
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                               _mm512_castps128_ps512(f));
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
      __m512 ad[NT];
      for (int t = 0; t < NT; ++t) {
        const AB* ab = reinterpret_cast<const AB*>(a + t * as) + i;
        av[t] = pair ? load_2x256(ab[0].qs, ab[1].qs) : load_1x256(ab[0].qs);
        ad[t] = scale2(ab[0].d, pair ? ab[1].d : 0);
        if constexpr (W::OFFSET != 0)  // -OFFSET * sum(a), lane-wise, as the dot's starting value
          aoff[t] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), off_u8, av[t]));
        else
          aoff[t] = _mm512_setzero_si512();
      }
      for (int r = 0; r < NR; ++r) {
        const WB* wb = reinterpret_cast<const WB*>(w + r * ws) + i;
        const __m512i wv = pair ? W::load2(wb) : W::load1(wb);
        const __m512 wd = scale2(wb[0].d, pair ? wb[1].d : 0);
        for (int t = 0; t < NT; ++t) {
          const __m512i dot = _mm512_dpbusd_epi32(aoff[t], wv, av[t]);
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(wd, ad[t]), acc[r][t]);
        }
      }
    };
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) step(i, true);
    if (i < nb) step(i, false);
    if constexpr (W::MIN) {
      // sum_b m_b * s_b, 16 blocks per vector, in a pass of its own so the main loop keeps its
      // registers for the 4 x 4 accumulators.
      for (int64_t b0 = 0; b0 < nb; b0 += 16) {
        const int n = static_cast<int>(std::min<int64_t>(16, nb - b0));
        alignas(64) float mv[NR][16] = {}, sv[NT][16] = {};
        for (int r = 0; r < NR; ++r)
          for (int j = 0; j < n; ++j) mv[r][j] = W::min(reinterpret_cast<const WB*>(w + r * ws)[b0 + j]);
        for (int t = 0; t < NT; ++t)
          for (int j = 0; j < n; ++j) sv[t][j] = A::s(reinterpret_cast<const AB*>(a + t * as)[b0 + j]);
        for (int r = 0; r < NR; ++r) {
          const __m512 m = _mm512_load_ps(mv[r]);
          for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_fmadd_ps(m, _mm512_load_ps(sv[t]), acc[r][t]);
        }
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < NT; ++t) y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
  }
};

// llama.cpp's quantizer, bit for bit: d = amax / 127 in fp32, q = roundf(x / d) (half away from
// zero, emulated exactly as trunc + (|frac| >= 0.5)), non-finite results stored as 0 like the reference.
template <bool SUM>
void quantize_q8(const float* x, void* dst, int64_t k) {
  const __m512 sign = _mm512_set1_ps(-0.0f), half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < k / QK; ++i) {
    const __m512 v0 = _mm512_loadu_ps(x + i * QK), v1 = _mm512_loadu_ps(x + i * QK + 16);
    // max_ps returns its second operand when the first is NaN, so NaNs are skipped as fmaxf does.
    __m512 m = _mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_setzero_ps());
    m = _mm512_max_ps(_mm512_andnot_ps(sign, v1), m);
    const float d = _mm512_reduce_max_ps(m) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    __m512i q[2];
    for (int h = 0; h < 2; ++h) {
      const __m512 v = _mm512_mul_ps(h == 0 ? v0 : v1, _mm512_set1_ps(id));
      const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __mmask16 up = _mm512_cmp_ps_mask(_mm512_andnot_ps(sign, _mm512_sub_ps(v, t)), half, _CMP_GE_OQ);
      const __m512 r = _mm512_mask_add_ps(t, up, t, _mm512_or_ps(one, _mm512_and_ps(sign, v)));
      const __mmask16 ok = _mm512_cmp_ps_mask(_mm512_andnot_ps(sign, r), _mm512_set1_ps(127.0f), _CMP_LE_OQ);
      q[h] = _mm512_maskz_cvtps_epi32(ok, r);
    }
    int8_t* qs;
    if constexpr (SUM) {
      auto* b = static_cast<BlockQ8_1*>(dst) + i;
      qs = b->qs;
      const int sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q[0], q[1]));
      b->d = f32_to_f16(d);
      b->s = f32_to_f16(static_cast<float>(sum) * d);
    } else {
      auto* b = static_cast<BlockQ8_0*>(dst) + i;
      qs = b->qs;
      b->d = f32_to_f16(d);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm512_cvtepi32_epi8(q[0]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16), _mm512_cvtepi32_epi8(q[1]));
  }
}

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
    quantize_q8<false>,
    quantize_q8<true>,
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
