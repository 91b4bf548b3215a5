// The CPU KV cache: per layer, one K and one V page pool [num_pages, P, Hkv, D] in host memory.
// It owns storage only; which pages belong to which sequence is decided above (runtime / kv).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/paged_kv.hpp"

namespace pagoda {

class CpuKvCache {
 public:
  CpuKvCache(int64_t num_layers, int64_t num_pages, PagedKvLayout layout);

  PagedKvView view(int64_t layer);
  const PagedKvLayout& layout() const { return layout_; }
  int64_t num_pages() const { return num_pages_; }
  uint64_t bytes() const;
  void copy_page(int64_t src, int64_t dst);  // every layer's K and V

 private:
  struct FreeDeleter {
    void operator()(void* p) const;
  };
  PagedKvLayout layout_;
  int64_t num_pages_;
  std::vector<std::unique_ptr<uint8_t, FreeDeleter>> k_, v_;
};

}  // namespace pagoda
