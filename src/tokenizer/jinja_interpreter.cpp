// Jinja interpreter: a tree walker over the parsed Program. Scopes follow jinja2: {% if %} does not
// open a scope, each for-loop iteration and each macro call does (so `set` inside a loop does not
// leak, which is why templates use namespace()). Positions of the node being evaluated are kept so
// every runtime error can name its line and column.
#include "tokenizer/jinja_interpreter.hpp"

#include <cmath>
#include <optional>

#include "core/error.hpp"
#include "tokenizer/jinja_builtins.hpp"

namespace pagoda::jinja {

namespace {

[[noreturn]] void type_error(const char* op, const Value& l, const Value& r) {
  fail("unsupported operand type(s) for {}: '{}' and '{}'", op, value_type_name(l), value_type_name(r));
}

// Python ints are unbounded; ours are 64-bit and overflow is an error, never a wrap.
int64_t int_add(int64_t a, int64_t b) {
  int64_t r;
  PAGODA_CHECK(!__builtin_add_overflow(a, b, &r), "integer overflow");
  return r;
}
int64_t int_sub(int64_t a, int64_t b) {
  int64_t r;
  PAGODA_CHECK(!__builtin_sub_overflow(a, b, &r), "integer overflow");
  return r;
}
int64_t int_mul(int64_t a, int64_t b) {
  int64_t r;
  PAGODA_CHECK(!__builtin_mul_overflow(a, b, &r), "integer overflow");
  return r;
}

Value repeat(Interpreter& in, const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    size_t total = 0;
    PAGODA_CHECK(!__builtin_mul_overflow(seq.s.size(), static_cast<uint64_t>(n), &total), "string too large");
    in.check_string_size(total);
    std::string out;
    out.reserve(total);
    for (int64_t k = 0; k < n; ++k) out += seq.s;
    return Value::string(std::move(out));
  }
  size_t total = 0;
  PAGODA_CHECK(!__builtin_mul_overflow(seq.list->size(), static_cast<uint64_t>(n), &total), "list too large");
  in.charge(static_cast<int64_t>(std::min<size_t>(total, INT64_MAX / 2)));
  List out;
  for (int64_t k = 0; k < n; ++k) out.insert(out.end(), seq.list->begin(), seq.list->end());
  return Value::list_of(std::move(out), seq.is_tuple);
}

double python_fmod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

}  // namespace

void require_defined(const Value& v) {
  if (v.is_undefined()) fail("{}", v.s.empty() ? std::string("value is undefined") : v.s);
}

Value binary_op(Interpreter& in, const std::string& op, const Value& l, const Value& r) {
  if (op == "~") {
    std::string s = value_to_str(l) + value_to_str(r);
    in.check_string_size(s.size());
    return Value::string(std::move(s));
  }
  require_defined(l);
  require_defined(r);
  bool nums = l.is_number() && r.is_number();
  bool ints = l.is_integral() && r.is_integral();
  if (op == "+") {
    if (ints) return Value::integer(int_add(l.as_int(), r.as_int()));
    if (nums) return Value::floating(l.as_double() + r.as_double());
    if (l.is_string() && r.is_string()) {
      in.check_string_size(l.s.size() + r.s.size());
      return Value::string(l.s + r.s);
    }
    if (l.is_list() && r.is_list() && l.is_tuple == r.is_tuple) {
      in.charge(static_cast<int64_t>(l.list->size() + r.list->size()));
      List out = *l.list;
      out.insert(out.end(), r.list->begin(), r.list->end());
      return Value::list_of(std::move(out), l.is_tuple);
    }
    type_error("+", l, r);
  }
  if (op == "-") {
    if (ints) return Value::integer(int_sub(l.as_int(), r.as_int()));
    if (nums) return Value::floating(l.as_double() - r.as_double());
    type_error("-", l, r);
  }
  if (op == "*") {
    if (ints) return Value::integer(int_mul(l.as_int(), r.as_int()));
    if (nums) return Value::floating(l.as_double() * r.as_double());
    if ((l.is_string() || l.is_list()) && r.is_integral()) return repeat(in, l, r.as_int());
    if ((r.is_string() || r.is_list()) && l.is_integral()) return repeat(in, r, l.as_int());
    type_error("*", l, r);
  }
  if (op == "/") {
    if (!nums) type_error("/", l, r);
    PAGODA_CHECK(r.as_double() != 0.0, "division by zero");
    return Value::floating(l.as_double() / r.as_double());
  }
  if (op == "//" || op == "%") {
    if (!nums) {
      if (op == "%" && l.is_string()) fail("printf-style string formatting ('%') is not supported");
      type_error(op.c_str(), l, r);
    }
    if (ints) {
      int64_t a = l.as_int(), b = r.as_int();
      PAGODA_CHECK(b != 0, "integer division or modulo by zero");
      PAGODA_CHECK(!(a == INT64_MIN && b == -1), "integer overflow");
      int64_t q = a / b, m = a % b;
      if (m != 0 && ((m < 0) != (b < 0))) {
        q -= 1;
        m += b;
      }
      return Value::integer(op == "//" ? q : m);
    }
    double a = l.as_double(), b = r.as_double();
    PAGODA_CHECK(b != 0.0, "float division by zero");
    if (op == "%") return Value::floating(python_fmod(a, b));
    return Value::floating(std::floor(a / b));
  }
  if (op == "**") {
    if (!nums) type_error("**", l, r);
    if (ints && r.as_int() >= 0) {
      int64_t base = l.as_int(), e = r.as_int(), acc = 1;
      while (e > 0) {
        if (e & 1) acc = int_mul(acc, base);
        e >>= 1;
        if (e > 0) base = int_mul(base, base);
      }
      return Value::integer(acc);
    }
    return Value::floating(std::pow(l.as_double(), r.as_double()));
  }
  fail("unknown operator '{}'", op);
}

Value get_attribute(Interpreter& in, const Value& obj, const std::string& name) {
  require_defined(obj);
  switch (obj.kind) {
    case ValueKind::VALUE_KIND_DICT: {
      static const char* const methods[] = {"items", "keys", "values", "get", "copy", "pop", "popitem",
                                            "setdefault", "update", "clear", "fromkeys"};
      for (const char* m : methods)
        if (name == m) return builtin_method(in, obj, name);
      if (const Value* v = obj.dict->find(name)) return *v;
      return Value::undefined("'dict object' has no attribute '" + name + "'");
    }
    case ValueKind::VALUE_KIND_NAMESPACE:
      if (const Value* v = obj.dict->find(name)) return *v;
      return Value::undefined("'jinja2.utils.Namespace object' has no attribute '" + name + "'");
    case ValueKind::VALUE_KIND_STRING:
    case ValueKind::VALUE_KIND_LIST: return builtin_method(in, obj, name);
    case ValueKind::VALUE_KIND_NONE: return Value::undefined("'None' has no attribute '" + name + "'");
    default: return Value::undefined("'" + value_type_name(obj) + " object' has no attribute '" + name + "'");
  }
}

Value get_item(Interpreter& in, const Value& obj, const Value& key) {
  require_defined(obj);
  if ((obj.is_dict() || obj.kind == ValueKind::VALUE_KIND_NAMESPACE) && key.is_string()) {
    if (obj.is_dict()) {
      if (const Value* v = obj.dict->find(key.s)) return *v;
    }
    return get_attribute(in, obj, key.s);
  }
  if ((obj.is_list() || obj.is_string()) && key.is_integral()) {
    int64_t idx = key.as_int();
    if (obj.is_list()) {
      int64_t n = static_cast<int64_t>(obj.list->size());
      if (idx < 0) idx += n;
      if (idx < 0 || idx >= n) return Value::undefined(value_type_name(obj) + " object has no element " + std::to_string(key.as_int()));
      return (*obj.list)[static_cast<size_t>(idx)];
    }
    std::vector<size_t> off = utf8_offsets(obj.s);
    int64_t n = static_cast<int64_t>(off.size()) - 1;
    if (idx < 0) idx += n;
    if (idx < 0 || idx >= n) return Value::undefined("str object has no element " + std::to_string(key.as_int()));
    size_t a = off[static_cast<size_t>(idx)], b = off[static_cast<size_t>(idx) + 1];
    return Value::string(obj.s.substr(a, b - a));
  }
  if (key.is_string()) return get_attribute(in, obj, key.s);
  return Value::undefined(value_type_name(obj) + " object has no element " + value_repr(key));
}

Value get_slice(Interpreter& in, const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
  require_defined(obj);
  auto opt = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    PAGODA_CHECK(v.is_integral(), "slice {} must be an integer or None, not {}", what, value_type_name(v));
    return v.as_int();
  };
  std::optional<int64_t> start = opt(start_v, "start"), stop = opt(stop_v, "stop"), step_o = opt(step_v, "step");
  int64_t step = step_o.value_or(1);
  PAGODA_CHECK(step != 0, "slice step cannot be zero");
  std::vector<size_t> off;
  int64_t len;
  if (obj.is_string()) {
    off = utf8_offsets(obj.s);
    len = static_cast<int64_t>(off.size()) - 1;
  } else if (obj.is_list()) {
    len = static_cast<int64_t>(obj.list->size());
  } else {
    fail("'{}' object is not subscriptable", value_type_name(obj));
  }
  auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += len;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= len) {
      x = step < 0 ? len - 1 : len;
    }
    return x;
  };
  int64_t a = adjust(start, step < 0 ? len - 1 : 0);
  int64_t b = adjust(stop, step < 0 ? -1 : len);
  std::vector<int64_t> idx;
  for (int64_t k = a; step > 0 ? k < b : k > b; k += step) idx.push_back(k);
  in.charge(static_cast<int64_t>(idx.size()));
  if (obj.is_string()) {
    std::string out;
    for (int64_t k : idx) out += obj.s.substr(off[static_cast<size_t>(k)], off[static_cast<size_t>(k) + 1] - off[static_cast<size_t>(k)]);
    return Value::string(std::move(out));
  }
  List out;
  for (int64_t k : idx) out.push_back((*obj.list)[static_cast<size_t>(k)]);
  return Value::list_of(std::move(out), obj.is_tuple);
}

Interpreter::Interpreter(const Program& program, RenderLimits limits) : program_(program), limits_(limits) {}

void Interpreter::charge(int64_t steps) {
  steps_ += steps;
  if (steps_ > limits_.max_steps) fail("template exceeded its step budget ({} steps)", limits_.max_steps);
}

void Interpreter::check_string_size(size_t bytes) const {
  if (bytes > limits_.max_output_bytes)
    fail("template built a string of {} bytes, over the output cap of {} bytes", bytes, limits_.max_output_bytes);
}

void Interpreter::write(std::string& out, const std::string& text) {
  written_ += text.size();
  if (written_ > limits_.max_output_bytes)
    fail("template output exceeded the cap of {} bytes", limits_.max_output_bytes);
  out += text;
}

std::vector<Value> Interpreter::iterate(const Value& v) {
  switch (v.kind) {
    case ValueKind::VALUE_KIND_UNDEFINED: return {};
    case ValueKind::VALUE_KIND_LIST: charge(static_cast<int64_t>(v.list->size())); return *v.list;
    case ValueKind::VALUE_KIND_DICT: {
      charge(static_cast<int64_t>(v.dict->size()));
      std::vector<Value> keys;
      for (const auto& e : v.dict->entries()) keys.push_back(Value::string(e.first));
      return keys;
    }
    case ValueKind::VALUE_KIND_STRING: {
      std::vector<size_t> off = utf8_offsets(v.s);
      charge(static_cast<int64_t>(off.size()));
      std::vector<Value> chars;
      for (size_t k = 0; k + 1 < off.size(); ++k) chars.push_back(Value::string(v.s.substr(off[k], off[k + 1] - off[k])));
      return chars;
    }
    default: fail("'{}' object is not iterable", value_type_name(v));
  }
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  require_defined(callee);
  if (callee.kind != ValueKind::VALUE_KIND_CALLABLE) fail("'{}' object is not callable", value_type_name(callee));
  return callee.fn->fn(*this, args);
}

Value Interpreter::lookup(const std::string& name) const {
  for (const Scope* s = scope_.get(); s; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  return Value::undefined("'" + name + "' is undefined");
}

void Interpreter::assign(const std::string& name, Value v) { scope_->vars[name] = std::move(v); }

std::string Interpreter::render(const std::unordered_map<std::string, Value>& globals) {
  globals_ = std::make_shared<Scope>();
  globals_->vars = globals;
  scope_ = globals_;
  steps_ = 0;
  written_ = 0;
  call_depth_ = 0;
  std::string out;
  try {
    exec_body(program_.body, out);
  } catch (const Error& e) {
    std::string msg = fmt::format("template:{}:{}: {}", line_, col_, e.what());
    scope_.reset();
    globals_.reset();  // breaks macro <-> scope reference cycles
    throw Error(msg);
  }
  scope_.reset();
  globals_.reset();
  return out;
}

Value Interpreter::evaluate(const Expr& e, const std::unordered_map<std::string, Value>& globals) {
  globals_ = std::make_shared<Scope>();
  globals_->vars = globals;
  scope_ = globals_;
  steps_ = 0;
  Value v;
  try {
    v = eval(e);
  } catch (const Error& err) {
    scope_.reset();
    globals_.reset();
    throw Error(fmt::format("expression:{}:{}: {}", line_, col_, err.what()));
  }
  scope_.reset();
  globals_.reset();
  return v;
}

Interpreter::Flow Interpreter::exec_body(const Body& body, std::string& out) {
  for (const StmtPtr& s : body) {
    Flow f = exec(*s, out);
    if (f != Flow::FLOW_NORMAL) return f;
  }
  return Flow::FLOW_NORMAL;
}

Value Interpreter::render_filtered_body(const Stmt& s) {
  std::string buf;
  exec_body(s.body, buf);
  Value v = Value::string(std::move(buf));
  for (const ExprPtr& f : s.filters) {
    CallArgs args;
    eval_args(*f, 1, args);
    mark(f->line, f->col);
    v = builtin_filter(*this, f->name, v, args);
  }
  return v;
}

void Interpreter::exec_set(const Stmt& s, const Value& v) {
  if (!s.attr.empty()) {
    Value ns = lookup(s.targets[0]);
    if (ns.kind != ValueKind::VALUE_KIND_NAMESPACE) fail("cannot assign attribute on non-namespace object");
    ns.dict->set(s.attr, v);
    return;
  }
  if (s.targets.size() == 1) {
    assign(s.targets[0], v);
    return;
  }
  std::vector<Value> items = iterate(v);
  if (items.size() != s.targets.size())
    fail("cannot unpack {} values into {} names", items.size(), s.targets.size());
  for (size_t k = 0; k < items.size(); ++k) assign(s.targets[k], items[k]);
}

Interpreter::Flow Interpreter::exec(const Stmt& s, std::string& out) {
  mark(s.line, s.col);
  charge(1);
  switch (s.kind) {
    case StmtKind::STMT_KIND_TEXT: write(out, s.text); break;
    case StmtKind::STMT_KIND_OUTPUT: {
      Value v = eval(*s.expr);
      mark(s.line, s.col);
      write(out, value_to_str(v));
      break;
    }
    case StmtKind::STMT_KIND_IF:
      for (const auto& [cond, body] : s.branches) {
        if (!cond || value_truthy(eval(*cond))) return exec_body(body, out);
      }
      break;
    case StmtKind::STMT_KIND_FOR: exec_for(s, out); break;
    case StmtKind::STMT_KIND_SET: exec_set(s, eval(*s.expr)); break;
    case StmtKind::STMT_KIND_SET_BLOCK: exec_set(s, render_filtered_body(s)); break;
    case StmtKind::STMT_KIND_FILTER_BLOCK: write(out, value_to_str(render_filtered_body(s))); break;
    case StmtKind::STMT_KIND_MACRO: assign(s.name, make_macro(s)); break;
    case StmtKind::STMT_KIND_CALL_BLOCK: {
      const Expr& call_expr = *s.expr;
      Value callee = eval(*call_expr.args[0]);
      CallArgs args;
      eval_args(call_expr, 1, args);
      // caller() renders the block body in the scope of the {% call %} site.
      std::weak_ptr<Scope> site = scope_;
      const Stmt* block = &s;
      args.keyword.emplace_back("caller", Value::callable("caller", [site, block](Interpreter& in, CallArgs& a) {
        auto saved = in.scope_;
        auto frame = std::make_shared<Scope>();
        frame->parent = site.lock() ? site.lock() : in.globals_;
        for (size_t k = 0; k < block->params.size(); ++k) {
          const MacroParam& p = block->params[k];
          Value v = k < a.positional.size() ? a.positional[k] : Value::undefined("parameter '" + p.name + "' was not provided");
          for (auto& [key, val] : a.keyword)
            if (key == p.name) v = val;
          if (v.is_undefined() && p.default_value) {
            in.scope_ = frame;
            v = in.eval(*p.default_value);
          }
          frame->vars[p.name] = v;
        }
        in.scope_ = frame;
        std::string buf;
        try {
          in.exec_body(block->body, buf);
        } catch (...) {
          in.scope_ = saved;
          throw;
        }
        in.scope_ = saved;
        return Value::string(std::move(buf));
      }));
      mark(s.line, s.col);
      write(out, value_to_str(call(callee, args)));
      break;
    }
    case StmtKind::STMT_KIND_BREAK: return Flow::FLOW_BREAK;
    case StmtKind::STMT_KIND_CONTINUE: return Flow::FLOW_CONTINUE;
    case StmtKind::STMT_KIND_SCOPE: return exec_body(s.body, out);
  }
  return Flow::FLOW_NORMAL;
}

void Interpreter::exec_for(const Stmt& s, std::string& out) {
  Value iterable = eval(*s.expr);
  mark(s.line, s.col);
  std::vector<Value> items = iterate(iterable);
  auto saved = scope_;
  auto bind = [&](const std::shared_ptr<Scope>& frame, const Value& item) {
    if (s.targets.size() == 1) {
      frame->vars[s.targets[0]] = item;
      return;
    }
    std::vector<Value> parts = iterate(item);
    if (parts.size() != s.targets.size())
      fail("cannot unpack {} values into {} loop variables", parts.size(), s.targets.size());
    for (size_t k = 0; k < parts.size(); ++k) frame->vars[s.targets[k]] = parts[k];
  };
  if (s.condition) {
    std::vector<Value> kept;
    try {
      for (const Value& item : items) {
        auto frame = std::make_shared<Scope>();
        frame->parent = saved;
        bind(frame, item);
        scope_ = frame;
        if (value_truthy(eval(*s.condition))) kept.push_back(item);
      }
    } catch (...) {
      scope_ = saved;
      throw;
    }
    scope_ = saved;
    items = std::move(kept);
  }
  if (items.empty()) {
    exec_body(s.else_body, out);
    return;
  }
  int64_t n = static_cast<int64_t>(items.size());
  try {
    for (int64_t k = 0; k < n; ++k) {
      charge(1);
      auto frame = std::make_shared<Scope>();
      frame->parent = saved;
      bind(frame, items[static_cast<size_t>(k)]);
      if (s.uses_loop) frame->vars["loop"] = make_loop(items, k);
      scope_ = frame;
      Flow f = exec_body(s.body, out);
      if (f == Flow::FLOW_BREAK) break;
    }
  } catch (...) {
    scope_ = saved;
    throw;
  }
  scope_ = saved;
}

Value Interpreter::make_loop(const std::vector<Value>& items, int64_t k) {
  int64_t n = static_cast<int64_t>(items.size());
  Dict loop;
  loop.set("index", Value::integer(k + 1));
  loop.set("index0", Value::integer(k));
  loop.set("revindex", Value::integer(n - k));
  loop.set("revindex0", Value::integer(n - k - 1));
  loop.set("first", Value::boolean(k == 0));
  loop.set("last", Value::boolean(k == n - 1));
  loop.set("length", Value::integer(n));
  loop.set("depth", Value::integer(1));
  loop.set("depth0", Value::integer(0));
  if (k > 0) loop.set("previtem", items[static_cast<size_t>(k - 1)]);
  if (k + 1 < n) loop.set("nextitem", items[static_cast<size_t>(k + 1)]);
  loop.set("cycle", Value::callable("cycle", [k](Interpreter&, CallArgs& a) {
    PAGODA_CHECK(!a.positional.empty(), "no items for cycling given");
    return a.positional[static_cast<size_t>(k) % a.positional.size()];
  }));
  return Value::dict_of(std::move(loop));
}

Value Interpreter::make_macro(const Stmt& s) {
  std::weak_ptr<Scope> defining = scope_;
  const Stmt* macro = &s;
  return Value::callable(s.name, [defining, macro](Interpreter& in, CallArgs& a) {
    if (in.call_depth_ >= in.limits_.max_call_depth)
      fail("macro calls nested deeper than {} (recursion?)", in.limits_.max_call_depth);
    if (a.positional.size() > macro->params.size())
      fail("macro '{}' takes not more than {} argument(s)", macro->name, macro->params.size());
    auto frame = std::make_shared<Scope>();
    frame->parent = defining.lock() ? defining.lock() : in.globals_;
    auto saved = in.scope_;
    int saved_line = in.line_, saved_col = in.col_;
    in.scope_ = frame;
    ++in.call_depth_;
    std::string buf;
    try {
      std::vector<bool> bound(macro->params.size(), false);
      for (size_t k = 0; k < a.positional.size(); ++k) {
        frame->vars[macro->params[k].name] = a.positional[k];
        bound[k] = true;
      }
      for (auto& [key, val] : a.keyword) {
        size_t k = 0;
        while (k < macro->params.size() && macro->params[k].name != key) ++k;
        if (k == macro->params.size()) {
          if (key == "caller") {
            frame->vars["caller"] = val;
            continue;
          }
          fail("macro '{}' takes no keyword argument '{}'", macro->name, key);
        }
        frame->vars[key] = val;
        bound[k] = true;
      }
      for (size_t k = 0; k < macro->params.size(); ++k) {
        if (bound[k]) continue;
        const MacroParam& p = macro->params[k];
        frame->vars[p.name] = p.default_value ? in.eval(*p.default_value)
                                              : Value::undefined("parameter '" + p.name + "' was not provided");
      }
      in.exec_body(macro->body, buf);
    } catch (...) {
      in.scope_ = saved;
      --in.call_depth_;
      throw;
    }
    in.scope_ = saved;
    --in.call_depth_;
    in.mark(saved_line, saved_col);
    return Value::string(std::move(buf));
  });
}

void Interpreter::eval_args(const Expr& e, size_t first, CallArgs& args) {
  for (size_t k = first; k < e.args.size(); ++k) args.positional.push_back(eval(*e.args[k]));
  for (const auto& [key, val] : e.kwargs) args.keyword.emplace_back(key, eval(*val));
}

Value Interpreter::eval(const Expr& e) {
  charge(1);
  switch (e.kind) {
    case ExprKind::EXPR_KIND_LITERAL: return e.literal;
    case ExprKind::EXPR_KIND_NAME: return lookup(e.name);
    case ExprKind::EXPR_KIND_LIST:
    case ExprKind::EXPR_KIND_TUPLE: {
      List items;
      for (const ExprPtr& a : e.args) items.push_back(eval(*a));
      return Value::list_of(std::move(items), e.kind == ExprKind::EXPR_KIND_TUPLE);
    }
    case ExprKind::EXPR_KIND_DICT: {
      Dict d;
      for (size_t k = 0; k + 1 < e.args.size(); k += 2) {
        Value key = eval(*e.args[k]);
        mark(e.args[k]->line, e.args[k]->col);
        if (!key.is_string()) fail("dict keys must be strings here, got {}", value_type_name(key));
        d.set(key.s, eval(*e.args[k + 1]));
      }
      return Value::dict_of(std::move(d));
    }
    case ExprKind::EXPR_KIND_ATTR: {
      Value obj = eval(*e.args[0]);
      mark(e.line, e.col);
      return get_attribute(*this, obj, e.name);
    }
    case ExprKind::EXPR_KIND_ITEM: {
      Value obj = eval(*e.args[0]);
      Value key = eval(*e.args[1]);
      mark(e.line, e.col);
      return get_item(*this, obj, key);
    }
    case ExprKind::EXPR_KIND_SLICE: {
      Value obj = eval(*e.args[0]);
      Value parts[3];
      for (int k = 0; k < 3; ++k)
        if (e.args[static_cast<size_t>(k) + 1]) parts[k] = eval(*e.args[static_cast<size_t>(k) + 1]);
      mark(e.line, e.col);
      return get_slice(*this, obj, parts[0], parts[1], parts[2]);
    }
    case ExprKind::EXPR_KIND_CALL: {
      Value callee = eval(*e.args[0]);
      CallArgs args;
      eval_args(e, 1, args);
      mark(e.line, e.col);
      return call(callee, args);
    }
    case ExprKind::EXPR_KIND_FILTER: {
      Value operand = eval(*e.args[0]);
      CallArgs args;
      eval_args(e, 1, args);
      mark(e.line, e.col);
      return builtin_filter(*this, e.name, operand, args);
    }
    case ExprKind::EXPR_KIND_TEST: {
      Value operand = eval(*e.args[0]);
      CallArgs args;
      eval_args(e, 1, args);
      mark(e.line, e.col);
      bool r = builtin_test(*this, e.name, operand, args);
      return Value::boolean(e.negated ? !r : r);
    }
    case ExprKind::EXPR_KIND_UNARY: {
      Value v = eval(*e.args[0]);
      mark(e.line, e.col);
      if (e.name == "not") return Value::boolean(!value_truthy(v));
      require_defined(v);
      if (!v.is_number()) fail("bad operand type for unary {}: '{}'", e.name, value_type_name(v));
      if (e.name == "+") return v.kind == ValueKind::VALUE_KIND_BOOL ? Value::integer(v.as_int()) : v;
      if (v.kind == ValueKind::VALUE_KIND_FLOAT) return Value::floating(-v.f);
      PAGODA_CHECK(v.as_int() != INT64_MIN, "integer overflow");
      return Value::integer(-v.as_int());
    }
    case ExprKind::EXPR_KIND_BINARY: return eval_binary(e);
    case ExprKind::EXPR_KIND_COMPARE: return eval_compare(e);
    case ExprKind::EXPR_KIND_COND: {
      if (value_truthy(eval(*e.args[0]))) return eval(*e.args[1]);
      if (e.args[2]) return eval(*e.args[2]);
      return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                              " evaluated to false and no else section was defined.");
    }
  }
  return Value();
}

Value Interpreter::eval_binary(const Expr& e) {
  if (e.name == "and" || e.name == "or") {
    Value l = eval(*e.args[0]);
    bool t = value_truthy(l);
    if (e.name == "and" ? !t : t) return l;
    return eval(*e.args[1]);
  }
  Value l = eval(*e.args[0]);
  Value r = eval(*e.args[1]);
  mark(e.line, e.col);
  return binary_op(*this, e.name, l, r);
}

namespace {

bool contains(const Value& container, const Value& item) {
  switch (container.kind) {
    case ValueKind::VALUE_KIND_UNDEFINED: return false;
    case ValueKind::VALUE_KIND_STRING:
      require_defined(item);
      if (!item.is_string()) fail("'in <string>' requires string as left operand, not {}", value_type_name(item));
      return container.s.find(item.s) != std::string::npos;
    case ValueKind::VALUE_KIND_LIST:
      for (const Value& v : *container.list)
        if (value_equals(v, item)) return true;
      return false;
    case ValueKind::VALUE_KIND_DICT: return item.is_string() && container.dict->find(item.s) != nullptr;
    default: fail("argument of type '{}' is not iterable", value_type_name(container));
  }
}

}  // namespace

Value Interpreter::eval_compare(const Expr& e) {
  Value left = eval(*e.args[0]);
  for (size_t k = 0; k < e.ops.size(); ++k) {
    Value right = eval(*e.args[k + 1]);
    mark(e.line, e.col);
    const std::string& op = e.ops[k];
    bool r;
    if (op == "==") r = value_equals(left, right);
    else if (op == "!=") r = !value_equals(left, right);
    else if (op == "in") r = contains(right, left);
    else if (op == "not in") r = !contains(right, left);
    else {
      require_defined(left);
      require_defined(right);
      if (op == "<") r = value_less(left, right);
      else if (op == ">") r = value_less(right, left);
      else if (op == "<=") r = !value_less(right, left);
      else r = !value_less(left, right);
    }
    if (!r) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

}  // namespace pagoda::jinja
