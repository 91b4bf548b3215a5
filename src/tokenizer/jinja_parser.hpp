// Jinja parser: tokens to a syntax tree, following jinja2.parser's grammar and operator
// precedence for the statement set chat templates use (if, for, set, macro, call, filter,
// break/continue, generation). Unknown tags (extends, include, import, ...) are syntax errors.
#pragma once

#include <string>

#include "tokenizer/jinja_ast.hpp"
#include "tokenizer/jinja_lexer.hpp"

namespace pagoda::jinja {

// Nesting bound for expressions and blocks, so hostile templates cannot exhaust the stack.
inline constexpr int kMaxParseDepth = 200;

// Normalises newlines (\r\n, \r -> \n) and drops one trailing newline as jinja2 does
// (keep_trailing_newline=False), lexes and parses. Throws pagoda::Error "template:LINE:COL: ...".
Program jinja_parse(const std::string& source, const LexOptions& options = {});

// One expression on its own (used for constant extra variables and tests).
ExprPtr jinja_parse_expression(const std::string& source);

}  // namespace pagoda::jinja
