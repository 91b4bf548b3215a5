// Jinja syntax tree: expressions and statements as the parser builds them and the interpreter
// walks them. Plain owned trees with source positions; no evaluation logic lives here.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja_value.hpp"

namespace pagoda::jinja {

enum class ExprKind : uint8_t {
  EXPR_KIND_LITERAL,  // literal
  EXPR_KIND_NAME,     // name
  EXPR_KIND_LIST,     // args: items
  EXPR_KIND_TUPLE,    // args: items
  EXPR_KIND_DICT,     // args: key0, value0, key1, value1, ...
  EXPR_KIND_ATTR,     // args[0].name
  EXPR_KIND_ITEM,     // args[0][args[1]]
  EXPR_KIND_SLICE,    // args[0][args[1]:args[2]:args[3]], absent parts are null
  EXPR_KIND_CALL,     // args[0](args[1:], kwargs)
  EXPR_KIND_FILTER,   // args[0] | name(args[1:], kwargs); args[0] null inside {% filter %}
  EXPR_KIND_TEST,     // args[0] is [not] name(args[1:], kwargs)
  EXPR_KIND_UNARY,    // name ("-", "+", "not") args[0]
  EXPR_KIND_BINARY,   // args[0] name args[1]; name in + - * / // % ** ~ and or
  EXPR_KIND_COMPARE,  // args[0] ops[0] args[1] ops[1] args[2] ... (chained like Python)
  EXPR_KIND_COND,     // args[1] if args[0] else args[2] (args[2] may be null)
};

struct Expr {
  ExprKind kind = ExprKind::EXPR_KIND_LITERAL;
  int line = 0;
  int col = 0;
  Value literal;
  std::string name;
  bool negated = false;  // "is not"
  std::vector<std::unique_ptr<Expr>> args;
  std::vector<std::pair<std::string, std::unique_ptr<Expr>>> kwargs;
  std::vector<std::string> ops;
};
using ExprPtr = std::unique_ptr<Expr>;

enum class StmtKind : uint8_t {
  STMT_KIND_TEXT,          // text
  STMT_KIND_OUTPUT,        // {{ expr }}
  STMT_KIND_IF,            // branches: (cond, body)...; a null cond is the else branch
  STMT_KIND_FOR,           // for targets in expr [if cond]: body [else: else_body]
  STMT_KIND_SET,           // set targets = expr, or set targets[0].attr = expr (attr non-empty)
  STMT_KIND_SET_BLOCK,     // set targets[0] [| filters] %}body{% endset
  STMT_KIND_MACRO,         // macro name(params) body
  STMT_KIND_CALL_BLOCK,    // call(params) expr %}body{% endcall: body becomes caller()
  STMT_KIND_FILTER_BLOCK,  // filter chain %}body{% endfilter
  STMT_KIND_BREAK,
  STMT_KIND_CONTINUE,
  STMT_KIND_SCOPE,         // body in place ({% generation %}); no new variables scope
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // null when required
};

struct Stmt {
  StmtKind kind = StmtKind::STMT_KIND_TEXT;
  int line = 0;
  int col = 0;
  std::string text;
  ExprPtr expr;       // OUTPUT value, FOR iterable, SET value, CALL_BLOCK call
  ExprPtr condition;  // FOR "if" filter
  std::vector<std::string> targets;
  std::string attr;   // SET ns.attr
  std::vector<ExprPtr> filters;  // SET_BLOCK / FILTER_BLOCK chain (FILTER exprs with null operand)
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  std::string name;   // MACRO
  std::vector<MacroParam> params;  // MACRO, CALL_BLOCK
  bool uses_loop = true;  // FOR: whether the body mentions `loop` (building it is most of a step's cost)
};

struct Program {
  Body body;
};

}  // namespace pagoda::jinja
