// The portable kernel table: plain C++ tiles that spell out each format's dot-product semantics.
// Every SIMD table must agree with this one (up to float summation order); it is also the
// fallback on CPUs without AVX2. Per block, integer products are summed exactly, then scaled.
#include <cstring>

#include "backend/cpu/attention_item.inc"
#include "backend/cpu/blocks.hpp"
#include "backend/cpu/kernels.hpp"
#include "backend/cpu/scalar_ref.hpp"

namespace pagoda::cpu {
namespace {

template <typename Dot>
void tile_loop(int nr, int nt, float* y, int64_t ldy, Dot dot) {
  for (int t = 0; t < nt; ++t)
    for (int r = 0; r < nr; ++r) y[t * ldy + r] = dot(r, t);
}

void tile_q8_0(int64_t k, const void* w, uint64_t ws, int nr, const void* a, uint64_t as, int nt, float* y,
               int64_t ldy) {
  tile_loop(nr, nt, y, ldy, [&](int r, int t) {
    const auto* wb = reinterpret_cast<const BlockQ8_0*>(static_cast<const char*>(w) + r * ws);
    const auto* ab = reinterpret_cast<const BlockQ8_0*>(static_cast<const char*>(a) + t * as);
    float sum = 0.0f;
    for (int64_t i = 0; i < k / QK; ++i) {
      int isum = 0;
      for (int j = 0; j < QK; ++j) isum += wb[i].qs[j] * ab[i].qs[j];
      sum += f16_to_f32(wb[i].d) * f16_to_f32(ab[i].d) * static_cast<float>(isum);
    }
    return sum;
  });
}

void tile_q4_0(int64_t k, const void* w, uint64_t ws, int nr, const void* a, uint64_t as, int nt, float* y,
               int64_t ldy) {
  tile_loop(nr, nt, y, ldy, [&](int r, int t) {
    const auto* wb = reinterpret_cast<const BlockQ4_0*>(static_cast<const char*>(w) + r * ws);
    const auto* ab = reinterpret_cast<const BlockQ8_0*>(static_cast<const char*>(a) + t * as);
    float sum = 0.0f;
    for (int64_t i = 0; i < k / QK; ++i) {
      int isum = 0;
      for (int j = 0; j < QK / 2; ++j)
        isum += ((wb[i].qs[j] & 0xF) - 8) * ab[i].qs[j] + ((wb[i].qs[j] >> 4) - 8) * ab[i].qs[j + QK / 2];
      sum += f16_to_f32(wb[i].d) * f16_to_f32(ab[i].d) * static_cast<float>(isum);
    }
    return sum;
  });
}

void tile_q4_1(int64_t k, const void* w, uint64_t ws, int nr, const void* a, uint64_t as, int nt, float* y,
               int64_t ldy) {
  tile_loop(nr, nt, y, ldy, [&](int r, int t) {
    const auto* wb = reinterpret_cast<const BlockQ4_1*>(static_cast<const char*>(w) + r * ws);
    const auto* ab = reinterpret_cast<const BlockQ8_1*>(static_cast<const char*>(a) + t * as);
    float sum = 0.0f;
    for (int64_t i = 0; i < k / QK; ++i) {
      int isum = 0;
      for (int j = 0; j < QK / 2; ++j)
        isum += (wb[i].qs[j] & 0xF) * ab[i].qs[j] + (wb[i].qs[j] >> 4) * ab[i].qs[j + QK / 2];
      // sum_j (q_j d + m) a_j d_a = d d_a sum q_j a_j + m (d_a sum a_j) = ... + m * s
      sum += f16_to_f32(wb[i].d) * f16_to_f32(ab[i].d) * static_cast<float>(isum) +
             f16_to_f32(wb[i].m) * f16_to_f32(ab[i].s);
    }
    return sum;
  });
}

template <typename Widen>
void tile_float(int64_t k, const void* w, uint64_t ws, int nr, const void* a, uint64_t as, int nt, float* y,
                int64_t ldy, Widen widen) {
  tile_loop(nr, nt, y, ldy, [&](int r, int t) {
    const char* wr = static_cast<const char*>(w) + r * ws;
    const auto* ar = reinterpret_cast<const float*>(static_cast<const char*>(a) + t * as);
    float sum = 0.0f;
    for (int64_t i = 0; i < k; ++i) sum += widen(wr, i) * ar[i];
    return sum;
  });
}

void tile_f32(int64_t k, const void* w, uint64_t ws, int nr, const void* a, uint64_t as, int nt, float* y,
              int64_t ldy) {
  tile_float(k, w, ws, nr, a, as, nt, y, ldy, [](const char* p, int64_t i) {
    float f;
    std::memcpy(&f, p + 4 * i, 4);
    return f;
  });
}

void tile_f16(int64_t k, const void* w, uint64_t ws, int nr, const void* a, uint64_t as, int nt, float* y,
              int64_t ldy) {
  tile_float(k, w, ws, nr, a, as, nt, y, ldy, [](const char* p, int64_t i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    return f16_to_f32(h);
  });
}

void tile_bf16(int64_t k, const void* w, uint64_t ws, int nr, const void* a, uint64_t as, int nt, float* y,
               int64_t ldy) {
  tile_float(k, w, ws, nr, a, as, nt, y, ldy, [](const char* p, int64_t i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    return bf16_to_f32(h);
  });
}

void attention_item(const AttentionArgs& args, int32_t b, int32_t g, int32_t q0, int32_t q1) {
  attention_item_impl(args, b, g, q0, q1);
}

const CpuKernels kTable = {
    CpuIsa::CPU_ISA_SCALAR, 4, 4, quantize_q8_0_ref, quantize_q8_1_ref, tile_q8_0,
    tile_q4_0, tile_q4_1, tile_f32, tile_f16, tile_bf16, dequantize_q4_k_ref, dequantize_q6_k_ref,
    attention_item,
    {},
    {},
};

}  // namespace

const CpuKernels& kernels_scalar() { return kTable; }

}  // namespace pagoda::cpu
