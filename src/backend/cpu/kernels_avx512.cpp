// AVX-512 kernel table (F/BW/VL/DQ + VNNI): int8 block dots with vpdpbusd, two 32-element blocks
// per 512-bit register, register-tiled up to 4 weight rows x 4 tokens; float weights widened to f32
// and FMA'd (exact, no bf16 rounding of activations). Compiled only with AVX-512 flags.
// GCC 12's own AVX-512 headers leave the upper half of cast results undefined on purpose and then
// warn about it; the warning is theirs, not ours.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

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

// ---- Batch-1 GEMV (T == 1, decode). The activation row is re-laid once per matmul (prep) so each
// weight row costs only its own decoding: raw 64-byte loads of whole block groups, one word
// permute for the nibbles / scales, vpdpbusd against the prepared activation bytes, one cvt and
// one FMA per group. Only AVX-512 F/BW/VNNI (no VBMI): every gather is on 16-bit words, which
// works because every field of these blocks starts at an even byte offset.

// Q4_1 x Q8_1, 4 blocks (128 elements, 80 weight bytes) per step. Weight register V holds the 16
// nibble bytes of blocks 0..3 in 16-byte lanes; V & 15 pairs with ALO (elements 0..15 of each
// block), V >> 4 with AHI (elements 16..31), so int32 lanes 4b..4b+3 hold block b's dot.
// Decode streams every weight byte once from DRAM (the model is larger than L3); the hardware
// prefetcher alone left SmolLM2 decode at ~68 tok/s, a software prefetch 2 KB ahead of each row's
// read position gave ~77 (measured 0 / 2 / 4 / 6 / 8 KB: flat from 2 to 6 KB). Prefetches never
// fault, so running past the matrix end is harmless.
constexpr uintptr_t kPrefetchBytes = 2048;
// Address arithmetic in integers: the target may lie past the weight buffer.
inline void prefetch_ahead(const char* p) {
  _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(p) + kPrefetchBytes), _MM_HINT_T0);
}
struct GemvQ4_1Group {
  int8_t alo[64];
  int8_t ahi[64];
  float ad[16];  // d of block b in lanes 4b..4b+3
  float as[16];  // s of block b in lane 4b, 0 elsewhere (pairs with m_b, broadcast to 4 lanes)
};
static_assert(sizeof(GemvQ4_1Group) == 256);

uint64_t gemv_q4_1_prep_bytes(int64_t k) { return static_cast<uint64_t>((k / QK + 3) / 4) * sizeof(GemvQ4_1Group); }

void gemv_q4_1_prep(int64_t k, const void* a, void* dst) {
  const int64_t nb = k / QK, ng = (nb + 3) / 4;
  const auto* ab = static_cast<const BlockQ8_1*>(a);
  auto* g = static_cast<GemvQ4_1Group*>(dst);
  for (int64_t i = 0; i < ng; ++i) {
    GemvQ4_1Group& o = g[i];
    std::memset(&o, 0, sizeof o);  // missing blocks of the last group: zero bytes, zero scales
    for (int b = 0; b < 4 && i * 4 + b < nb; ++b) {
      const BlockQ8_1& x = ab[i * 4 + b];
      std::memcpy(o.alo + 16 * b, x.qs, 16);
      std::memcpy(o.ahi + 16 * b, x.qs + 16, 16);
      const float d = h2f(x.d);
      for (int j = 0; j < 4; ++j) o.ad[4 * b + j] = d;
      o.as[4 * b] = h2f(x.s);
    }
  }
}

template <int NR>
void gemv_q4_1_rows(int64_t ng, int64_t tail, const char* w, uint64_t ws, const GemvQ4_1Group* pg, float* y) {
  // Word indices: qs of block b are words 10b+2 .. 10b+9 of the group; L0 holds words 0..31,
  // L1 (loaded 16 bytes later) words 8..39, so permutex2var index 32 + (word - 8) reads L1.
  const __m512i qidx = _mm512_setr_epi32(
      2 | 3 << 16, 4 | 5 << 16, 6 | 7 << 16, 8 | 9 << 16, 12 | 13 << 16, 14 | 15 << 16, 16 | 17 << 16, 18 | 19 << 16,
      22 | 23 << 16, 24 | 25 << 16, 26 | 27 << 16, 28 | 29 << 16, 56 | 57 << 16, 58 | 59 << 16, 60 | 61 << 16,
      62 | 63 << 16);
  // Low 16 words: d of block b (word 10b) x4; high 16 words: m of block b (word 10b+1) x4.
  const __m512i sidx = _mm512_setr_epi32(0, 0, 10 | 10 << 16, 10 | 10 << 16, 20 | 20 << 16, 20 | 20 << 16,
                                         30 | 30 << 16, 30 | 30 << 16, 1 | 1 << 16, 1 | 1 << 16, 11 | 11 << 16,
                                         11 | 11 << 16, 21 | 21 << 16, 21 | 21 << 16, 31 | 31 << 16, 31 | 31 << 16);
  const __m512i nib = _mm512_set1_epi8(0x0F);
  __m512 acc[NR], accm[NR];
  for (int r = 0; r < NR; ++r) acc[r] = accm[r] = _mm512_setzero_ps();
  auto step = [&](int64_t i, __m512i l0[NR], __m512i l1[NR]) {
    const GemvQ4_1Group& a = pg[i];
    const __m512i alo = _mm512_loadu_si512(a.alo), ahi = _mm512_loadu_si512(a.ahi);
    const __m512 ad = _mm512_loadu_ps(a.ad), as = _mm512_loadu_ps(a.as);
    for (int r = 0; r < NR; ++r) {
      const __m512i v = _mm512_permutex2var_epi16(l0[r], qidx, l1[r]);
      const __m512i sm = _mm512_permutexvar_epi16(sidx, l0[r]);
      const __m512 d = _mm512_cvtph_ps(_mm512_castsi512_si256(sm));
      const __m512 m = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(sm, 1));
      __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(v, nib), alo);
      dot = _mm512_dpbusd_epi32(dot, _mm512_and_si512(_mm512_srli_epi16(v, 4), nib), ahi);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(d, ad), acc[r]);
      accm[r] = _mm512_fmadd_ps(m, as, accm[r]);
    }
  };
  constexpr uint64_t kGroupBytes = 4 * sizeof(BlockQ4_1);
  int64_t i = 0;
  for (; i < ng; ++i) {
    __m512i l0[NR], l1[NR];
    for (int r = 0; r < NR; ++r) {
      const char* p = w + r * ws + i * kGroupBytes;
      prefetch_ahead(p);  // a step reads 80 bytes of each row: two lines ahead keep pace
      prefetch_ahead(p + 64);
      l0[r] = _mm512_loadu_si512(p);
      l1[r] = _mm512_loadu_si512(p + 16);
    }
    step(i, l0, l1);
  }
  if (tail) {  // 1..3 blocks: masked loads stay inside the row and zero the missing blocks' d and m
    const int words = static_cast<int>(tail) * 10;
    const __mmask32 m0 = static_cast<__mmask32>(words >= 32 ? ~0u : (1u << words) - 1);
    const __mmask32 m1 = static_cast<__mmask32>((1ull << (words - 8)) - 1);
    __m512i l0[NR], l1[NR];
    for (int r = 0; r < NR; ++r) {
      const char* p = w + r * ws + i * kGroupBytes;
      l0[r] = _mm512_maskz_loadu_epi16(m0, p);
      l1[r] = _mm512_maskz_loadu_epi16(m1, p + 16);
    }
    step(i, l0, l1);
  }
  for (int r = 0; r < NR; ++r) y[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[r], accm[r]));
}

void gemv_q4_1(int64_t k, const void* w, uint64_t ws, int64_t nr, const void* prep, float* y) {
  const int64_t nb = k / QK, ng = nb / 4, tail = nb % 4;
  const char* wp = static_cast<const char*>(w);
  const auto* pg = static_cast<const GemvQ4_1Group*>(prep);
  int64_t r = 0;
  for (; r + 2 <= nr; r += 2) gemv_q4_1_rows<2>(ng, tail, wp + r * ws, ws, pg, y + r);
  if (r < nr) gemv_q4_1_rows<1>(ng, tail, wp + r * ws, ws, pg, y + r);
}

// Q8_0 x Q8_0, 2 blocks (64 elements, 68 weight bytes) per step. Weights become unsigned bytes
// w + 128 for vpdpbusd; the prepared per-lane -128 * sum(a) is the dot's starting value.
struct GemvQ8_0Pair {
  int8_t a[64];
  int32_t aoff[16];
  float ad[16];  // d of block b in lanes 8b..8b+7
};
static_assert(sizeof(GemvQ8_0Pair) == 192);

uint64_t gemv_q8_0_prep_bytes(int64_t k) { return static_cast<uint64_t>((k / QK + 1) / 2) * sizeof(GemvQ8_0Pair); }

void gemv_q8_0_prep(int64_t k, const void* a, void* dst) {
  const int64_t nb = k / QK, np = (nb + 1) / 2;
  const auto* ab = static_cast<const BlockQ8_0*>(a);
  auto* g = static_cast<GemvQ8_0Pair*>(dst);
  for (int64_t i = 0; i < np; ++i) {
    GemvQ8_0Pair& o = g[i];
    std::memset(&o, 0, sizeof o);
    for (int b = 0; b < 2 && i * 2 + b < nb; ++b) {
      const BlockQ8_0& x = ab[i * 2 + b];
      std::memcpy(o.a + 32 * b, x.qs, 32);
      const float d = h2f(x.d);
      for (int j = 0; j < 8; ++j) {
        o.ad[8 * b + j] = d;
        o.aoff[8 * b + j] = -128 * (x.qs[4 * j] + x.qs[4 * j + 1] + x.qs[4 * j + 2] + x.qs[4 * j + 3]);
      }
    }
  }
}

template <int NR>
void gemv_q8_0_rows(int64_t np, int64_t tail, const char* w, uint64_t ws, const GemvQ8_0Pair* pp, float* y) {
  // d of block 0 is word 0 of the pair, d of block 1 word 17: [d0 x8, d1 x8] in the low 16 words.
  const __m512i sidx = _mm512_setr_epi32(0, 0, 0, 0, 17 | 17 << 16, 17 | 17 << 16, 17 | 17 << 16, 17 | 17 << 16,
                                         0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512 acc[NR];
  for (int r = 0; r < NR; ++r) acc[r] = _mm512_setzero_ps();
  auto step = [&](int64_t i, __m512i q[NR], __m512i h[NR]) {
    const GemvQ8_0Pair& a = pp[i];
    const __m512i av = _mm512_loadu_si512(a.a);
    const __m512 ad = _mm512_loadu_ps(a.ad);
    for (int r = 0; r < NR; ++r) {
      const __m512 d = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(sidx, h[r])));
      const __m512i dot = _mm512_dpbusd_epi32(_mm512_loadu_si512(a.aoff), _mm512_xor_si512(q[r], flip), av);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(d, ad), acc[r]);
    }
  };
  constexpr uint64_t kPairBytes = 2 * sizeof(BlockQ8_0);
  int64_t i = 0;
  for (; i < np; ++i) {
    __m512i q[NR], h[NR];
    for (int r = 0; r < NR; ++r) {
      const char* p = w + r * ws + i * kPairBytes;
      prefetch_ahead(p);
      h[r] = _mm512_loadu_si512(p);  // d0, qs0, d1, part of qs1
      // qs0 (bytes 2..33) into bytes 0..31, qs1 (bytes 36..67) into bytes 32..63
      q[r] = _mm512_mask_loadu_epi8(_mm512_loadu_si512(p + 2), 0xFFFFFFFF00000000ull, p + 4);
    }
    step(i, q, h);
  }
  if (tail) {  // one block left: masked loads stay inside the row and zero block 1's d and bytes
    __m512i q[NR], h[NR];
    for (int r = 0; r < NR; ++r) {
      const char* p = w + r * ws + i * kPairBytes;
      h[r] = _mm512_maskz_loadu_epi16(0x1FFFF, p);
      q[r] = _mm512_maskz_loadu_epi8(0xFFFFFFFFull, p + 2);
    }
    step(i, q, h);
  }
  for (int r = 0; r < NR; ++r) y[r] = _mm512_reduce_add_ps(acc[r]);
}

void gemv_q8_0(int64_t k, const void* w, uint64_t ws, int64_t nr, const void* prep, float* y) {
  const int64_t nb = k / QK, np = nb / 2, tail = nb % 2;
  const char* wp = static_cast<const char*>(w);
  const auto* pp = static_cast<const GemvQ8_0Pair*>(prep);
  int64_t r = 0;
  for (; r + 2 <= nr; r += 2) gemv_q8_0_rows<2>(np, tail, wp + r * ws, ws, pp, y + r);
  if (r < nr) gemv_q8_0_rows<1>(np, tail, wp + r * ws, ws, pp, y + r);
}

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
    {gemv_q8_0_prep_bytes, gemv_q8_0_prep, gemv_q8_0},
    {gemv_q4_1_prep_bytes, gemv_q4_1_prep, gemv_q4_1},
};

}  // namespace

const CpuKernels& kernels_avx512() { return kTable; }

}  // namespace pagoda::cpu
