// CPU backend operations used by the model. Activations are float32, row-major. Weights may be
// any supported dtype; matmuls dequantize or quantize on the fly and never materialise a float
// copy of a weight matrix. Every function parallelises over threads_get() threads.
#pragma once

#include <cstdint>

#include "backend/paged_kv.hpp"
#include "core/dtype.hpp"

namespace pagoda::cpu {

// A weight matrix W [N, K]: N rows of K elements, each row `row_bytes` bytes (quantized rows are
// whole blocks).
struct WeightView {
  DType dtype = DType::DTYPE_F32;
  int64_t rows = 0;  // N
  int64_t cols = 0;  // K
  const void* data = nullptr;
  uint64_t row_bytes = 0;
};

// y [T, N] = x [T, K] · W^T (+ bias [N] if non-null).
void matmul(const WeightView& w, const float* x, int64_t T, float* y, const float* bias = nullptr);

// out [T, D] = x[ids[t]] rows of an embedding table [V, D] (any dtype), dequantized.
void embedding_lookup(const WeightView& table, const int32_t* ids, int64_t T, float* out);

// Converts one row of n elements of `dtype` to float.
void dequantize_row(DType dtype, const void* src, float* dst, int64_t n);

// out [T, D] = x / rms(x) * w; out may alias x.
void rmsnorm(const float* x, const float* w, int64_t T, int64_t D, float eps, float* out);

// x [T, D] += y [T, D]
void add_inplace(float* x, const float* y, int64_t n);

// out [T, F] = silu(gate) * up, where gate_up holds gate [T, F] and up [T, F] as separate arrays.
void silu_mul(const float* gate, const float* up, int64_t n, float* out);

// Rotates the first rope_dim dims of each head of x [T, H, D] in place at positions[t], using
// inv_freq [rope_dim / 2]. interleaved: pairs (2i, 2i+1); otherwise pairs (i, i + rope_dim/2).
void rope_apply(float* x, int64_t T, int64_t H, int64_t D, int64_t rope_dim, const int32_t* positions,
                const float* inv_freq, bool interleaved);

// Writes k, v [T, Hkv, D] (float) for the tokens of a ragged batch into their pages.
// slot_mapping[t] = page * P + slot for token t (so the view's layout decides the address).
void kv_append(const PagedKvView& cache, const float* k, const float* v, int64_t T, const int64_t* slot_mapping);

// out [T, H, D] = softmax(q k^T * scale) v over the paged cache, GQA/MQA native (H % Hkv == 0;
// each KV head serves H / Hkv query heads without copying). Also writes lse [T, H] if non-null.
void attention_paged(const float* q, int64_t H, const PagedKvView& cache, const AttentionBatch& batch,
                     float* out, float* lse = nullptr);

}  // namespace pagoda::cpu
