// Jinja values: the dynamic values a chat template computes with, following Python/jinja2
// semantics (str(), repr(), truthiness, ==, ordering, json.dumps) closely enough that rendered
// text is byte-identical to jinja2's. Containers are shared and immutable (as in HF's immutable
// sandbox); only namespace() objects are mutable. Dict keys are strings only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pagoda::jinja {

class Interpreter;
struct Value;

enum class ValueKind : uint8_t {
  VALUE_KIND_UNDEFINED,
  VALUE_KIND_NONE,
  VALUE_KIND_BOOL,
  VALUE_KIND_INT,
  VALUE_KIND_FLOAT,
  VALUE_KIND_STRING,
  VALUE_KIND_LIST,       // list or tuple (is_tuple), shared and immutable
  VALUE_KIND_DICT,       // insertion-ordered, string keys, shared and immutable
  VALUE_KIND_NAMESPACE,  // namespace(): the one mutable object, attributes set with {% set ns.a = %}
  VALUE_KIND_CALLABLE,   // builtin function, bound method or macro
};

using List = std::vector<Value>;

// Insertion-ordered string-keyed map with an index, so lookups stay O(1) on large tool schemas.
class Dict {
 public:
  const Value* find(std::string_view key) const;
  void set(const std::string& key, Value v);
  size_t size() const;  // defined out of line: Value is still incomplete here (clang checks)
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, Value>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

using NativeFn = std::function<Value(Interpreter&, CallArgs&)>;

struct Callable {
  std::string name;
  NativeFn fn;
};

struct Value {
  ValueKind kind = ValueKind::VALUE_KIND_UNDEFINED;
  bool b = false;
  bool is_tuple = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;  // string payload, or for an undefined value the reason jinja2 would name
  std::shared_ptr<const List> list;
  std::shared_ptr<Dict> dict;  // const in spirit for VALUE_KIND_DICT; mutable for namespaces
  std::shared_ptr<const Callable> fn;

  static Value undefined(std::string reason) {
    Value v;
    v.s = std::move(reason);
    return v;
  }
  static Value none() { return make(ValueKind::VALUE_KIND_NONE); }
  static Value boolean(bool x) {
    Value v = make(ValueKind::VALUE_KIND_BOOL);
    v.b = x;
    return v;
  }
  static Value integer(int64_t x) {
    Value v = make(ValueKind::VALUE_KIND_INT);
    v.i = x;
    return v;
  }
  static Value floating(double x) {
    Value v = make(ValueKind::VALUE_KIND_FLOAT);
    v.f = x;
    return v;
  }
  static Value string(std::string x) {
    Value v = make(ValueKind::VALUE_KIND_STRING);
    v.s = std::move(x);
    return v;
  }
  static Value list_of(List items, bool tuple = false) {
    Value v = make(ValueKind::VALUE_KIND_LIST);
    v.list = std::make_shared<const List>(std::move(items));
    v.is_tuple = tuple;
    return v;
  }
  static Value dict_of(Dict d) {
    Value v = make(ValueKind::VALUE_KIND_DICT);
    v.dict = std::make_shared<Dict>(std::move(d));
    return v;
  }
  static Value namespace_of(Dict d) {
    Value v = make(ValueKind::VALUE_KIND_NAMESPACE);
    v.dict = std::make_shared<Dict>(std::move(d));
    return v;
  }
  static Value callable(std::string name, NativeFn f) {
    Value v = make(ValueKind::VALUE_KIND_CALLABLE);
    v.fn = std::make_shared<const Callable>(Callable{std::move(name), std::move(f)});
    return v;
  }

  bool is_undefined() const { return kind == ValueKind::VALUE_KIND_UNDEFINED; }
  bool is_none() const { return kind == ValueKind::VALUE_KIND_NONE; }
  bool is_string() const { return kind == ValueKind::VALUE_KIND_STRING; }
  bool is_list() const { return kind == ValueKind::VALUE_KIND_LIST; }
  bool is_dict() const { return kind == ValueKind::VALUE_KIND_DICT; }
  bool is_number() const {
    return kind == ValueKind::VALUE_KIND_INT || kind == ValueKind::VALUE_KIND_FLOAT || kind == ValueKind::VALUE_KIND_BOOL;
  }
  // Python's int subclass bool takes part in arithmetic as 0/1.
  bool is_integral() const { return kind == ValueKind::VALUE_KIND_INT || kind == ValueKind::VALUE_KIND_BOOL; }
  int64_t as_int() const { return kind == ValueKind::VALUE_KIND_BOOL ? (b ? 1 : 0) : i; }
  double as_double() const { return kind == ValueKind::VALUE_KIND_FLOAT ? f : static_cast<double>(as_int()); }

 private:
  static Value make(ValueKind k) {
    Value v;
    v.kind = k;
    return v;
  }
};

// Python type name as jinja2 error messages print it ("str", "dict object", ...).
std::string value_type_name(const Value& v);
bool value_truthy(const Value& v);
bool value_equals(const Value& a, const Value& b);
// Python ordering (<): numbers with numbers, strings by code point, lists lexicographically;
// anything else is a pagoda::Error like Python's TypeError.
bool value_less(const Value& a, const Value& b);
// str(v) as jinja2 prints it inside {{ }} (undefined prints as "").
std::string value_to_str(const Value& v);
// repr(v): how values appear inside printed lists and dicts.
std::string value_repr(const Value& v);
// json.dumps(v, ensure_ascii=False, indent=indent, separators=..., sort_keys=sort_keys).
// indent < 0 means None (single line). Undefined, namespaces and callables cannot be serialized.
std::string value_to_json(const Value& v, int indent, const std::string& item_sep, const std::string& key_sep,
                          bool sort_keys);
// Python repr() of a float: shortest round-trip digits, exponent outside [1e-4, 1e16).
std::string python_float_repr(double x);

// UTF-8 helpers: Python strings are sequences of code points, templates index and slice them so.
std::vector<size_t> utf8_offsets(std::string_view s);  // byte offset of each code point, plus s.size()
size_t utf8_length(std::string_view s);

}  // namespace pagoda::jinja
