// The per-CTA prologue shared by the prefill kernels (flash_prefill.cuh, flash_prefill_sm90.cuh):
// which sequence, KV head and tile of packed (token, head-in-group) rows a CTA owns, and which
// keys it reads. Grid (row tiles, Hkv, B); row tiles run heaviest (most keys) first for causal load
// balance. Reads cu_seqlens_q and kv_lens only.
#pragma once

#include "backend/cuda/attention_params.hpp"

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
  w.kv_len = p.kv_lens[w.b];
  w.q_off = w.kv_len - w.q_len;
  const int last_row = min(w.row0 + BM, w.rows_total) - 1;
  w.kv_end = p.causal ? min(w.kv_len, w.q_off + last_row / w.G + 1) : w.kv_len;
  w.n_tiles = w.kv_end > 0 ? (w.kv_end + BN - 1) / BN : 0;
  return true;
}

}  // namespace pagoda::cuda
