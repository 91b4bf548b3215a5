// Jinja lexer: splits template source into text and tag tokens, applying whitespace control
// ({%- -%}, {%+ +%}) and the trim_blocks / lstrip_blocks rules exactly as jinja2's lexer does.
// It knows nothing about statements; comments vanish here, raw blocks become text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pagoda::jinja {

enum class TokenKind : uint8_t {
  TOKEN_KIND_TEXT,
  TOKEN_KIND_VAR_BEGIN,    // {{
  TOKEN_KIND_VAR_END,      // }}
  TOKEN_KIND_BLOCK_BEGIN,  // {%
  TOKEN_KIND_BLOCK_END,    // %}
  TOKEN_KIND_NAME,
  TOKEN_KIND_STRING,       // text holds the decoded value
  TOKEN_KIND_INT,
  TOKEN_KIND_FLOAT,
  TOKEN_KIND_OP,           // text holds the operator
  TOKEN_KIND_EOF,
};

struct Token {
  TokenKind kind = TokenKind::TOKEN_KIND_EOF;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0.0;
  int line = 1;  // 1-based
  int col = 1;   // 1-based, in bytes
};

struct LexOptions {
  bool trim_blocks = true;   // drop the first newline after a block or comment tag
  bool lstrip_blocks = true; // drop spaces/tabs before a block or comment tag that starts a line
};

// Throws pagoda::Error "template:LINE:COL: ..." on an unclosed tag, comment or string, or an
// unexpected character.
std::vector<Token> jinja_lex(const std::string& source, const LexOptions& options);

}  // namespace pagoda::jinja
