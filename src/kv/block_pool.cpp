#include "kv/block_pool.hpp"

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t's definition, so the state can live on the stack
#include <xxhash.h>

#include <algorithm>

#include "core/error.hpp"

namespace pagoda {

KvBlockPool::KvBlockPool(int32_t num_blocks, int32_t block_size, uint64_t hash_key)
    : block_size_(block_size), hash_key_(hash_key), blocks_(static_cast<size_t>(std::max(num_blocks, 0))) {
  PAGODA_CHECK(num_blocks > 0 && block_size > 0, "KV block pool needs blocks ({}) and a block size ({})", num_blocks,
               block_size);
  free_.reserve(static_cast<size_t>(num_blocks));
  for (int32_t b = num_blocks - 1; b >= 0; --b) free_.push_back(b);  // hand out low ids first
}

void KvBlockPool::check_id(int32_t block) const {
  PAGODA_CHECK(block >= 0 && block < num_blocks(), "KV block {} out of range", block);
}

int32_t KvBlockPool::ref_count(int32_t block) const {
  check_id(block);
  return blocks_[static_cast<size_t>(block)].ref;
}

bool KvBlockPool::is_cached(int32_t block) const {
  check_id(block);
  return blocks_[static_cast<size_t>(block)].cached;
}

void KvBlockPool::uncache(int32_t block) {
  Block& b = blocks_[static_cast<size_t>(block)];
  auto range = by_hash_.equal_range(b.hash);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == block) {
      by_hash_.erase(it);
      break;
    }
  }
  b.cached = false;
  b.hash = 0;
  b.tokens.clear();
}

std::optional<int32_t> KvBlockPool::allocate() {
  int32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else if (!lru_.empty()) {
    id = lru_.front();  // evict the least recently used idle cached block
    lru_.pop_front();
    uncache(id);
  } else {
    return std::nullopt;
  }
  blocks_[static_cast<size_t>(id)].ref = 1;
  return id;
}

void KvBlockPool::retain(int32_t block) {
  check_id(block);
  Block& b = blocks_[static_cast<size_t>(block)];
  PAGODA_CHECK(b.ref > 0, "retain of KV block {} that nobody holds", block);
  ++b.ref;
}

void KvBlockPool::release(int32_t block) {
  check_id(block);
  Block& b = blocks_[static_cast<size_t>(block)];
  PAGODA_CHECK(b.ref > 0, "release of KV block {} that nobody holds", block);
  if (--b.ref > 0) return;
  if (b.cached) {
    lru_.push_back(block);
    b.lru_pos = std::prev(lru_.end());
  } else {
    free_.push_back(block);
  }
}

uint64_t KvBlockPool::chain_hash(uint64_t parent_hash, std::span<const int32_t> tokens) const {
  XXH3_state_t st;  // on the stack: this runs for every full block of every request
  XXH3_INITSTATE(&st);
  XXH3_64bits_reset_withSeed(&st, hash_key_);
  XXH3_64bits_update(&st, &parent_hash, sizeof parent_hash);
  XXH3_64bits_update(&st, tokens.data(), tokens.size_bytes());
  return XXH3_64bits_digest(&st);
}

std::optional<int32_t> KvBlockPool::lookup(uint64_t hash, std::span<const int32_t> tokens) {
  ++queries_;
  auto range = by_hash_.equal_range(hash);
  for (auto it = range.first; it != range.second; ++it) {
    Block& b = blocks_[static_cast<size_t>(it->second)];
    if (!std::equal(b.tokens.begin(), b.tokens.end(), tokens.begin(), tokens.end())) continue;  // collision
    if (b.ref == 0) lru_.erase(b.lru_pos);
    ++b.ref;
    ++hits_;
    return it->second;
  }
  return std::nullopt;
}

bool KvBlockPool::publish(int32_t block, uint64_t hash, std::span<const int32_t> tokens) {
  check_id(block);
  Block& b = blocks_[static_cast<size_t>(block)];
  PAGODA_CHECK(b.ref > 0, "publish of KV block {} that nobody holds", block);
  PAGODA_CHECK(static_cast<int32_t>(tokens.size()) == block_size_, "only full blocks can be cached");
  if (b.cached) return b.hash == hash;
  auto range = by_hash_.equal_range(hash);
  for (auto it = range.first; it != range.second; ++it) {
    const Block& other = blocks_[static_cast<size_t>(it->second)];
    if (std::equal(other.tokens.begin(), other.tokens.end(), tokens.begin(), tokens.end())) return false;
  }
  b.cached = true;
  b.hash = hash;
  b.tokens.assign(tokens.begin(), tokens.end());
  by_hash_.emplace(hash, block);
  return true;
}

std::optional<KvBlockPool::CopyOnWrite> KvBlockPool::make_writable(int32_t block) {
  check_id(block);
  Block& b = blocks_[static_cast<size_t>(block)];
  PAGODA_CHECK(b.ref > 0, "write to KV block {} that nobody holds", block);
  if (b.ref == 1 && !b.cached) return std::nullopt;
  if (b.ref == 1 && b.cached) {
    // Sole holder of a published block: writing would corrupt the cached content, so unpublish it
    // and write in place — nobody else can be reading it.
    uncache(block);
    return std::nullopt;
  }
  std::optional<int32_t> dst = allocate();
  PAGODA_CHECK(dst.has_value(), "no free KV block for copy-on-write");
  release(block);
  return CopyOnWrite{block, *dst};
}

void KvBlockPool::check_invariants() const {
  std::vector<uint8_t> seen(blocks_.size(), 0);
  for (int32_t f : free_) {
    PAGODA_CHECK(f >= 0 && f < num_blocks() && !seen[static_cast<size_t>(f)], "free list holds block {} twice or out of range", f);
    seen[static_cast<size_t>(f)] = 1;
    const Block& b = blocks_[static_cast<size_t>(f)];
    PAGODA_CHECK(b.ref == 0 && !b.cached, "free block {} has ref {} cached {}", f, b.ref, b.cached);
  }
  for (int32_t c : lru_) {
    PAGODA_CHECK(c >= 0 && c < num_blocks() && !seen[static_cast<size_t>(c)], "LRU list holds block {} twice or also free", c);
    seen[static_cast<size_t>(c)] = 2;
    const Block& b = blocks_[static_cast<size_t>(c)];
    PAGODA_CHECK(b.ref == 0 && b.cached, "idle cached block {} has ref {} cached {}", c, b.ref, b.cached);
  }
  size_t cached = 0;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const Block& b = blocks_[i];
    if (!seen[i]) PAGODA_CHECK(b.ref > 0, "block {} is neither free, cached nor referenced", i);
    if (b.cached) {
      ++cached;
      PAGODA_CHECK(static_cast<int32_t>(b.tokens.size()) == block_size_, "cached block {} lacks its tokens", i);
      bool indexed = false;
      auto range = by_hash_.equal_range(b.hash);
      for (auto it = range.first; it != range.second; ++it) indexed |= it->second == static_cast<int32_t>(i);
      PAGODA_CHECK(indexed, "cached block {} missing from the hash index", i);
    }
  }
  PAGODA_CHECK(cached == by_hash_.size(), "hash index has {} entries for {} cached blocks", by_hash_.size(), cached);
}

}  // namespace pagoda
