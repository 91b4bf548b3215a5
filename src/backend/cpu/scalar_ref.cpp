// GGML block formats to float, and float activations to Q8_0 / Q8_1, in plain C++.
// Rounding follows llama.cpp's reference quantizer (roundf: half away from zero; d kept in fp32
// while quantizing and stored as fp16) so our activation blocks are bit-identical to its.
#include "backend/cpu/scalar_ref.hpp"

#include <cmath>

#include "backend/cpu/blocks.hpp"
#include "core/dtype.hpp"

namespace pagoda::cpu {

void dequantize_q8_0_ref(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / QK; ++i) {
    const float d = f16_to_f32(b[i].d);
    for (int j = 0; j < QK; ++j) dst[i * QK + j] = b[i].qs[j] * d;
  }
}

void dequantize_q8_1_ref(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_1*>(src);
  for (int64_t i = 0; i < n / QK; ++i) {
    const float d = f16_to_f32(b[i].d);
    for (int j = 0; j < QK; ++j) dst[i * QK + j] = b[i].qs[j] * d;
  }
}

void dequantize_q4_0_ref(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n / QK; ++i) {
    const float d = f16_to_f32(b[i].d);
    for (int j = 0; j < QK / 2; ++j) {
      dst[i * QK + j] = ((b[i].qs[j] & 0xF) - 8) * d;
      dst[i * QK + j + QK / 2] = ((b[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1_ref(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < n / QK; ++i) {
    const float d = f16_to_f32(b[i].d), m = f16_to_f32(b[i].m);
    for (int j = 0; j < QK / 2; ++j) {
      dst[i * QK + j] = (b[i].qs[j] & 0xF) * d + m;
      dst[i * QK + j + QK / 2] = (b[i].qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_q4_k_ref(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_K*>(src);
  for (int64_t i = 0; i < n / QKK; ++i) {
    const float d = f16_to_f32(b[i].d), dmin = f16_to_f32(b[i].dmin);
    const uint8_t* q = b[i].qs;
    float* y = dst + i * QKK;
    for (int j = 0; j < 4; ++j) {  // 64 elements per step: two sub-blocks sharing 32 bytes
      int sc0, m0, sc1, m1;
      q4_k_scale_min(2 * j, b[i].scales, sc0, m0);
      q4_k_scale_min(2 * j + 1, b[i].scales, sc1, m1);
      const float d0 = d * sc0, mm0 = dmin * m0, d1 = d * sc1, mm1 = dmin * m1;
      for (int l = 0; l < 32; ++l) y[64 * j + l] = d0 * (q[32 * j + l] & 0xF) - mm0;
      for (int l = 0; l < 32; ++l) y[64 * j + 32 + l] = d1 * (q[32 * j + l] >> 4) - mm1;
    }
  }
}

void dequantize_q6_k_ref(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ6_K*>(src);
  for (int64_t i = 0; i < n / QKK; ++i) {
    const float d = f16_to_f32(b[i].d);
    for (int half = 0; half < 2; ++half) {  // 128 elements from 64 ql bytes, 32 qh bytes, 8 scales
      const uint8_t* ql = b[i].ql + 64 * half;
      const uint8_t* qh = b[i].qh + 32 * half;
      const int8_t* sc = b[i].scales + 8 * half;
      float* y = dst + i * QKK + 128 * half;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

void dequantize_f16_ref(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(h[i]);
}

void dequantize_bf16_ref(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(h[i]);
}

namespace {
// Shared by both quantizers: returns the fp32 scale d and writes q = round(x / d).
float quantize_block(const float* x, int8_t* qs) {
  float amax = 0.0f;
  for (int j = 0; j < QK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < QK; ++j) {
    const float r = std::roundf(x[j] * id);
    qs[j] = (r >= -127.0f && r <= 127.0f) ? static_cast<int8_t>(r) : 0;  // NaN/inf input: no UB
  }
  return d;
}
}  // namespace

void quantize_q8_0_ref(const float* x, void* dst, int64_t k) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < k / QK; ++i) b[i].d = f32_to_f16(quantize_block(x + i * QK, b[i].qs));
}

void quantize_q8_1_ref(const float* x, void* dst, int64_t k) {
  auto* b = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < k / QK; ++i) {
    const float d = quantize_block(x + i * QK, b[i].qs);
    int sum = 0;
    for (int j = 0; j < QK; ++j) sum += b[i].qs[j];
    b[i].d = f32_to_f16(d);
    b[i].s = f32_to_f16(static_cast<float>(sum) * d);
  }
}

}  // namespace pagoda::cpu
