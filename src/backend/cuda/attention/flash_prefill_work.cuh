// What the prefill kernels (flash_prefill.cuh, flash_prefill_sm90.cuh) share outside their main
// loops: the per-CTA prologue (which sequence, KV head and tile of packed (token, head-in-group)
// rows a CTA owns, and which keys it reads; reads cu_seqlens_q and kv_lens only), the store of one
// finished output row with its log-sum-exp, and the grid launch. Grid (row tiles, Hkv, B); row
// tiles run heaviest (most keys) first for causal load balance.
#pragma once

#include <cuda_runtime.h>

#include "backend/cuda/attention/attention_params.hpp"
#include "backend/cuda/device_utils.cuh"

namespace pagoda::cuda {

struct PrefillWork {
  int b;           // sequence
  int kvh;         // KV head
  int q_start;     // the sequence's first query token
  int q_len;       // its query tokens
  int G;           // query heads per KV head
  int rows_total;  // packed rows of the sequence: q_len * G
  int row0;        // this CTA's first packed row
  int kv_len;      // keys of the sequence
  int q_off;       // key position of query token 0: kv_len - q_len
  int kv_end;      // this CTA reads keys [0, kv_end) (causal: up to its last row's token)
  int n_tiles;     // BN-key tiles covering [0, kv_end)
};

// The keys a work reads, from its sequence's lengths and its first row (w.kv_len, q_len, rows_total, row0 set).
template <int BM, int BN>
__device__ __forceinline__ void prefill_work_keys(const AttentionParams& p, PrefillWork& w) {
  w.q_off = w.kv_len - w.q_len;
  const int last_row = min(w.row0 + BM, w.rows_total) - 1;
  w.kv_end = p.causal ? min(w.kv_len, w.q_off + last_row / w.G + 1) : w.kv_len;
  w.n_tiles = w.kv_end > 0 ? (w.kv_end + BN - 1) / BN : 0;
}

// False when this CTA's row tile lies past the sequence (the grid is sized for the longest one);
// the CTA then returns as a whole.
template <int BM, int BN>
__device__ __forceinline__ bool prefill_work_make(const AttentionParams& p, PrefillWork& w) {
  w.b = blockIdx.z;
  w.kvh = blockIdx.y;
  w.q_start = p.cu_seqlens_q[w.b];
  w.q_len = p.cu_seqlens_q[w.b + 1] - w.q_start;
  w.G = p.group;
  w.rows_total = w.q_len * w.G;
  const int m_block = gridDim.x - 1 - blockIdx.x;
  w.row0 = m_block * BM;
  if (w.row0 >= w.rows_total) return false;
  w.kv_len = p.kv_lens[w.b];  // after the test: a CTA past its sequence reads nothing more
  prefill_work_keys<BM, BN>(p, w);
  return true;
}

// The sequence metadata a work needs, loaded apart from its use so a caller can issue the loads
// early (one L2 trip) and finish the work later; also what the persistent kernel's work queue hands
// over (flash_prefill_sm90_queue.cuh).
struct PrefillWorkRaw {
  int m_block, kvh, b;
  int q_begin, q_end, kv_len;  // cu_seqlens_q[b], cu_seqlens_q[b + 1], kv_lens[b]
};

__device__ __forceinline__ void prefill_work_load(const AttentionParams& p, int m_block, int kvh, int b,
                                                  PrefillWorkRaw& r) {
  r.m_block = m_block;
  r.kvh = kvh;
  r.b = b;
  r.q_begin = p.cu_seqlens_q[b];
  r.q_end = p.cu_seqlens_q[b + 1];
  r.kv_len = p.kv_lens[b];
}

// Work w from its metadata. SKIP_EMPTY: false (and w left half-filled) when the row tile lies past the
// sequence (the grid is sized for the longest one); a CTA then skips that work as a whole. Without it the
// tile is known to hold rows (the queue numbers only those).
template <int BM, int BN, bool SKIP_EMPTY>
__device__ __forceinline__ bool prefill_work_fill(const AttentionParams& p, const PrefillWorkRaw& r, PrefillWork& w) {
  w.b = r.b;
  w.kvh = r.kvh;
  w.q_start = r.q_begin;
  w.q_len = r.q_end - r.q_begin;
  w.G = p.group;
  w.rows_total = w.q_len * w.G;
  w.row0 = r.m_block * BM;
  if constexpr (SKIP_EMPTY) {
    if (w.row0 >= w.rows_total) return false;
  }
  w.kv_len = r.kv_len;
  prefill_work_keys<BM, BN>(p, w);
  return true;
}
template <int BM, int BN>
__device__ __forceinline__ bool prefill_work_finish(const AttentionParams& p, const PrefillWorkRaw& r, PrefillWork& w) {
  return prefill_work_fill<BM, BN, true>(p, r, w);
}
template <int BM, int BN>
__device__ __forceinline__ void prefill_work_from_raw(const AttentionParams& p, const PrefillWorkRaw& r, PrefillWork& w) {
  prefill_work_fill<BM, BN, false>(p, r, w);
}

// Packed row rho of this CTA's sequence: out[token, head, :] = O / l and, where requested, its
// log-sum-exp (natural log; -inf for a row that saw no key). l is the row's complete sum (the
// quad's shuffles already done), m its running max in the scaled log2 domain. pair(c) gives this
// thread's two accumulators of columns c * 8 + 2 * t and + 1; t = lane % 4 writes the LSE.
template <typename T, int D, typename Pair>
__device__ __forceinline__ void prefill_store_row(const AttentionParams& p, const PrefillWork& w, int rho, float l,
                                                  float m, int t, Pair pair) {
  if (rho >= w.rows_total) return;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  const int64_t tok = w.q_start + rho / w.G;
  const int head = w.kvh * w.G + rho % w.G;
  const int H = p.num_heads;
  T* dst = static_cast<T*>(p.out) + (tok * H + head) * D;
#pragma unroll
  for (int c = 0; c < D / 8; ++c) {
    const float2 v = pair(c);
    *reinterpret_cast<uint32_t*>(dst + c * 8 + 2 * t) = dev::pack2<T>(v.x * inv, v.y * inv);
  }
  if (p.lse != nullptr && t == 0) p.lse[tok * H + head] = l > 0.0f ? (m * p.scale_log2 + log2f(l)) * dev::LN2 : -INFINITY;
}

// One launch of a prefill kernel over (row tiles, Hkv, B) with its dynamic shared memory; extra
// kernel arguments follow p.
template <typename Traits, typename Kernel, typename... Extra>
cudaError_t prefill_launch_grid(Kernel kernel, const AttentionParams& p, int64_t rows, cudaStream_t stream,
                                const Extra&... extra) {
  cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Traits::SMEM_BYTES);
  if (err != cudaSuccess) return err;
  const int64_t m_blocks = (rows + Traits::BM - 1) / Traits::BM;
  const dim3 grid(unsigned(m_blocks), unsigned(p.num_kv_heads), unsigned(p.num_seqs));
  kernel<<<grid, Traits::THREADS, Traits::SMEM_BYTES, stream>>>(p, extra...);
  return cudaGetLastError();
}

}  // namespace pagoda::cuda
