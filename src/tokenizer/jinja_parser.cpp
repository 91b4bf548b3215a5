// Jinja parser: recursive descent mirroring jinja2.parser.Parser (parse_condexpr down to
// parse_primary, then postfix, filters and tests), so precedence quirks match: unary minus
// binds looser than filters' operands but "-x|abs" is abs(-x); "~" sits between + and *.
#include "tokenizer/jinja_parser.hpp"

#include <initializer_list>

#include "core/error.hpp"

namespace pagoda::jinja {

namespace {

bool mentions(const Expr* e, const std::string& name) {
  if (!e) return false;
  if (e->kind == ExprKind::EXPR_KIND_NAME && e->name == name) return true;
  for (const auto& a : e->args)
    if (mentions(a.get(), name)) return true;
  for (const auto& [k, v] : e->kwargs)
    if (mentions(v.get(), name)) return true;
  return false;
}

bool mentions(const Body& body, const std::string& name) {
  for (const StmtPtr& s : body) {
    if (s->targets.size() == 1 && s->targets[0] == name && s->kind == StmtKind::STMT_KIND_SET) return true;
    if (mentions(s->expr.get(), name) || mentions(s->condition.get(), name)) return true;
    for (const auto& f : s->filters)
      if (mentions(f.get(), name)) return true;
    for (const auto& p : s->params)
      if (mentions(p.default_value.get(), name)) return true;
    for (const auto& [c, b] : s->branches)
      if (mentions(c.get(), name) || mentions(b, name)) return true;
    if (mentions(s->body, name) || mentions(s->else_body, name)) return true;
  }
  return false;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Program parse_program() {
    Program p;
    p.body = subparse({});
    return p;
  }

  ExprPtr parse_standalone_expression() {
    ExprPtr e = parse_tuple();
    if (cur().kind != TokenKind::TOKEN_KIND_EOF && cur().kind != TokenKind::TOKEN_KIND_VAR_END) error("unexpected " + describe(cur()));
    return e;
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxParseDepth) p_.error("template nested too deeply");
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  const Token& cur() const { return toks_[pos_]; }
  const Token& peek(size_t n = 1) const { return toks_[std::min(pos_ + n, toks_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }

  [[noreturn]] void error(const std::string& msg) const { error_at(cur(), msg); }
  [[noreturn]] static void error_at(const Token& t, const std::string& msg) {
    fail("template:{}:{}: {}", t.line, t.col, msg);
  }

  static std::string describe(const Token& t) {
    switch (t.kind) {
      case TokenKind::TOKEN_KIND_EOF: return "end of template";
      case TokenKind::TOKEN_KIND_VAR_END: return "end of print statement '}}'";
      case TokenKind::TOKEN_KIND_BLOCK_END: return "end of statement block '%}'";
      case TokenKind::TOKEN_KIND_STRING: return "string";
      default: return "'" + t.text + "'";
    }
  }

  bool is_op(const char* op) const { return cur().kind == TokenKind::TOKEN_KIND_OP && cur().text == op; }
  bool is_name(const char* n) const { return cur().kind == TokenKind::TOKEN_KIND_NAME && cur().text == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    advance();
    return true;
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) error(std::string("expected '") + op + "', got " + describe(cur()));
  }
  void expect_name(const char* n) {
    if (!skip_name(n)) error(std::string("expected '") + n + "', got " + describe(cur()));
  }
  std::string expect_identifier() {
    if (cur().kind != TokenKind::TOKEN_KIND_NAME) error("expected a name, got " + describe(cur()));
    std::string n = cur().text;
    advance();
    return n;
  }
  void expect_block_end() {
    if (cur().kind != TokenKind::TOKEN_KIND_BLOCK_END) error("expected end of statement block, got " + describe(cur()));
    advance();
  }

  ExprPtr node(ExprKind k, const Token& at) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = at.line;
    e->col = at.col;
    return e;
  }
  StmtPtr stmt(StmtKind k, const Token& at) {
    auto s = std::make_unique<Stmt>();
    s->kind = k;
    s->line = at.line;
    s->col = at.col;
    return s;
  }

  // ---- statements ----

  // Parses until a block whose first name is in `ends` (left unconsumed, after {%).
  Body subparse(std::initializer_list<const char*> ends) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& t = cur();
      switch (t.kind) {
        case TokenKind::TOKEN_KIND_TEXT: {
          auto s = stmt(StmtKind::STMT_KIND_TEXT, t);
          s->text = t.text;
          body.push_back(std::move(s));
          advance();
          break;
        }
        case TokenKind::TOKEN_KIND_VAR_BEGIN: {
          auto s = stmt(StmtKind::STMT_KIND_OUTPUT, t);
          advance();
          s->expr = parse_tuple();
          if (cur().kind != TokenKind::TOKEN_KIND_VAR_END) error("expected end of print statement, got " + describe(cur()));
          advance();
          body.push_back(std::move(s));
          break;
        }
        case TokenKind::TOKEN_KIND_BLOCK_BEGIN: {
          advance();
          if (cur().kind == TokenKind::TOKEN_KIND_NAME) {
            for (const char* e : ends)
              if (cur().text == e) return body;
          }
          body.push_back(parse_statement(t));
          break;
        }
        case TokenKind::TOKEN_KIND_EOF: {
          if (ends.size() == 0) return body;
          std::string want;
          for (const char* e : ends) want += (want.empty() ? "'" : " or '") + std::string(e) + "'";
          error("unexpected end of template, expected " + want);
        }
        default: error("unexpected " + describe(t));
      }
    }
  }

  StmtPtr parse_statement(const Token& begin) {
    if (cur().kind != TokenKind::TOKEN_KIND_NAME) error("tag name expected");
    const Token& tag = cur();
    std::string name = tag.text;
    advance();
    if (name == "if") return parse_if(tag);
    if (name == "for") return parse_for(tag);
    if (name == "set") return parse_set(tag);
    if (name == "macro") return parse_macro(tag);
    if (name == "call") return parse_call_block(tag);
    if (name == "filter") return parse_filter_block(tag);
    if (name == "break" || name == "continue") {
      auto s = stmt(name == "break" ? StmtKind::STMT_KIND_BREAK : StmtKind::STMT_KIND_CONTINUE, tag);
      expect_block_end();
      return s;
    }
    if (name == "generation") {
      auto s = stmt(StmtKind::STMT_KIND_SCOPE, tag);
      expect_block_end();
      s->body = subparse({"endgeneration"});
      advance();
      expect_block_end();
      return s;
    }
    error_at(tag, "unknown or unsupported tag '" + name + "'");
  }

  StmtPtr parse_if(const Token& tag) {
    auto s = stmt(StmtKind::STMT_KIND_IF, tag);
    ExprPtr cond = parse_tuple(false);
    while (true) {
      expect_block_end();
      Body body = subparse({"elif", "else", "endif"});
      s->branches.emplace_back(std::move(cond), std::move(body));
      std::string which = cur().text;
      advance();
      if (which == "elif") {
        cond = parse_tuple(false);
        continue;
      }
      if (which == "else") {
        expect_block_end();
        Body else_body = subparse({"endif"});
        s->branches.emplace_back(nullptr, std::move(else_body));
        advance();
      }
      expect_block_end();
      return s;
    }
  }

  // Names for "for" and "set": `a`, `a, b`, `(a, b)`.
  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    bool paren = skip_op("(");
    do {
      if (paren && is_op(")")) break;
      names.push_back(expect_identifier());
    } while (skip_op(","));
    if (paren) expect_op(")");
    return names;
  }

  StmtPtr parse_for(const Token& tag) {
    auto s = stmt(StmtKind::STMT_KIND_FOR, tag);
    s->targets = parse_targets();
    expect_name("in");
    s->expr = parse_tuple(false, false);
    if (skip_name("if")) s->condition = parse_expression();
    if (is_name("recursive")) error("recursive for loops are not supported");
    expect_block_end();
    s->body = subparse({"endfor", "else"});
    if (cur().text == "else") {
      advance();
      expect_block_end();
      s->else_body = subparse({"endfor"});
    }
    s->uses_loop = mentions(s->body, "loop");
    advance();
    expect_block_end();
    return s;
  }

  StmtPtr parse_set(const Token& tag) {
    auto s = stmt(StmtKind::STMT_KIND_SET, tag);
    if (cur().kind == TokenKind::TOKEN_KIND_NAME && peek().kind == TokenKind::TOKEN_KIND_OP && peek().text == ".") {
      s->targets.push_back(expect_identifier());
      advance();
      s->attr = expect_identifier();
      expect_op("=");
      s->expr = parse_tuple();
      expect_block_end();
      return s;
    }
    s->targets = parse_targets();
    if (skip_op("=")) {
      s->expr = parse_tuple();
      expect_block_end();
      return s;
    }
    if (s->targets.size() != 1) error("a block set takes one name");
    s->kind = StmtKind::STMT_KIND_SET_BLOCK;
    while (skip_op("|")) s->filters.push_back(parse_filter(nullptr));
    expect_block_end();
    s->body = subparse({"endset"});
    advance();
    expect_block_end();
    return s;
  }

  std::vector<MacroParam> parse_params() {
    std::vector<MacroParam> params;
    expect_op("(");
    while (!is_op(")")) {
      if (!params.empty()) expect_op(",");
      if (is_op(")")) break;
      MacroParam p;
      p.name = expect_identifier();
      if (skip_op("=")) p.default_value = parse_expression();
      params.push_back(std::move(p));
    }
    advance();
    return params;
  }

  StmtPtr parse_macro(const Token& tag) {
    auto s = stmt(StmtKind::STMT_KIND_MACRO, tag);
    s->name = expect_identifier();
    s->params = parse_params();
    expect_block_end();
    s->body = subparse({"endmacro"});
    advance();
    expect_block_end();
    return s;
  }

  StmtPtr parse_call_block(const Token& tag) {
    auto s = stmt(StmtKind::STMT_KIND_CALL_BLOCK, tag);
    if (is_op("(")) s->params = parse_params();
    s->expr = parse_expression();
    if (s->expr->kind != ExprKind::EXPR_KIND_CALL) error_at(tag, "expected a call after 'call'");
    expect_block_end();
    s->body = subparse({"endcall"});
    advance();
    expect_block_end();
    return s;
  }

  StmtPtr parse_filter_block(const Token& tag) {
    auto s = stmt(StmtKind::STMT_KIND_FILTER_BLOCK, tag);
    do {
      s->filters.push_back(parse_filter(nullptr));
    } while (skip_op("|"));
    expect_block_end();
    s->body = subparse({"endfilter"});
    advance();
    expect_block_end();
    return s;
  }

  // ---- expressions ----

  ExprPtr parse_tuple(bool with_condexpr = true, bool allow_empty_paren = false, bool explicit_paren = false) {
    const Token& start = cur();
    ExprPtr first;
    if (explicit_paren && is_op(")")) return node(ExprKind::EXPR_KIND_TUPLE, start);
    first = with_condexpr ? parse_expression() : parse_or();
    if (!is_op(",")) return first;
    auto t = node(ExprKind::EXPR_KIND_TUPLE, start);
    t->args.push_back(std::move(first));
    while (skip_op(",")) {
      if (cur().kind == TokenKind::TOKEN_KIND_VAR_END || cur().kind == TokenKind::TOKEN_KIND_BLOCK_END || is_op(")") ||
          (!with_condexpr && is_name("if")))
        break;
      t->args.push_back(with_condexpr ? parse_expression() : parse_or());
    }
    (void)allow_empty_paren;
    return t;
  }

  ExprPtr parse_expression() {
    DepthGuard guard(*this);
    ExprPtr e = parse_or();
    while (is_name("if")) {
      const Token& at = cur();
      advance();
      auto c = node(ExprKind::EXPR_KIND_COND, at);
      c->args.push_back(parse_or());
      c->args.push_back(std::move(e));
      if (skip_name("else")) c->args.push_back(parse_expression());
      else c->args.push_back(nullptr);
      e = std::move(c);
    }
    return e;
  }

  ExprPtr binary(const Token& at, const std::string& op, ExprPtr l, ExprPtr r) {
    auto b = node(ExprKind::EXPR_KIND_BINARY, at);
    b->name = op;
    b->args.push_back(std::move(l));
    b->args.push_back(std::move(r));
    return b;
  }

  ExprPtr parse_or() {
    ExprPtr l = parse_and();
    while (is_name("or")) {
      const Token& at = cur();
      advance();
      l = binary(at, "or", std::move(l), parse_and());
    }
    return l;
  }

  ExprPtr parse_and() {
    ExprPtr l = parse_not();
    while (is_name("and")) {
      const Token& at = cur();
      advance();
      l = binary(at, "and", std::move(l), parse_not());
    }
    return l;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      const Token& at = cur();
      advance();
      auto n = node(ExprKind::EXPR_KIND_UNARY, at);
      n->name = "not";
      n->args.push_back(parse_not());
      return n;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const Token& at = cur();
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (cur().kind == TokenKind::TOKEN_KIND_OP &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == ">" || cur().text == "<=" ||
           cur().text == ">=")) {
        op = cur().text;
        advance();
      } else if (is_name("in")) {
        op = "in";
        advance();
      } else if (is_name("not") && peek().kind == TokenKind::TOKEN_KIND_NAME && peek().text == "in") {
        op = "not in";
        advance();
        advance();
      } else {
        break;
      }
      if (!cmp) {
        cmp = node(ExprKind::EXPR_KIND_COMPARE, at);
        cmp->args.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr parse_math1() {
    ExprPtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& at = cur();
      std::string op = at.text;
      advance();
      l = binary(at, op, std::move(l), parse_concat());
    }
    return l;
  }

  ExprPtr parse_concat() {
    ExprPtr l = parse_math2();
    while (is_op("~")) {
      const Token& at = cur();
      advance();
      l = binary(at, "~", std::move(l), parse_math2());
    }
    return l;
  }

  ExprPtr parse_math2() {
    ExprPtr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& at = cur();
      std::string op = at.text;
      advance();
      l = binary(at, op, std::move(l), parse_pow());
    }
    return l;
  }

  ExprPtr parse_pow() {
    ExprPtr l = parse_unary();
    while (is_op("**")) {
      const Token& at = cur();
      advance();
      l = binary(at, "**", std::move(l), parse_unary());
    }
    return l;
  }

  ExprPtr parse_unary(bool with_filter = true) {
    DepthGuard guard(*this);
    ExprPtr n;
    if (is_op("-") || is_op("+")) {
      const Token& at = cur();
      advance();
      n = node(ExprKind::EXPR_KIND_UNARY, at);
      n->name = at.text;
      n->args.push_back(parse_unary(false));
    } else {
      n = parse_primary();
    }
    n = parse_postfix(std::move(n));
    if (with_filter) n = parse_filter_expr(std::move(n));
    return n;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    switch (t.kind) {
      case TokenKind::TOKEN_KIND_NAME: {
        advance();
        auto n = node(ExprKind::EXPR_KIND_LITERAL, t);
        if (t.text == "true" || t.text == "True") n->literal = Value::boolean(true);
        else if (t.text == "false" || t.text == "False") n->literal = Value::boolean(false);
        else if (t.text == "none" || t.text == "None") n->literal = Value::none();
        else {
          n->kind = ExprKind::EXPR_KIND_NAME;
          n->name = t.text;
        }
        return n;
      }
      case TokenKind::TOKEN_KIND_STRING: {
        std::string s;
        while (cur().kind == TokenKind::TOKEN_KIND_STRING) {
          s += cur().text;
          advance();
        }
        auto n = node(ExprKind::EXPR_KIND_LITERAL, t);
        n->literal = Value::string(std::move(s));
        return n;
      }
      case TokenKind::TOKEN_KIND_INT: {
        advance();
        auto n = node(ExprKind::EXPR_KIND_LITERAL, t);
        n->literal = Value::integer(t.int_value);
        return n;
      }
      case TokenKind::TOKEN_KIND_FLOAT: {
        advance();
        auto n = node(ExprKind::EXPR_KIND_LITERAL, t);
        n->literal = Value::floating(t.float_value);
        return n;
      }
      case TokenKind::TOKEN_KIND_OP:
        if (t.text == "(") {
          advance();
          ExprPtr e = parse_tuple(true, true, true);
          expect_op(")");
          return e;
        }
        if (t.text == "[") {
          advance();
          auto n = node(ExprKind::EXPR_KIND_LIST, t);
          while (!is_op("]")) {
            if (!n->args.empty()) expect_op(",");
            if (is_op("]")) break;
            n->args.push_back(parse_expression());
          }
          advance();
          return n;
        }
        if (t.text == "{") {
          advance();
          auto n = node(ExprKind::EXPR_KIND_DICT, t);
          while (!is_op("}")) {
            if (!n->args.empty()) expect_op(",");
            if (is_op("}")) break;
            n->args.push_back(parse_expression());
            expect_op(":");
            n->args.push_back(parse_expression());
          }
          advance();
          return n;
        }
        [[fallthrough]];
      default: error("unexpected " + describe(t));
    }
  }

  ExprPtr parse_postfix(ExprPtr n) {
    while (true) {
      const Token& at = cur();
      if (is_op(".")) {
        advance();
        if (cur().kind == TokenKind::TOKEN_KIND_NAME) {
          auto a = node(ExprKind::EXPR_KIND_ATTR, at);
          a->name = cur().text;
          advance();
          a->args.push_back(std::move(n));
          n = std::move(a);
        } else if (cur().kind == TokenKind::TOKEN_KIND_INT) {
          auto a = node(ExprKind::EXPR_KIND_ITEM, at);
          auto k = node(ExprKind::EXPR_KIND_LITERAL, cur());
          k->literal = Value::integer(cur().int_value);
          advance();
          a->args.push_back(std::move(n));
          a->args.push_back(std::move(k));
          n = std::move(a);
        } else {
          error("expected name or number after '.'");
        }
      } else if (is_op("[")) {
        advance();
        n = parse_subscript(at, std::move(n));
      } else if (is_op("(")) {
        n = parse_call(std::move(n));
      } else {
        return n;
      }
    }
  }

  ExprPtr parse_subscript(const Token& at, ExprPtr obj) {
    DepthGuard guard(*this);
    ExprPtr parts[3];
    bool is_slice = false;
    if (!is_op(":")) parts[0] = parse_expression();
    if (skip_op(":")) {
      is_slice = true;
      if (!is_op("]") && !is_op(":")) parts[1] = parse_expression();
      if (skip_op(":") && !is_op("]")) parts[2] = parse_expression();
    } else if (is_op(",")) {
      auto t = node(ExprKind::EXPR_KIND_TUPLE, at);
      t->args.push_back(std::move(parts[0]));
      while (skip_op(",")) {
        if (is_op("]")) break;
        t->args.push_back(parse_expression());
      }
      parts[0] = std::move(t);
    }
    expect_op("]");
    auto n = node(is_slice ? ExprKind::EXPR_KIND_SLICE : ExprKind::EXPR_KIND_ITEM, at);
    n->args.push_back(std::move(obj));
    n->args.push_back(std::move(parts[0]));
    if (is_slice) {
      n->args.push_back(std::move(parts[1]));
      n->args.push_back(std::move(parts[2]));
    }
    return n;
  }

  void parse_call_args(Expr& n) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(")")) break;
      if (is_op("*") || is_op("**")) error("*args and **kwargs calls are not supported");
      if (cur().kind == TokenKind::TOKEN_KIND_NAME && peek().kind == TokenKind::TOKEN_KIND_OP && peek().text == "=") {
        std::string key = cur().text;
        advance();
        advance();
        n.kwargs.emplace_back(key, parse_expression());
      } else {
        if (!n.kwargs.empty()) error("positional argument after keyword argument");
        n.args.push_back(parse_expression());
      }
    }
    advance();
  }

  ExprPtr parse_call(ExprPtr callee) {
    DepthGuard guard(*this);
    auto n = node(ExprKind::EXPR_KIND_CALL, cur());
    n->args.push_back(std::move(callee));
    parse_call_args(*n);
    return n;
  }

  std::string dotted_name() {
    std::string name = expect_identifier();
    while (is_op(".") && peek().kind == TokenKind::TOKEN_KIND_NAME) {
      advance();
      name += "." + cur().text;
      advance();
    }
    return name;
  }

  ExprPtr parse_filter(ExprPtr operand) {
    auto f = node(ExprKind::EXPR_KIND_FILTER, cur());
    f->name = dotted_name();
    f->args.push_back(std::move(operand));
    if (is_op("(")) parse_call_args(*f);
    return f;
  }

  ExprPtr parse_filter_expr(ExprPtr n) {
    while (true) {
      if (is_op("|")) {
        advance();
        n = parse_filter(std::move(n));
      } else if (is_name("is")) {
        const Token& at = cur();
        advance();
        auto t = node(ExprKind::EXPR_KIND_TEST, at);
        if (skip_name("not")) t->negated = true;
        t->name = dotted_name();
        t->args.push_back(std::move(n));
        const Token& c = cur();
        if (is_op("(")) {
          parse_call_args(*t);
        } else if ((c.kind == TokenKind::TOKEN_KIND_NAME || c.kind == TokenKind::TOKEN_KIND_STRING ||
                    c.kind == TokenKind::TOKEN_KIND_INT || c.kind == TokenKind::TOKEN_KIND_FLOAT || is_op("[") ||
                    is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) error("you cannot chain multiple tests with is");
          t->args.push_back(parse_postfix(parse_primary()));
        }
        n = std::move(t);
      } else if (is_op("(")) {
        n = parse_call(std::move(n));
      } else {
        return n;
      }
    }
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
};

std::string normalize_source(const std::string& source) {
  std::string s;
  s.reserve(source.size());
  for (size_t k = 0; k < source.size(); ++k) {
    if (source[k] == '\r') {
      s += '\n';
      if (k + 1 < source.size() && source[k + 1] == '\n') ++k;
    } else {
      s += source[k];
    }
  }
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace

Program jinja_parse(const std::string& source, const LexOptions& options) {
  return Parser(jinja_lex(normalize_source(source), options)).parse_program();
}

ExprPtr jinja_parse_expression(const std::string& source) {
  std::vector<Token> toks = jinja_lex("{{ " + source + " }}", LexOptions{});  // spaces: "-3" must not read as {{-
  PAGODA_CHECK(!toks.empty() && toks.front().kind == TokenKind::TOKEN_KIND_VAR_BEGIN, "not an expression: {}", source);
  toks.erase(toks.begin());
  return Parser(std::move(toks)).parse_standalone_expression();
}

}  // namespace pagoda::jinja
