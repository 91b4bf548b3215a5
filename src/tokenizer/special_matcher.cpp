// Children are small sorted vectors: added-token sets are at most a few thousand strings that
// share long prefixes ("<|reserved_special_token_"), so lookups stay a short binary search.
#include "tokenizer/special_matcher.hpp"

#include <algorithm>

namespace pagoda {

SpecialMatcher::SpecialMatcher() : nodes_(1) {}

int32_t SpecialMatcher::child(int32_t node, uint8_t b) const {
  const auto& ch = nodes_[node].children;
  auto it = std::lower_bound(ch.begin(), ch.end(), b, [](const auto& p, uint8_t v) { return p.first < v; });
  return it != ch.end() && it->first == b ? it->second : -1;
}

void SpecialMatcher::add(std::string_view text, int32_t id, bool special) {
  if (text.empty()) return;
  int32_t node = 0;
  for (char c : text) {
    const uint8_t b = static_cast<uint8_t>(c);
    int32_t next = child(node, b);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_.emplace_back();
      auto& ch = nodes_[node].children;
      auto it = std::lower_bound(ch.begin(), ch.end(), b, [](const auto& p, uint8_t v) { return p.first < v; });
      ch.insert(it, {b, next});
    }
    node = next;
  }
  first_byte_[static_cast<uint8_t>(text[0])] = true;
  if (nodes_[node].id < 0) {  // the first registration of a string wins
    nodes_[node].id = id;
    nodes_[node].special = special;
  }
}

SpecialMatcher::Match SpecialMatcher::match_at(std::string_view text, size_t pos, bool parse_special) const {
  Match best;
  if (!first_byte_[static_cast<uint8_t>(text[pos])]) return best;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    node = child(node, static_cast<uint8_t>(text[i]));
    if (node < 0) break;
    const Node& n = nodes_[node];
    if (n.id >= 0 && (parse_special || !n.special)) best = {n.id, static_cast<uint32_t>(i + 1 - pos)};
  }
  return best;
}

}  // namespace pagoda
