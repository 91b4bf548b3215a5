// Whole-row conversions: dequantize_row for every weight dtype, embedding lookup, and kv_append
// (f32 K/V into the cache's F32/F16/BF16 pages). Bad ids, slots and dtypes throw before any write.
#include <cstring>

#include "backend/cpu/ops.hpp"
#include "backend/cpu/scalar_ref.hpp"
#include "core/error.hpp"
#include "core/threads.hpp"

namespace pagoda::cpu {

void dequantize_row(DType dtype, const void* src, float* dst, int64_t n) {
  PAGODA_CHECK(n >= 0 && dtype_row_bytes(dtype, static_cast<uint64_t>(n)).has_value(),
               "dequantize: {} elements are not whole {} blocks", n, dtype_info(dtype).name);
  switch (dtype) {
    case DType::DTYPE_F32: std::memcpy(dst, src, sizeof(float) * n); return;
    case DType::DTYPE_F16: dequantize_f16_ref(src, dst, n); return;
    case DType::DTYPE_BF16: dequantize_bf16_ref(src, dst, n); return;
    case DType::DTYPE_Q8_0: dequantize_q8_0_ref(src, dst, n); return;
    case DType::DTYPE_Q8_1: dequantize_q8_1_ref(src, dst, n); return;
    case DType::DTYPE_Q4_0: dequantize_q4_0_ref(src, dst, n); return;
    case DType::DTYPE_Q4_1: dequantize_q4_1_ref(src, dst, n); return;
    case DType::DTYPE_Q4_K: dequantize_q4_k_ref(src, dst, n); return;
    case DType::DTYPE_Q6_K: dequantize_q6_k_ref(src, dst, n); return;
    default: fail("dequantize: type {} is not a float or block format", dtype_info(dtype).name);
  }
}

void embedding_lookup(const WeightView& table, const int32_t* ids, int64_t T, float* out) {
  for (int64_t t = 0; t < T; ++t)
    PAGODA_CHECK(ids[t] >= 0 && ids[t] < table.rows, "token id {} is outside the vocabulary of {}", ids[t],
                 table.rows);
  for (int64_t t = 0; t < T; ++t)
    dequantize_row(table.dtype, static_cast<const char*>(table.data) + ids[t] * table.row_bytes, out + t * table.cols,
                   table.cols);
}

void kv_append(const PagedKvView& cache, const float* k, const float* v, int64_t T, const int64_t* slot_mapping) {
  const PagedKvLayout& L = cache.layout;
  const DType dt = L.dtype;
  PAGODA_CHECK(dt == DType::DTYPE_F32 || dt == DType::DTYPE_F16 || dt == DType::DTYPE_BF16,
               "kv_append: KV cache type {} is not supported", dtype_info(dt).name);
  PAGODA_CHECK(L.page_size > 0 && L.num_kv_heads > 0 && L.head_dim > 0, "kv_append: bad cache layout");
  // A negative slot marks a padding token (nothing to store), as in vLLM's slot mappings.
  for (int64_t t = 0; t < T; ++t)
    PAGODA_CHECK(slot_mapping[t] < cache.num_pages * L.page_size, "kv_append: slot {} is outside {} pages of {}",
                 slot_mapping[t], cache.num_pages, L.page_size);
  const int64_t row = int64_t(L.num_kv_heads) * L.head_dim;  // one token's K (or V), all heads
  const size_t esz = dtype_info(dt).block_bytes;
  auto store = [&](void* base, const float* src, int64_t page, int64_t slot) {
    char* dst = static_cast<char*>(base) + L.offset(page, slot, 0) * esz;
    if (dt == DType::DTYPE_F32) {
      std::memcpy(dst, src, sizeof(float) * row);
    } else {
      auto* h = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < row; ++i) h[i] = dt == DType::DTYPE_F16 ? f32_to_f16(src[i]) : f32_to_bf16(src[i]);
    }
  };
#pragma omp parallel for num_threads(threads_get()) schedule(static) if (T * row >= (1 << 16))
  for (int64_t t = 0; t < T; ++t) {
    const int64_t s = slot_mapping[t];
    if (s < 0) continue;
    store(cache.k, k + t * row, s / L.page_size, s % L.page_size);
    store(cache.v, v + t * row, s / L.page_size, s % L.page_size);
  }
}

}  // namespace pagoda::cpu
