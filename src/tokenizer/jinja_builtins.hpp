// Jinja builtins: the filters, tests, string/dict/list methods and global functions chat
// templates use (plus HF's tojson, raise_exception and strftime_now), each matching jinja2's or
// Python's behaviour. Unknown names are pagoda::Error, as jinja2 reports them.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "tokenizer/jinja_interpreter.hpp"

namespace pagoda::jinja {

Value builtin_filter(Interpreter& in, const std::string& name, const Value& operand, CallArgs& args);
bool builtin_test(Interpreter& in, const std::string& name, const Value& operand, CallArgs& args);
bool builtin_filter_exists(const std::string& name);
bool builtin_test_exists(const std::string& name);
// A bound method of a string, dict or list value, or an Undefined naming the miss.
Value builtin_method(Interpreter& in, const Value& obj, const std::string& name);

// range, namespace, dict, cycler-free globals, raise_exception and strftime_now. now_unix_seconds
// fixes the clock strftime_now reads (local time); -1 reads the real clock.
void builtin_add_globals(std::unordered_map<std::string, Value>& globals, int64_t now_unix_seconds);

// The `caller`-style helper for binding call arguments to a Python-like signature.
class ArgBinder {
 public:
  ArgBinder(std::string fname, CallArgs& args) : fname_(std::move(fname)), args_(args) {}
  // Argument `idx` by position or `name` by keyword; `fallback` when absent.
  Value get(size_t idx, const char* name, Value fallback = Value::undefined("")) const;
  bool has(size_t idx, const char* name) const;
  void max_positional(size_t n) const;

 private:
  std::string fname_;
  CallArgs& args_;
};

}  // namespace pagoda::jinja
