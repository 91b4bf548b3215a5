// The paged KV cache view shared by every attention kernel, CPU and CUDA alike.
// One layer's K (and V) is [num_pages, P, Hkv, D]: a page holds P consecutive tokens of one
// sequence for all KV heads. A sequence's block table lists its pages in order, so token t of
// sequence b lives in page block_table[b * max_pages + t / P], slot t % P.
// This header holds plain pointers only; it does not allocate and does not know the device.
#pragma once

#include <cstdint>

#include "core/dtype.hpp"

namespace pagoda {

struct PagedKvLayout {
  int32_t page_size = 16;  // P
  int32_t num_kv_heads = 0;  // Hkv
  int32_t head_dim = 0;    // D
  DType dtype = DType::DTYPE_F32;

  int64_t page_elems() const { return int64_t(page_size) * num_kv_heads * head_dim; }
  // Element offset of (page, slot, head) inside one layer's K or V pool.
  int64_t offset(int64_t page, int64_t slot, int64_t head) const {
    return ((page * page_size + slot) * num_kv_heads + head) * int64_t(head_dim);
  }
};

struct PagedKvView {
  void* k = nullptr;  // [num_pages, P, Hkv, D] of layout.dtype
  void* v = nullptr;
  PagedKvLayout layout;
  int64_t num_pages = 0;
};

// A ragged batch for attention: B sequences; sequence b has q_len_b new query tokens at the end of
// kv_len_b cached tokens (the new tokens' K/V are already appended). Query i of sequence b sits at
// absolute position kv_len_b - q_len_b + i and, when causal, sees KV positions <= that.
struct AttentionBatch {
  int32_t num_seqs = 0;              // B
  const int32_t* cu_seqlens_q = nullptr;  // [B + 1] offsets into the token dimension of q/out
  const int32_t* kv_lens = nullptr;       // [B]
  const int32_t* block_table = nullptr;   // [B, max_pages_per_seq]
  int32_t max_pages_per_seq = 0;
  bool causal = true;
  float scale = 0.0f;  // softmax scale, usually 1/sqrt(D)
};

}  // namespace pagoda
