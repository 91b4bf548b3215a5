// Pre-tokenizer: splits text into the words BPE works on, by a sequence of regular expressions
// (PCRE2, UTF + UCP, JIT-compiled). Each pattern isolates its matches and keeps the text between
// them as words too, like Hugging Face's Split(behavior="isolated"); patterns apply in order, each
// to the words of the previous one. Input must be valid UTF-8 (the tokenizer sanitizes first).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pagoda {

class SplitRegex;

class PreTokenizer {
 public:
  PreTokenizer();
  explicit PreTokenizer(const std::vector<std::string>& patterns);  // throws pagoda::Error on bad syntax
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  bool empty() const { return regexes_.empty(); }
  // Byte ranges [begin, end) of the words of text, in order, covering all of it; none empty.
  void split(std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>& words) const;

 private:
  std::vector<std::unique_ptr<SplitRegex>> regexes_;
};

// Regex sequences of the GGUF pre-tokenizer names (tokenizer.ggml.pre), taken from each model's
// tokenizer.json; throws pagoda::Error naming the type when it is unknown.
std::vector<std::string> pre_tokenizer_patterns(const std::string& pre);

// The regex of Hugging Face's ByteLevel pre-tokenizer (use_regex=true): GPT-2's pattern.
extern const char* const PRE_TOKENIZER_GPT2_REGEX;

}  // namespace pagoda
