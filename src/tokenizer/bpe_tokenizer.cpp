// Encoding: split out added/special tokens (longest match), then per text segment either
// byte-level (regex words -> bytes -> BPE, with a word cache) or SentencePiece (escape spaces as
// "▁", characters -> ids with <0xNN> byte fallback -> BPE over the whole segment).
// Invalid UTF-8 input is first repaired to U+FFFD (see utf8.hpp), the same text Python would see.
#include "tokenizer/bpe_tokenizer.hpp"

#include <algorithm>
#include <mutex>
#include <numeric>
#include <string_view>
#include <unordered_map>

#include "core/error.hpp"
#include "tokenizer/bpe_model.hpp"
#include "tokenizer/byte_level.hpp"
#include "tokenizer/pre_tokenizer.hpp"
#include "tokenizer/special_matcher.hpp"
#include "tokenizer/utf8.hpp"

namespace pagoda {
namespace {

constexpr std::string_view SPM_SPACE = "\xE2\x96\x81";  // U+2581 "▁"

// Token strings that end a generation turn in the model families we serve (llama.cpp keeps the
// same list): the model's eos id is not always the token a chat model emits at the end of a turn.
constexpr std::string_view END_OF_GENERATION_NAMES[] = {
    "<|eot_id|>", "<|im_end|>", "<|endoftext|>", "<end_of_turn>", "<|end|>", "<|eom_id|>",
    "<|end_of_text|>", "<EOT>", "<|return|>", "<|call|>", "<end_of_utterance>",
};

// Words longer than this are not cached: they are rare and would crowd out the common ones.
constexpr size_t WORD_CACHE_MAX_BYTES = 64;
constexpr size_t WORD_CACHE_MAX_ENTRIES = 1 << 16;

// Lets the maps be searched with a string_view, without building a std::string per lookup.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

int parse_byte_token(std::string_view t) {  // "<0xNN>" -> NN, else -1
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(TokenizerSpec spec) : spec_(std::move(spec)) {
    const size_t n = spec_.tokens.size();
    PAGODA_CHECK(n > 0, "tokenizer has an empty vocabulary");
    PAGODA_CHECK(n < static_cast<size_t>(INT32_MAX), "tokenizer vocabulary too large ({})", n);
    if (spec_.types.empty()) spec_.types.assign(n, TokenType::TOKEN_TYPE_NORMAL);
    PAGODA_CHECK(spec_.types.size() == n, "tokenizer has {} token types for {} tokens", spec_.types.size(), n);
    for (int32_t* id : {&spec_.bos_id, &spec_.eos_id, &spec_.unk_id, &spec_.pad_id})
      if (*id < -1 || *id >= static_cast<int32_t>(n)) *id = -1;  // out of range: treated as absent
    if (spec_.unk_id >= 0 && spec_.types[spec_.unk_id] == TokenType::TOKEN_TYPE_NORMAL)
      spec_.types[spec_.unk_id] = TokenType::TOKEN_TYPE_UNKNOWN;
    if (!spec_.add_bos || spec_.bos_id < 0) spec_.add_bos = false;

    vocab_.reserve(n * 2);
    for (size_t i = 0; i < n; ++i)
      if (!spec_.tokens[i].empty()) vocab_.try_emplace(spec_.tokens[i], static_cast<int32_t>(i));

    build_bytes();
    build_merges();
    if (spec_.kind == TokenizerKind::TOKENIZER_KIND_SENTENCEPIECE) spm_split_before_space_ = no_token_joins_word_and_space();
    if (spec_.kind == TokenizerKind::TOKENIZER_KIND_BYTE_LEVEL) pre_ = PreTokenizer(spec_.split_patterns);

    special_.assign(n, false);
    eog_.assign(n, false);
    for (size_t i = 0; i < n; ++i) {
      const TokenType t = spec_.types[i];
      const bool special = t == TokenType::TOKEN_TYPE_CONTROL || t == TokenType::TOKEN_TYPE_UNKNOWN;
      special_[i] = special;
      if (special || t == TokenType::TOKEN_TYPE_USER_DEFINED)
        specials_.add(spec_.tokens[i], static_cast<int32_t>(i), special);
      for (std::string_view name : END_OF_GENERATION_NAMES)
        if (spec_.tokens[i] == name) eog_[i] = true;
    }
    if (spec_.eos_id >= 0) eog_[spec_.eos_id] = true;
  }

  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const override {
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (add_bos && spec_.add_bos) out.push_back(spec_.bos_id);
    std::string repaired;
    if (!utf8_is_valid(text)) {
      repaired = utf8_sanitize(text);
      text = repaired;
    }
    size_t segment = 0;
    if (!specials_.empty()) {
      for (size_t i = 0; i < text.size();) {
        const SpecialMatcher::Match m = specials_.match_at(text, i, parse_special);
        if (m.id < 0) {
          ++i;
          continue;
        }
        encode_segment(text.substr(segment, i - segment), segment == 0, out);
        out.push_back(m.id);
        i += m.len;
        segment = i;
      }
    }
    encode_segment(text.substr(segment), segment == 0, out);
    return out;
  }

  std::string token_bytes(int32_t id) const override {
    PAGODA_CHECK(id >= 0 && id < vocab_size(), "token id {} out of range (vocabulary has {})", id, vocab_size());
    return decoded_[id];
  }

  int32_t vocab_size() const override { return static_cast<int32_t>(spec_.tokens.size()); }
  int32_t bos_id() const override { return spec_.bos_id; }
  int32_t eos_id() const override { return spec_.eos_id; }
  bool is_end_of_generation(int32_t id) const override { return id >= 0 && id < vocab_size() && eog_[id]; }
  bool is_special(int32_t id) const override { return id >= 0 && id < vocab_size() && special_[id]; }
  int32_t token_id(std::string_view piece) const override {
    return lookup(piece);
  }
  const std::string& chat_template() const override { return spec_.chat_template; }

 private:
  void build_bytes() {
    const size_t n = spec_.tokens.size();
    std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1);
    decoded_.resize(n);
    const bool byte_level = spec_.kind == TokenizerKind::TOKENIZER_KIND_BYTE_LEVEL;
    if (byte_level) {
      for (int b = 0; b < 256; ++b) {
        byte_ids_[b] = lookup(byte_level_char(static_cast<uint8_t>(b)));
      }
    }
    for (size_t i = 0; i < n; ++i) {
      const std::string& t = spec_.tokens[i];
      switch (spec_.types[i]) {
        case TokenType::TOKEN_TYPE_CONTROL:
        case TokenType::TOKEN_TYPE_UNKNOWN:
        case TokenType::TOKEN_TYPE_USER_DEFINED:
          decoded_[i] = t;  // added tokens are stored as their own text
          break;
        case TokenType::TOKEN_TYPE_BYTE:
          if (const int b = parse_byte_token(t); b >= 0) {
            decoded_[i] = std::string(1, static_cast<char>(b));
            if (!byte_level && byte_ids_[b] < 0) byte_ids_[b] = static_cast<int32_t>(i);
            break;
          }
          [[fallthrough]];
        default:
          if (byte_level) {
            byte_level_decode(t, decoded_[i]);
          } else {
            decoded_[i].reserve(t.size());
            for (size_t p = 0; p < t.size();) {
              if (t.compare(p, SPM_SPACE.size(), SPM_SPACE) == 0) {
                decoded_[i].push_back(' ');
                p += SPM_SPACE.size();
              } else {
                decoded_[i].push_back(t[p++]);
              }
            }
          }
      }
    }
  }

  // True when no mergeable token contains "▁" right after another character, so a merge can never
  // join the end of one word to the "▁" that starts the next.
  bool no_token_joins_word_and_space() const {
    for (size_t i = 0; i < spec_.tokens.size(); ++i) {
      const TokenType t = spec_.types[i];
      if (t != TokenType::TOKEN_TYPE_NORMAL && t != TokenType::TOKEN_TYPE_UNUSED && t != TokenType::TOKEN_TYPE_UNDEFINED)
        continue;
      const std::string_view tok = spec_.tokens[i];
      for (size_t p = tok.find(SPM_SPACE, 1); p != std::string_view::npos; p = tok.find(SPM_SPACE, p + 1))
        if (p < SPM_SPACE.size() || tok.compare(p - SPM_SPACE.size(), SPM_SPACE.size(), SPM_SPACE) != 0) return false;
    }
    return true;
  }

  int32_t lookup(std::string_view s) const {
    auto it = vocab_.find(s);
    return it == vocab_.end() ? -1 : it->second;
  }

  void build_merges() {
    if (!spec_.merges_from_scores) {
      int32_t rank = 0;
      for (const auto& [l, r] : spec_.merges) {
        std::string joined;
        joined.reserve(l.size() + r.size());
        joined.append(l).append(r);
        const int32_t li = lookup(l), ri = lookup(r), mi = lookup(joined);
        // Hugging Face rejects such a merges list; llama.cpp ignores the line. Ignoring keeps
        // every remaining merge usable.
        if (li >= 0 && ri >= 0 && mi >= 0) bpe_.add_merge(li, ri, mi, rank);
        ++rank;
      }
      return;
    }
    const size_t n = spec_.tokens.size();
    PAGODA_CHECK(spec_.scores.size() == n, "tokenizer has {} scores for {} tokens", spec_.scores.size(), n);
    std::vector<int32_t> order;
    for (size_t i = 0; i < n; ++i)
      if (spec_.types[i] == TokenType::TOKEN_TYPE_NORMAL) order.push_back(static_cast<int32_t>(i));
    std::stable_sort(order.begin(), order.end(),
                     [&](int32_t a, int32_t b) { return spec_.scores[a] > spec_.scores[b]; });
    for (size_t rank = 0; rank < order.size(); ++rank) {
      const std::string& piece = spec_.tokens[order[rank]];
      size_t p = 0;
      while (p < piece.size()) {
        p += utf8_step(piece, p).len;
        if (p >= piece.size()) break;
        const int32_t li = lookup(std::string_view(piece).substr(0, p));
        if (li < 0) continue;
        const int32_t ri = lookup(std::string_view(piece).substr(p));
        if (ri >= 0) bpe_.add_merge(li, ri, order[rank], static_cast<int32_t>(rank));
      }
    }
  }

  void encode_segment(std::string_view seg, bool at_start, std::vector<int32_t>& out) const {
    if (seg.empty()) return;
    if (spec_.kind == TokenizerKind::TOKENIZER_KIND_SENTENCEPIECE)
      encode_sentencepiece(seg, at_start, out);
    else
      encode_byte_level(seg, out);
  }

  void encode_sentencepiece(std::string_view seg, bool at_start, std::vector<int32_t>& out) const {
    std::string text;
    text.reserve(seg.size() + 16);
    if (spec_.add_space_prefix && (at_start || !spec_.space_prefix_first_only) &&
        !(spec_.space_prefix_unless_space && seg.front() == ' '))
      text.append(SPM_SPACE);
    for (char c : seg) {
      if (c == ' ')
        text.append(SPM_SPACE);
      else
        text.push_back(c);
    }
    // Word boundaries: every "▁" under Metaspace(split); otherwise only where no merge can cross,
    // i.e. before a "▁" that follows another character, when no token contains such a pair.
    // Splitting keeps long texts O(n log n) in short words, and lets the word cache work.
    if (!spec_.split_on_space && !spm_split_before_space_) {
      encode_sentencepiece_word(text, out);
      return;
    }
    const std::string_view t = text;
    size_t word = 0;
    for (size_t p = 1; p + SPM_SPACE.size() <= t.size(); ++p) {
      if (t.compare(p, SPM_SPACE.size(), SPM_SPACE) != 0) continue;
      const bool after_space = p >= SPM_SPACE.size() && t.compare(p - SPM_SPACE.size(), SPM_SPACE.size(), SPM_SPACE) == 0;
      if (spec_.split_on_space || !after_space) {
        encode_sentencepiece_word(t.substr(word, p - word), out);
        word = p;
      }
    }
    encode_sentencepiece_word(t.substr(word), out);
  }

  void encode_sentencepiece_word(std::string_view text, std::vector<int32_t>& out) const {
    if (cache_lookup(text, out)) return;
    std::vector<int32_t> symbols;
    symbols.reserve(text.size());
    bool prev_unk = false;
    for (size_t p = 0; p < text.size();) {
      const uint32_t len = utf8_step(text, p).len;
      const std::string_view ch = text.substr(p, len);
      p += len;
      if (const int32_t id = lookup(ch); id >= 0) {
        symbols.push_back(id);
        prev_unk = false;
        continue;
      }
      if (spec_.byte_fallback) {
        bool all = true;
        for (char c : ch) all = all && byte_ids_[static_cast<uint8_t>(c)] >= 0;
        if (all) {
          for (char c : ch) symbols.push_back(byte_ids_[static_cast<uint8_t>(c)]);
          prev_unk = false;
          continue;
        }
      }
      PAGODA_CHECK(spec_.unk_id >= 0, "character '{}' has no token and the vocabulary has no unknown token", ch);
      if (!prev_unk) symbols.push_back(spec_.unk_id);  // consecutive unknowns fuse into one
      prev_unk = true;
    }
    bpe_.merge(symbols);
    out.insert(out.end(), symbols.begin(), symbols.end());
    cache_store(text, symbols);
  }

  bool cache_lookup(std::string_view word, std::vector<int32_t>& out) const {
    if (word.size() > WORD_CACHE_MAX_BYTES) return false;
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(word);
    if (it == cache_.end()) return false;
    out.insert(out.end(), it->second.begin(), it->second.end());
    return true;
  }

  void cache_store(std::string_view word, const std::vector<int32_t>& ids) const {
    if (word.size() > WORD_CACHE_MAX_BYTES) return;
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= WORD_CACHE_MAX_ENTRIES) cache_.clear();
    cache_.emplace(std::string(word), ids);
  }

  void encode_byte_level(std::string_view seg, std::vector<int32_t>& out) const {
    std::string prefixed;
    if (spec_.add_prefix_space && seg.front() != ' ') {
      prefixed.reserve(seg.size() + 1);
      prefixed.push_back(' ');
      prefixed.append(seg);
      seg = prefixed;
    }
    std::vector<std::pair<uint32_t, uint32_t>> words;
    pre_.split(seg, words);
    std::vector<int32_t> symbols;
    std::string mapped;
    for (const auto& [b, e] : words) {
      const std::string_view word = seg.substr(b, e - b);
      if (cache_lookup(word, out)) continue;
      symbols.clear();
      bool whole = false;
      if (spec_.ignore_merges) {
        mapped.clear();
        byte_level_encode(word, mapped);
        if (auto it = vocab_.find(mapped); it != vocab_.end()) {
          symbols.push_back(it->second);
          whole = true;
        }
      }
      if (!whole) {
        for (char c : word) {
          const int32_t id = byte_ids_[static_cast<uint8_t>(c)];
          if (id >= 0) {
            symbols.push_back(id);
          } else {
            PAGODA_CHECK(spec_.unk_id >= 0, "byte 0x{:02X} has no token and the vocabulary has no unknown token",
                         static_cast<uint8_t>(c));
            symbols.push_back(spec_.unk_id);
          }
        }
        bpe_.merge(symbols);
      }
      out.insert(out.end(), symbols.begin(), symbols.end());
      cache_store(word, symbols);
    }
  }

  TokenizerSpec spec_;
  StringMap<int32_t> vocab_;
  BpeModel bpe_;
  PreTokenizer pre_;
  SpecialMatcher specials_;
  int32_t byte_ids_[256];             // byte-level: the token of each byte; SentencePiece: <0xNN>
  std::vector<std::string> decoded_;  // token_bytes by id
  std::vector<bool> special_, eog_;
  bool spm_split_before_space_ = false;
  mutable std::mutex cache_mutex_;
  mutable StringMap<std::vector<int32_t>> cache_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_bpe_tokenizer(TokenizerSpec spec) {
  return std::make_unique<BpeTokenizer>(std::move(spec));
}

}  // namespace pagoda
