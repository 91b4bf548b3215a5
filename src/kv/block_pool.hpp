// The KV block pool: which cache pages are free, shared or cached. A plain host data structure —
// it hands out block ids and never touches device memory (the runner owns the tensors).
//   - reference counts: sequences that share a prefix (parallel sampling, prefix-cache hits) hold
//     the same block; copy-on-write gives a writer its own copy when the block is shared;
//   - prefix caching: a full block is keyed by a chained hash of its tokens and its parent's hash;
//     lookups compare the stored tokens too, so a hash collision can never return wrong KV;
//   - eviction: cached blocks nobody references stay reusable until a fresh block is needed, then
//     the least recently released one is evicted.
// Every block is in exactly one state: FREE (free list), CACHED_IDLE (ref 0, in the LRU list) or
// IN_USE (ref >= 1, cached or not). check_invariants() verifies that after any operation.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace pagoda {

class KvBlockPool {
 public:
  KvBlockPool(int32_t num_blocks, int32_t block_size, uint64_t hash_key);

  // A fresh, private block (ref 1), evicting the least recently used idle cached block when the
  // free list is empty; nullopt when every block is in use.
  std::optional<int32_t> allocate();
  void retain(int32_t block);   // another holder of the same block
  void release(int32_t block);  // drop one reference; cached blocks stay reusable at ref 0

  // Chained hash of a full block: depends on the parent block's hash and this block's tokens.
  uint64_t chain_hash(uint64_t parent_hash, std::span<const int32_t> tokens) const;
  // A cached block with this hash and exactly these tokens (retained for the caller), or nullopt.
  std::optional<int32_t> lookup(uint64_t hash, std::span<const int32_t> tokens);
  // Marks an in-use full block as reusable under `hash`. If another block already holds this
  // content, the pool keeps the existing one as the cached copy and returns false.
  bool publish(int32_t block, uint64_t hash, std::span<const int32_t> tokens);

  // Before writing into `block`: if it is shared (ref > 1) or published, returns a private copy
  // to write into (the caller copies the KV contents src -> dst) and drops the caller's reference to
  // the original. nullopt means it is already private and writable in place. Throws when a copy is
  // needed and no block is available (callers check num_available() first).
  struct CopyOnWrite {
    int32_t src;
    int32_t dst;
  };
  std::optional<CopyOnWrite> make_writable(int32_t block);

  int32_t num_blocks() const { return static_cast<int32_t>(blocks_.size()); }
  int32_t block_size() const { return block_size_; }
  int32_t num_free() const { return static_cast<int32_t>(free_.size()); }
  int32_t num_cached_idle() const { return static_cast<int32_t>(lru_.size()); }
  int32_t num_available() const { return num_free() + num_cached_idle(); }  // allocatable now
  int32_t num_in_use() const { return num_blocks() - num_available(); }
  int32_t ref_count(int32_t block) const;
  bool is_cached(int32_t block) const;
  uint64_t hits() const { return hits_; }
  uint64_t queries() const { return queries_; }

  void check_invariants() const;  // throws pagoda::Error describing the first violation

 private:
  struct Block {
    int32_t ref = 0;
    bool cached = false;
    uint64_t hash = 0;
    std::vector<int32_t> tokens;             // the block's tokens while cached
    std::list<int32_t>::iterator lru_pos;    // valid while cached and ref == 0
  };
  void check_id(int32_t block) const;
  void uncache(int32_t block);

  int32_t block_size_;
  uint64_t hash_key_;
  std::vector<Block> blocks_;
  std::vector<int32_t> free_;                       // stack of FREE blocks
  std::list<int32_t> lru_;                          // CACHED_IDLE, least recent first
  std::unordered_multimap<uint64_t, int32_t> by_hash_;  // cached blocks by chain hash
  uint64_t hits_ = 0, queries_ = 0;
};

}  // namespace pagoda
