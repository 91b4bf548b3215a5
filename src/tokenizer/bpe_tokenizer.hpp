// The one Tokenizer implementation: a vocabulary plus the recipe for encoding it (byte-level BPE
// with a regex pre-tokenizer, or SentencePiece-style BPE with "▁" spaces and byte fallback).
// TokenizerSpec is what the GGUF and tokenizer.json loaders produce; make_bpe_tokenizer checks it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.hpp"

namespace pagoda {

// Values as in GGUF's tokenizer.ggml.token_type (llama.cpp's llama_token_type).
enum class TokenType : uint8_t {
  TOKEN_TYPE_UNDEFINED = 0,
  TOKEN_TYPE_NORMAL = 1,
  TOKEN_TYPE_UNKNOWN = 2,
  TOKEN_TYPE_CONTROL = 3,
  TOKEN_TYPE_USER_DEFINED = 4,
  TOKEN_TYPE_UNUSED = 5,
  TOKEN_TYPE_BYTE = 6,
};

enum class TokenizerKind : uint8_t {
  TOKENIZER_KIND_BYTE_LEVEL,     // GPT-2 style: bytes shown as printable code points, regex words
  TOKENIZER_KIND_SENTENCEPIECE,  // Llama 2 style: "▁" for space, <0xNN> byte fallback, no regex
};

struct TokenizerSpec {
  TokenizerKind kind = TokenizerKind::TOKENIZER_KIND_BYTE_LEVEL;
  std::vector<std::string> tokens;  // by id
  std::vector<TokenType> types;     // by id; CONTROL/UNKNOWN are special, USER_DEFINED always matched
  std::vector<float> scores;        // by id; used when merges_from_scores
  // Merges in rank order ("left", "right"). When merges_from_scores is set they are derived from
  // the scores instead: every split of a NORMAL piece into two vocabulary pieces, ranked by the
  // piece's score (SentencePiece BPE, as in llama.cpp and transformers' SentencePieceExtractor).
  std::vector<std::pair<std::string, std::string>> merges;
  bool merges_from_scores = false;
  std::vector<std::string> split_patterns;  // byte-level pre-tokenizer regexes, applied in order
  bool ignore_merges = false;     // a word that is itself a token is emitted whole (Llama 3)
  bool byte_fallback = false;     // unknown characters become <0xNN> tokens
  bool add_space_prefix = false;  // SentencePiece: "▁" before each text segment
  bool space_prefix_first_only = false;  // ... but only before the segment at the text's start
  bool space_prefix_unless_space = false;  // ... and not when the segment starts with a space (Metaspace)
  bool split_on_space = false;    // SentencePiece: each "▁" starts a new word (Metaspace split)
  bool add_prefix_space = false;  // byte-level: " " before each text segment not starting with one
  bool add_bos = false;
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  std::string chat_template;
};

std::unique_ptr<Tokenizer> make_bpe_tokenizer(TokenizerSpec spec);

}  // namespace pagoda
