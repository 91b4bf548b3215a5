// Jinja interpreter: renders a parsed Program against a set of global variables with jinja2's
// semantics (scoping, loops, macros, default Undefined). Every render is bounded: a step budget,
// a cap on bytes written and a call-depth limit turn runaway templates into pagoda::Error.
// It does not sandbox anything beyond that: there is no I/O to reach from a template.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "tokenizer/jinja_ast.hpp"
#include "tokenizer/jinja_value.hpp"

namespace pagoda::jinja {

struct RenderLimits {
  int64_t max_steps = 2'000'000;        // expression evaluations, statements, loop iterations, elements touched
  size_t max_output_bytes = 4u << 20;   // bytes written to any output buffer (macro bodies included)
  int max_call_depth = 64;              // nested macro calls
};

struct Scope {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;
};

class Interpreter {
 public:
  Interpreter(const Program& program, RenderLimits limits);

  // globals are visible to the whole template; errors carry "template:LINE:COL:".
  std::string render(const std::unordered_map<std::string, Value>& globals);
  // One expression against `globals` (no template body), under the same limits.
  Value evaluate(const Expr& e, const std::unordered_map<std::string, Value>& globals);

  // For builtins.
  void charge(int64_t steps);
  void check_string_size(size_t bytes) const;
  Value call(const Value& callee, CallArgs& args);
  // A Python-style iteration: lists, dict keys, string code points; Undefined iterates as empty.
  std::vector<Value> iterate(const Value& v);
  const RenderLimits& limits() const { return limits_; }

 private:
  enum class Flow : uint8_t { FLOW_NORMAL, FLOW_BREAK, FLOW_CONTINUE };

  Flow exec_body(const Body& body, std::string& out);
  Flow exec(const Stmt& s, std::string& out);
  void exec_for(const Stmt& s, std::string& out);
  Value make_loop(const std::vector<Value>& items, int64_t k);
  void exec_set(const Stmt& s, const Value& v);
  // Renders a block's body to a string and pipes it through the block's filters ({% set x %},
  // {% filter %}).
  Value render_filtered_body(const Stmt& s);
  Value make_macro(const Stmt& s);
  Value eval(const Expr& e);
  Value eval_binary(const Expr& e);
  Value eval_compare(const Expr& e);
  void eval_args(const Expr& e, size_t first, CallArgs& args);
  Value lookup(const std::string& name) const;
  void assign(const std::string& name, Value v);
  void write(std::string& out, const std::string& text);
  void mark(int line, int col) {
    line_ = line;
    col_ = col;
  }

  const Program& program_;
  RenderLimits limits_;
  int64_t steps_ = 0;
  size_t written_ = 0;
  int call_depth_ = 0;
  int line_ = 1;
  int col_ = 1;
  std::shared_ptr<Scope> globals_;
  std::shared_ptr<Scope> scope_;
};

// Python binary operators as jinja2 applies them ("+", "-", "*", "/", "//", "%", "**", "~").
Value binary_op(Interpreter& in, const std::string& op, const Value& l, const Value& r);
// obj.name (attribute first, then item) and obj[key] (item first, then attribute), as jinja2's
// Environment.getattr / getitem do; a miss is an Undefined that names what was missing.
Value get_attribute(Interpreter& in, const Value& obj, const std::string& name);
Value get_item(Interpreter& in, const Value& obj, const Value& key);
Value get_slice(Interpreter& in, const Value& obj, const Value& start, const Value& stop, const Value& step);
// Raises jinja2's UndefinedError for a value that is undefined.
void require_defined(const Value& v);

}  // namespace pagoda::jinja
