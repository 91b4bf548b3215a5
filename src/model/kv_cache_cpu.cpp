#include "model/kv_cache_cpu.hpp"

#include <cstdlib>
#include <cstring>

#include "core/checked_math.hpp"
#include "core/error.hpp"

namespace pagoda {

void CpuKvCache::FreeDeleter::operator()(void* p) const { std::free(p); }

CpuKvCache::CpuKvCache(int64_t num_layers, int64_t num_pages, PagedKvLayout layout)
    : layout_(layout), num_pages_(num_pages) {
  PAGODA_CHECK(num_pages > 0 && layout.page_size > 0, "KV cache needs at least one page");
  const uint64_t elems = mul_or_fail(static_cast<uint64_t>(num_pages), static_cast<uint64_t>(layout.page_elems()), "KV cache size");
  const uint64_t bytes = mul_or_fail(elems, dtype_info(layout.dtype).block_bytes, "KV cache size");
  const uint64_t aligned = (bytes + 63) / 64 * 64;
  for (int64_t l = 0; l < num_layers; ++l) {
    void* k = std::aligned_alloc(64, aligned);
    void* v = std::aligned_alloc(64, aligned);
    if (!k || !v) {
      std::free(k);
      std::free(v);
      fail("cannot allocate KV cache ({} MiB per layer)", 2 * aligned >> 20);
    }
    k_.emplace_back(static_cast<uint8_t*>(k));
    v_.emplace_back(static_cast<uint8_t*>(v));
  }
}

PagedKvView CpuKvCache::view(int64_t layer) {
  PagedKvView v;
  v.k = k_[static_cast<size_t>(layer)].get();
  v.v = v_[static_cast<size_t>(layer)].get();
  v.layout = layout_;
  v.num_pages = num_pages_;
  return v;
}

uint64_t CpuKvCache::bytes() const {
  return 2ull * k_.size() * static_cast<uint64_t>(num_pages_) * static_cast<uint64_t>(layout_.page_elems()) *
         dtype_info(layout_.dtype).block_bytes;
}

void CpuKvCache::copy_page(int64_t src, int64_t dst) {
  PAGODA_CHECK(src >= 0 && src < num_pages_ && dst >= 0 && dst < num_pages_, "KV page copy {} -> {} out of range", src, dst);
  const uint64_t page_bytes = static_cast<uint64_t>(layout_.page_elems()) * dtype_info(layout_.dtype).block_bytes;
  for (size_t l = 0; l < k_.size(); ++l) {
    std::memcpy(k_[l].get() + dst * page_bytes, k_[l].get() + src * page_bytes, page_bytes);
    std::memcpy(v_[l].get() + dst * page_bytes, v_[l].get() + src * page_bytes, page_bytes);
  }
}

}  // namespace pagoda
