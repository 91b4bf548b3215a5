// PCRE2 with PCRE2_UTF | PCRE2_UCP so \s, \p{L}, \p{N} follow Unicode properties, and the JIT
// for speed. Lookahead (the `\s+(?!\S)` that leaves the last space for the next word) is why this
// is a backtracking engine rather than a DFA.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pre_tokenizer.hpp"

#include <pcre2.h>

#include "core/error.hpp"

namespace pagoda {

const char* const PRE_TOKENIZER_GPT2_REGEX =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

const char* const LLAMA3_REGEX =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const QWEN2_REGEX =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

}  // namespace

class SplitRegex {
 public:
  explicit SplitRegex(const std::string& pattern) {
    int err = 0;
    PCRE2_SIZE offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP, &err,
                          &offset, nullptr);
    if (!code_) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof(msg));
      fail("pre-tokenizer regex error at offset {}: {} (pattern {})", offset, reinterpret_cast<const char*>(msg),
           pattern);
    }
    // Without the JIT (unsupported CPU) pcre2_match falls back to the interpreter: slower, same result.
    jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;
  }
  ~SplitRegex() { pcre2_code_free(code_); }
  SplitRegex(const SplitRegex&) = delete;
  SplitRegex& operator=(const SplitRegex&) = delete;

  // Appends to out the isolated matches of `text[begin, end)` and the gaps between them.
  void split(std::string_view text, uint32_t begin, uint32_t end, pcre2_match_data* md, pcre2_match_context* mc,
             std::vector<std::pair<uint32_t, uint32_t>>& out) const {
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + begin);
    const size_t len = end - begin;
    size_t gap = 0;     // start of text not yet emitted
    size_t search = 0;  // where the next match attempt starts
    while (search < len) {
      // PCRE2_NO_UTF_CHECK: the tokenizer hands over sanitized UTF-8, and checking on each call
      // would rescan the rest of the subject every time (quadratic on long words).
      const int rc = jit_ ? pcre2_jit_match(code_, subject, len, search, PCRE2_NO_UTF_CHECK, md, mc)
                          : pcre2_match(code_, subject, len, search, PCRE2_NO_UTF_CHECK, md, mc);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof(msg));
        fail("pre-tokenizer regex match failed: {}", reinterpret_cast<const char*>(msg));
      }
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      const size_t ms = ov[0], me = ov[1];
      if (me == ms) {  // an empty match isolates nothing: retry one character further on
        search = ms + 1;
        while (search < len && (static_cast<unsigned char>(text[begin + search]) & 0xC0) == 0x80) ++search;
        continue;
      }
      if (ms > gap) out.emplace_back(begin + gap, begin + ms);
      out.emplace_back(begin + ms, begin + me);
      gap = search = me;
    }
    if (gap < len) out.emplace_back(begin + gap, end);
  }

 private:
  pcre2_code* code_ = nullptr;
  bool jit_ = false;
};

PreTokenizer::PreTokenizer() = default;
PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

PreTokenizer::PreTokenizer(const std::vector<std::string>& patterns) {
  for (const auto& p : patterns) regexes_.push_back(std::make_unique<SplitRegex>(p));
}

void PreTokenizer::split(std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>& words) const {
  words.clear();
  PAGODA_CHECK(text.size() < UINT32_MAX, "text too long to tokenize ({} bytes)", text.size());
  if (text.empty()) return;
  words.emplace_back(0, static_cast<uint32_t>(text.size()));
  if (regexes_.empty()) return;

  // Match data and a JIT stack per call: PCRE2 compiled code is shareable between threads, these
  // are not. A 1 MiB stack covers long runs of whitespace under `\s+(?!\S)`.
  struct Scratch {
    pcre2_match_data* md = pcre2_match_data_create(4, nullptr);
    pcre2_match_context* mc = pcre2_match_context_create(nullptr);
    pcre2_jit_stack* js = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, nullptr);
    Scratch() {
      if (!md || !mc || !js) fail("out of memory creating regex match data");
      pcre2_jit_stack_assign(mc, nullptr, js);
    }
    ~Scratch() {
      pcre2_jit_stack_free(js);
      pcre2_match_context_free(mc);
      pcre2_match_data_free(md);
    }
  } scratch;

  std::vector<std::pair<uint32_t, uint32_t>> next;
  for (const auto& re : regexes_) {
    next.clear();
    next.reserve(words.size() * 2);
    for (const auto& [b, e] : words) {
      re->split(text, b, e, scratch.md, scratch.mc, next);
    }
    words.swap(next);
  }
}

std::vector<std::string> pre_tokenizer_patterns(const std::string& pre) {
  // Names as written by llama.cpp's convert_hf_to_gguf.py.
  if (pre == "gpt-2" || pre == "gpt2" || pre == "phi-2" || pre == "mpt" || pre == "olmo" || pre == "jais")
    return {PRE_TOKENIZER_GPT2_REGEX};
  if (pre == "smollm" || pre == "starcoder" || pre == "refact" || pre == "codeshell" || pre == "command-r")
    return {R"(\p{N})", PRE_TOKENIZER_GPT2_REGEX};
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3" || pre == "pixtral" ||
      pre == "chatglm-bpe" || pre == "glm4")
    return {LLAMA3_REGEX};
  if (pre == "qwen2" || pre == "deepseek-r1-qwen" || pre == "stablelm2") return {QWEN2_REGEX};
  fail("unsupported pre-tokenizer type '{}' (tokenizer.ggml.pre)", pre);
}

}  // namespace pagoda
