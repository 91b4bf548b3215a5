// Finds added/special token strings in text: at each position the longest token that starts there
// (a byte trie, so the cost per position is bounded by the longest token, not the token count).
// Used before pre-tokenization so special tokens are never split by BPE.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace pagoda {

class SpecialMatcher {
 public:
  SpecialMatcher();
  // special: matched only when the caller asks for special tokens (parse_special).
  void add(std::string_view text, int32_t id, bool special);
  bool empty() const { return nodes_.size() == 1; }

  struct Match {
    int32_t id = -1;
    uint32_t len = 0;
  };
  // The longest token starting at text[pos]; id -1 when none.
  Match match_at(std::string_view text, size_t pos, bool parse_special) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
    int32_t id = -1;
    bool special = false;
  };
  int32_t child(int32_t node, uint8_t b) const;
  std::vector<Node> nodes_;
  bool first_byte_[256] = {};
};

}  // namespace pagoda
