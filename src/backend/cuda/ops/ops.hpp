// The non-attention CUDA kernels of a Llama-family forward: embedding, fused residual-add + RMSNorm,
// fused QKV bias + RoPE (Q and K) + paged KV append, SwiGLU, greedy sampling, random fills, and an
// exact paged attention for shapes the fast attention kernels do not cover (fp32, odd head dims).
// Promises: launches only on the given stream (graph capturable, no allocation, no host sync);
// every launch is checked. Activations are `act` dtype (F32, F16 or BF16); the residual stream is fp32.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "backend/paged_kv.hpp"
#include "core/dtype.hpp"

namespace pagoda::cuda {

// x [T, hidden] fp32 = table[tokens[t]] (table [V, hidden] of `dtype`).
void embedding_gather(const void* table, DType dtype, const int32_t* tokens, int64_t T, int64_t hidden, float* x,
                      cudaStream_t stream);

// For each row: x += delta (if delta is non-null, `act` dtype), then out = x / rms(x) * w in `act`.
// x [T, hidden] fp32 is updated in place; w [hidden] fp32.
void add_rmsnorm(float* x, const void* delta, const float* w, int64_t T, int64_t hidden, float eps, void* out,
                 DType act, cudaStream_t stream);

// The final norm for the rows that need logits only: out[r] = norm(x[rows[r]] + delta[rows[r]]) * w.
// x is not modified. rows [R] device.
void gather_add_rmsnorm(const float* x, const void* delta, const int32_t* rows, int64_t R, const float* w,
                        int64_t hidden, float eps, void* out, DType act, cudaStream_t stream);

struct QkvRopeAppendArgs {
  const void* qkv = nullptr;     // [T, (H + 2 Hkv) D] act: the fused projection's output
  const float* bias = nullptr;   // [(H + 2 Hkv) D] or null
  const int32_t* positions = nullptr;     // [T]
  const int64_t* slot_mapping = nullptr;  // [T] page * P + slot; negative = padding, not written
  const float* inv_freq = nullptr;        // [rope_dim / 2]
  int32_t rope_dim = 0;
  bool interleaved = false;
  int64_t T = 0;
  int32_t H = 0;
  void* q_out = nullptr;  // [T, H, D] act, rotated
  PagedKvView cache;      // K rotated, V as is, in the cache's dtype
};
// One pass over the QKV projection: bias, RoPE on Q and K (angles and their range reduction in f64
// like the CPU oracle; for even head dims the rotation itself in f32, a few ulps from the oracle),
// Q to q_out, K/V into their pages.
void qkv_rope_append(const QkvRopeAppendArgs& a, DType act, cudaStream_t stream);

// out [T, F] = silu(gu[:, :F]) * gu[:, F:], gu [T, 2F] act.
void silu_mul(const void* gu, int64_t T, int64_t F, void* out, DType act, cudaStream_t stream);

// Exact paged attention for any head dim <= 256 and any cache dtype (f32/f16/bf16), fp32 math.
// q, out [T, H, D] act; batch arrays are device pointers; token_seq [T] maps each token to its
// sequence (device). Used where the FlashAttention/Flash-Decoding kernels have no instantiation.
void attention_exact(const void* q, int32_t H, const PagedKvView& cache, const AttentionBatch& batch, int64_t T,
                     const int32_t* token_seq, void* out, DType act, cudaStream_t stream);

// ids [R] = argmax over each row of logits [R, V] fp32 (lowest index on ties, like std::max_element).
void argmax_rows(const float* logits, int64_t R, int64_t V, int32_t* ids, cudaStream_t stream);

// n values ~ N(mean, stddev) from a counter-based hash of (seed, index): reproducible, device-only.
void random_normal_fill(void* dst, DType dtype, int64_t n, uint64_t seed, float mean, float stddev,
                        cudaStream_t stream);

// dst (dtype) = src fp32, n elements (device to device).
void convert_from_f32(const float* src, void* dst, DType dtype, int64_t n, cudaStream_t stream);

}  // namespace pagoda::cuda
