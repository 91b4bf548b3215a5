// Portable single-row conversions shared by every ISA table and by dequantize_row:
// GGML-exact dequantization of each weight format and the llama.cpp activation quantizers.
// They are the semantic reference; SIMD kernels must agree with them.
#pragma once

#include <cstdint>

namespace pagoda::cpu {

void dequantize_q8_0_ref(const void* src, float* dst, int64_t n);
void dequantize_q8_1_ref(const void* src, float* dst, int64_t n);
void dequantize_q4_0_ref(const void* src, float* dst, int64_t n);
void dequantize_q4_1_ref(const void* src, float* dst, int64_t n);
void dequantize_q4_k_ref(const void* src, float* dst, int64_t n);
void dequantize_q6_k_ref(const void* src, float* dst, int64_t n);
void dequantize_f16_ref(const void* src, float* dst, int64_t n);
void dequantize_bf16_ref(const void* src, float* dst, int64_t n);

void quantize_q8_0_ref(const float* x, void* dst, int64_t k);
void quantize_q8_1_ref(const float* x, void* dst, int64_t k);

}  // namespace pagoda::cpu
