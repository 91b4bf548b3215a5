// Tokenizer::from_gguf: reads tokenizer.ggml.* metadata into a TokenizerSpec. Defaults follow
// llama.cpp (llama-vocab.cpp) so a GGUF tokenizes here as it does there: "llama" is SentencePiece
// BPE over scores with a space prefix and BOS; "gpt2" is byte-level BPE whose pre-tokenizer comes
// from tokenizer.ggml.pre, with BOS only for Llama 3 unless add_bos_token says otherwise.
#include <string>
#include <variant>

#include "core/error.hpp"
#include "io/gguf.hpp"
#include "tokenizer/bpe_tokenizer.hpp"
#include "tokenizer/pre_tokenizer.hpp"

namespace pagoda {
namespace {

const GgufArray& require_array(const GgufFile& g, const std::string& key, GgufType elem) {
  const GgufArray* a = g.get_array(key);
  PAGODA_CHECK(a, "{}: tokenizer metadata {} is missing", g.name(), key);
  PAGODA_CHECK(a->elem_type == elem, "{}: tokenizer metadata {} holds {}, expected {}", g.name(), key,
               gguf_type_name(a->elem_type), gguf_type_name(elem));
  return *a;
}

int64_t item_int(const GgufFile& g, const std::string& key, const GgufValue& v) {
  if (const int64_t* i = std::get_if<int64_t>(&v.value)) return *i;
  if (const uint64_t* u = std::get_if<uint64_t>(&v.value)) return static_cast<int64_t>(*u);
  fail("{}: {} holds a non-integer item", g.name(), key);
}

int32_t optional_id(const GgufFile& g, const std::string& key, int32_t fallback) {
  const std::optional<int64_t> v = g.get_int(key);
  if (!v) return fallback;
  return *v >= 0 && *v < INT32_MAX ? static_cast<int32_t>(*v) : -1;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile& g) {
  const std::optional<std::string> model = g.get_string("tokenizer.ggml.model");
  PAGODA_CHECK(model, "{}: no tokenizer.ggml.model in the metadata", g.name());
  TokenizerSpec spec;

  const GgufArray& tokens = require_array(g, "tokenizer.ggml.tokens", GgufType::GGUF_TYPE_STRING);
  spec.tokens.reserve(tokens.items.size());
  for (const GgufValue& v : tokens.items) spec.tokens.push_back(std::get<std::string>(v.value));
  const size_t n = spec.tokens.size();

  if (const GgufArray* types = g.get_array("tokenizer.ggml.token_type")) {
    PAGODA_CHECK(types->items.size() == n, "{}: {} token types for {} tokens", g.name(), types->items.size(), n);
    spec.types.reserve(n);
    for (const GgufValue& v : types->items) {
      const int64_t t = item_int(g, "tokenizer.ggml.token_type", v);
      spec.types.push_back(t >= 1 && t <= 6 ? static_cast<TokenType>(t) : TokenType::TOKEN_TYPE_NORMAL);
    }
  }

  if (*model == "llama") {
    spec.kind = TokenizerKind::TOKENIZER_KIND_SENTENCEPIECE;
    const GgufArray& scores = require_array(g, "tokenizer.ggml.scores", GgufType::GGUF_TYPE_FLOAT32);
    PAGODA_CHECK(scores.items.size() == n, "{}: {} scores for {} tokens", g.name(), scores.items.size(), n);
    spec.scores.reserve(n);
    for (const GgufValue& v : scores.items) spec.scores.push_back(static_cast<float>(std::get<double>(v.value)));
    spec.merges_from_scores = true;
    spec.byte_fallback = true;
    spec.add_space_prefix = g.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
    spec.add_bos = true;
    spec.bos_id = 1;
    spec.eos_id = 2;
    spec.unk_id = 0;
  } else if (*model == "gpt2") {
    spec.kind = TokenizerKind::TOKENIZER_KIND_BYTE_LEVEL;
    const GgufArray& merges = require_array(g, "tokenizer.ggml.merges", GgufType::GGUF_TYPE_STRING);
    spec.merges.reserve(merges.items.size());
    for (const GgufValue& v : merges.items) {
      const std::string& m = std::get<std::string>(v.value);
      // "left right": the separator is the first space after the first character, since a
      // byte-level piece never contains a raw space but may start with any character.
      const size_t sp = m.find(' ', 1);
      PAGODA_CHECK(sp != std::string::npos, "{}: malformed merge '{}'", g.name(), m);
      spec.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
    }
    const std::string pre = g.get_string("tokenizer.ggml.pre").value_or("gpt-2");
    spec.split_patterns = pre_tokenizer_patterns(pre);
    const bool llama3 = pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3" ||
                        pre == "pixtral";
    spec.ignore_merges = llama3;
    spec.add_bos = llama3;
  } else {
    fail("{}: unsupported tokenizer model '{}' (supported: llama, gpt2)", g.name(), *model);
  }

  spec.bos_id = optional_id(g, "tokenizer.ggml.bos_token_id", spec.bos_id);
  spec.eos_id = optional_id(g, "tokenizer.ggml.eos_token_id", spec.eos_id);
  spec.unk_id = optional_id(g, "tokenizer.ggml.unknown_token_id", spec.unk_id);
  spec.pad_id = optional_id(g, "tokenizer.ggml.padding_token_id", spec.pad_id);
  if (const std::optional<bool> b = g.get_bool("tokenizer.ggml.add_bos_token")) spec.add_bos = *b;
  spec.chat_template = g.get_string("tokenizer.chat_template").value_or("");
  return make_bpe_tokenizer(std::move(spec));
}

}  // namespace pagoda
