// Jinja lexer: a hand-written equivalent of jinja2.lexer.Lexer.tokeniter for the default
// delimiters. The whitespace rules follow its regexes: "-" strips all whitespace on that side,
// "+" disables lstrip/trim, lstrip_blocks strips a line's leading blanks before {% and {#
// (never {{), trim_blocks eats one newline after %} and #}.
#include "tokenizer/jinja_lexer.hpp"

#include <algorithm>
#include <cstring>

#include "core/error.hpp"
#include "tokenizer/utf8.hpp"

namespace pagoda::jinja {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }


class Lexer {
 public:
  Lexer(const std::string& src, const LexOptions& opt) : src_(src), opt_(opt) {
    line_starts_.push_back(0);
    for (size_t k = 0; k < src_.size(); ++k)
      if (src_[k] == '\n') line_starts_.push_back(k + 1);
  }

  std::vector<Token> run() {
    bool line_starting = true;
    while (pos_ < src_.size()) {
      size_t tag = find_tag(pos_);
      if (tag == std::string::npos) {
        emit_text(src_.substr(pos_), pos_);
        break;
      }
      std::string text = src_.substr(pos_, tag - pos_);
      char kind = src_[tag + 1];  // '{', '%' or '#'
      char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      if (sign != '-' && sign != '+') sign = '\0';
      size_t text_pos = pos_;
      if (sign == '-') {
        size_t e = text.size();
        while (e > 0 && is_space(text[e - 1])) --e;
        text.resize(e);
      } else if (sign != '+' && opt_.lstrip_blocks && kind != '{') {
        size_t nl = text.rfind('\n');
        size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
        if (l_pos > 0 || line_starting) {
          bool blank = l_pos < text.size() &&
                       std::all_of(text.begin() + static_cast<std::ptrdiff_t>(l_pos), text.end(), is_space);
          if (blank) text.resize(l_pos);
        }
      }
      emit_text(text, text_pos);
      pos_ = tag + 2 + (sign ? 1 : 0);
      if (kind == '#') {
        line_starting = lex_comment(tag);
      } else if (kind == '%' && try_raw(tag)) {
        line_starting = raw_line_starting_;
      } else {
        line_starting = lex_tag(tag, kind == '{');
      }
    }
    Token eof;
    eof.kind = TokenKind::TOKEN_KIND_EOF;
    set_pos(eof, src_.size());
    tokens_.push_back(eof);
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void error_at(size_t off, const std::string& msg) {
    auto [line, col] = line_col(off);
    fail("template:{}:{}: {}", line, col, msg);
  }

  std::pair<int, int> line_col(size_t off) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), off);
    size_t line = static_cast<size_t>(it - line_starts_.begin());
    return {static_cast<int>(line), static_cast<int>(off - line_starts_[line - 1] + 1)};
  }

  void set_pos(Token& t, size_t off) const {
    auto [line, col] = line_col(off);
    t.line = line;
    t.col = col;
  }

  size_t find_tag(size_t from) const {
    for (size_t k = from; k + 1 < src_.size(); ++k) {
      if (src_[k] == '{' && (src_[k + 1] == '{' || src_[k + 1] == '%' || src_[k + 1] == '#')) return k;
    }
    return std::string::npos;
  }

  void emit_text(const std::string& text, size_t off) {
    if (text.empty()) return;
    Token t;
    t.kind = TokenKind::TOKEN_KIND_TEXT;
    t.text = text;
    set_pos(t, off);
    tokens_.push_back(std::move(t));
  }

  bool starts(size_t at, const char* s) const { return src_.compare(at, std::strlen(s), s) == 0; }

  // Consumes a close delimiter ("%}" or "#}" as `close`) with its whitespace rules at pos_;
  // returns false if none starts there. Sets line_starting from the consumed text.
  bool match_close(const char* close, bool trims, bool& line_starting) {
    size_t p = pos_;
    if (trims && src_[p] == '+' && starts(p + 1, close)) {
      pos_ = p + 3;
      line_starting = false;
      return true;
    }
    if (src_[p] == '-' && starts(p + 1, close)) {
      p += 3;
      while (p < src_.size() && is_space(src_[p])) ++p;
      line_starting = p > pos_ + 3 && src_[p - 1] == '\n';
      pos_ = p;
      return true;
    }
    if (starts(p, close)) {
      p += 2;
      line_starting = false;
      if (trims && opt_.trim_blocks && p < src_.size() && src_[p] == '\n') {
        ++p;
        line_starting = true;
      }
      pos_ = p;
      return true;
    }
    return false;
  }

  bool lex_comment(size_t tag) {
    bool line_starting = false;
    while (pos_ < src_.size()) {
      if (match_close("#}", true, line_starting)) return line_starting;
      ++pos_;
    }
    error_at(tag, "missing end of comment tag");
  }

  // {% raw %}...{% endraw %}: the body is text, lstripped like any text before a block tag.
  bool try_raw(size_t tag) {
    size_t p = pos_;
    while (p < src_.size() && is_space(src_[p])) ++p;
    if (!starts(p, "raw")) return false;
    p += 3;
    if (p < src_.size() && is_name_char(src_[p])) return false;
    while (p < src_.size() && is_space(src_[p])) ++p;
    if (starts(p, "-%}")) {
      p += 3;
      while (p < src_.size() && is_space(src_[p])) ++p;
    } else if (starts(p, "%}")) {
      p += 2;
    } else {
      return false;
    }
    for (size_t k = p; k + 1 < src_.size(); ++k) {
      if (!starts(k, "{%")) continue;
      size_t q = k + 2;
      char sign = q < src_.size() && (src_[q] == '-' || src_[q] == '+') ? src_[q] : '\0';
      if (sign) ++q;
      while (q < src_.size() && is_space(src_[q])) ++q;
      if (!starts(q, "endraw")) continue;
      q += 6;
      while (q < src_.size() && is_space(src_[q])) ++q;
      std::string body = src_.substr(p, k - p);
      if (sign == '-') {
        while (!body.empty() && is_space(body.back())) body.pop_back();
      } else if (sign != '+' && opt_.lstrip_blocks) {
        size_t nl = body.rfind('\n');
        size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
        if (l_pos > 0 && l_pos < body.size() &&
            std::all_of(body.begin() + static_cast<std::ptrdiff_t>(l_pos), body.end(), is_space))
          body.resize(l_pos);
      }
      emit_text(body, p);
      pos_ = q;
      if (!match_close("%}", true, raw_line_starting_)) error_at(q, "expected '%}' after endraw");
      return true;
    }
    error_at(tag, "missing end of raw directive");
  }

  bool lex_tag(size_t tag, bool is_var) {
    Token begin;
    begin.kind = is_var ? TokenKind::TOKEN_KIND_VAR_BEGIN : TokenKind::TOKEN_KIND_BLOCK_BEGIN;
    set_pos(begin, tag);
    tokens_.push_back(begin);
    std::vector<char> balance;
    bool line_starting = false;
    while (true) {
      if (pos_ >= src_.size()) error_at(tag, is_var ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'");
      size_t start = pos_;
      if (balance.empty()) {
        bool closed = false;
        if (is_var) {
          if (src_[pos_] == '-' && starts(pos_ + 1, "}}")) {
            pos_ += 3;
            while (pos_ < src_.size() && is_space(src_[pos_])) ++pos_;
            line_starting = pos_ > start + 3 && src_[pos_ - 1] == '\n';
            closed = true;
          } else if (starts(pos_, "}}")) {
            pos_ += 2;
            line_starting = false;
            closed = true;
          }
        } else {
          closed = match_close("%}", true, line_starting);
        }
        if (closed) {
          Token end;
          end.kind = is_var ? TokenKind::TOKEN_KIND_VAR_END : TokenKind::TOKEN_KIND_BLOCK_END;
          set_pos(end, start);
          tokens_.push_back(end);
          return line_starting;
        }
      }
      char c = src_[pos_];
      if (is_space(c)) {
        ++pos_;
        continue;
      }
      Token t;
      set_pos(t, start);
      if (c == '"' || c == '\'') {
        t.kind = TokenKind::TOKEN_KIND_STRING;
        t.text = lex_string(c);
      } else if (is_digit(c)) {
        lex_number(t);
      } else if (is_name_start(c)) {
        while (pos_ < src_.size() && is_name_char(src_[pos_])) ++pos_;
        t.kind = TokenKind::TOKEN_KIND_NAME;
        t.text = src_.substr(start, pos_ - start);
      } else {
        static const char* const two[] = {"**", "//", "==", "!=", "<=", ">="};
        t.kind = TokenKind::TOKEN_KIND_OP;
        for (const char* op : two) {
          if (starts(pos_, op)) {
            t.text = op;
            break;
          }
        }
        if (t.text.empty()) {
          if (!std::strchr("+-*/%~[](){}<>=.:|,;", c)) error_at(start, std::string("unexpected char '") + c + "'");
          t.text = std::string(1, c);
        }
        pos_ += t.text.size();
        if (c == '(' || c == '[' || c == '{') {
          PAGODA_CHECK(balance.size() < 256, "template:{}:{}: brackets nested too deeply", t.line, t.col);
          balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
        } else if (c == ')' || c == ']' || c == '}') {
          if (balance.empty()) error_at(start, std::string("unexpected '") + c + "'");
          if (balance.back() != c)
            error_at(start, std::string("unexpected '") + c + "', expected '" + balance.back() + "'");
          balance.pop_back();
        }
      }
      tokens_.push_back(std::move(t));
    }
  }

  // Python's unicode-escape decoding of the literal's body; unknown escapes stay as written.
  std::string lex_string(char quote) {
    size_t start = pos_;
    ++pos_;
    std::string out;
    while (true) {
      if (pos_ >= src_.size()) error_at(start, "unterminated string literal");
      char c = src_[pos_];
      if (c == quote) {
        ++pos_;
        return out;
      }
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      if (pos_ + 1 >= src_.size()) error_at(start, "unterminated string literal");
      char e = src_[pos_ + 1];
      pos_ += 2;
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case 'a': out += '\a'; break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case '\n': break;
        case 'x':
        case 'u':
        case 'U': {
          size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          for (size_t k = 0; k < n; ++k) {
            char h = pos_ + k < src_.size() ? src_[pos_ + k] : '\0';
            int d = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
            if (d < 0) error_at(pos_ - 2, std::string("truncated \\") + e + " escape in string literal");
            cp = cp * 16 + static_cast<uint32_t>(d);
          }
          if (cp > 0x10FFFF) error_at(pos_ - 2, "escape out of Unicode range in string literal");
          pos_ += n;
          utf8_append(out, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7'; ++k)
              cp = cp * 8 + static_cast<uint32_t>(src_[pos_++] - '0');
            utf8_append(out, cp);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
  }

  void lex_number(Token& t) {
    size_t start = pos_;
    auto digits = [&] {
      while (pos_ < src_.size() && (is_digit(src_[pos_]) || (src_[pos_] == '_' && pos_ + 1 < src_.size() && is_digit(src_[pos_ + 1]))))
        ++pos_;
    };
    digits();
    bool is_float = false;
    if (pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
      is_float = true;
      ++pos_;
      digits();
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && is_digit(src_[p])) {
        is_float = true;
        pos_ = p;
        digits();
      }
    }
    std::string text;
    for (size_t k = start; k < pos_; ++k)
      if (src_[k] != '_') text += src_[k];
    if (is_float) {
      t.kind = TokenKind::TOKEN_KIND_FLOAT;
      t.float_value = std::strtod(text.c_str(), nullptr);
    } else {
      t.kind = TokenKind::TOKEN_KIND_INT;
      int64_t v = 0;
      for (char c : text) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, c - '0', &v))
          error_at(start, "integer literal too large");
      }
      t.int_value = v;
    }
    t.text = text;
  }

  const std::string& src_;
  LexOptions opt_;
  size_t pos_ = 0;
  bool raw_line_starting_ = false;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> jinja_lex(const std::string& source, const LexOptions& options) {
  return Lexer(source, options).run();
}

}  // namespace pagoda::jinja
