// Heap entries carry the ids they were made for; an entry whose symbols have changed since is
// stale and skipped when popped, which is cheaper than deleting from the middle of a heap.
#include "tokenizer/bpe_model.hpp"

#include <algorithm>
#include <queue>

namespace pagoda {

void BpeModel::add_merge(int32_t left, int32_t right, int32_t merged, int32_t rank) {
  pairs_.try_emplace(key(left, right), Merge{rank, merged});
}

void BpeModel::merge(std::vector<int32_t>& symbols) const {
  const int32_t n = static_cast<int32_t>(symbols.size());
  if (n < 2) return;
  struct Candidate {
    int32_t rank;
    int32_t left;  // index of the left symbol
    int32_t right;
    int32_t left_id;
    int32_t right_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::vector<int32_t> prev(n), next(n);
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  std::vector<Candidate> storage;
  storage.reserve(n);
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap(std::greater<Candidate>(),
                                                                                        std::move(storage));
  auto push = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    if (const Merge* m = find(symbols[l], symbols[r])) heap.push({m->rank, l, r, symbols[l], symbols[r]});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i, i + 1);

  std::vector<bool> dead(n, false);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    if (dead[c.left] || dead[c.right] || next[c.left] != c.right || symbols[c.left] != c.left_id ||
        symbols[c.right] != c.right_id)
      continue;  // stale
    symbols[c.left] = find(c.left_id, c.right_id)->merged;
    dead[c.right] = true;
    next[c.left] = next[c.right];
    if (next[c.right] >= 0) prev[next[c.right]] = c.left;
    push(prev[c.left], c.left);
    push(c.left, next[c.left]);
  }
  int32_t out = 0;
  for (int32_t i = 0; i >= 0 && i < n; i = next[i]) symbols[out++] = symbols[i];
  symbols.resize(out);
}

}  // namespace pagoda
