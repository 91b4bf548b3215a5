// The BPE merge step: given the symbols of one word, repeatedly merges the adjacent pair of lowest
// rank (leftmost first on ties) until no ranked pair is left. O(n log n) per word: a doubly linked
// list of symbols plus a min-heap of candidate pairs with lazy invalidation, never a rescan.
// It knows nothing about text: pre-tokenization and byte mapping happen before, in the tokenizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace pagoda {

class BpeModel {
 public:
  // rank: lower merges first. Adding the same pair twice keeps the first (lowest) rank, as
  // Hugging Face does for duplicate lines in a merges list.
  void add_merge(int32_t left, int32_t right, int32_t merged, int32_t rank);
  size_t num_merges() const { return pairs_.size(); }

  // symbols: token ids of the word's initial pieces; replaced by the merged ids.
  void merge(std::vector<int32_t>& symbols) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t merged;
  };
  static uint64_t key(int32_t l, int32_t r) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
  }
  const Merge* find(int32_t l, int32_t r) const {
    auto it = pairs_.find(key(l, r));
    return it == pairs_.end() ? nullptr : &it->second;
  }
  std::unordered_map<uint64_t, Merge> pairs_;
};

}  // namespace pagoda
