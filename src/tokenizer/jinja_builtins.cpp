// Jinja builtins: filters and tests from jinja2.filters / jinja2.tests, Python str/dict/list
// methods, and the globals Hugging Face adds. Case mapping covers Latin, Greek and Cyrillic
// letters; other scripts pass through unchanged. Mutating list/dict methods are refused
// as HF's ImmutableSandboxedEnvironment refuses them.
#include "tokenizer/jinja_builtins.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <memory>

#include "core/error.hpp"
#include "tokenizer/jinja_text.hpp"

namespace pagoda::jinja {

namespace {

using Filter = Value (*)(Interpreter&, const Value&, CallArgs&);

constexpr int64_t kMaxRangeLength = int64_t{1} << 20;

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// json.dumps(ensure_ascii=True) escapes every non-ASCII code point (as UTF-16 units).
std::string ascii_escape_json(const std::string& s) {
  std::string out;
  for (size_t k = 0; k < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[k]);
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++k;
      continue;
    }
    int n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    uint32_t cp = n == 1 ? 0xFFFD : c & (0xFF >> (n + 1));
    for (int j = 1; j < n && k + static_cast<size_t>(j) < s.size(); ++j) cp = (cp << 6) | (static_cast<unsigned char>(s[k + static_cast<size_t>(j)]) & 0x3F);
    k += static_cast<size_t>(n);
    char b[16];
    if (cp >= 0x10000) {
      cp -= 0x10000;
      std::snprintf(b, sizeof(b), "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
    } else {
      std::snprintf(b, sizeof(b), "\\u%04x", cp);
    }
    out += b;
  }
  return out;
}

int64_t arg_int(const Value& v, const char* what) {
  PAGODA_CHECK(v.is_integral(), "{} must be an integer, not {}", what, value_type_name(v));
  return v.as_int();
}

const std::string& arg_str(const Value& v, const char* what) {
  require_defined(v);
  PAGODA_CHECK(v.is_string(), "{} must be a string, not {}", what, value_type_name(v));
  return v.s;
}

// jinja2.filters.make_attrgetter: "a.b.0" walks items/attributes.
Value attr_path(Interpreter& in, const Value& obj, const Value& path) {
  if (path.is_integral()) return get_item(in, obj, path);
  Value cur = obj;
  std::string p = arg_str(path, "attribute");
  size_t start = 0;
  while (true) {
    size_t dot = p.find('.', start);
    std::string part = p.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = digits ? get_item(in, cur, Value::integer(std::stoll(part))) : get_item(in, cur, Value::string(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

Value lowered(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(py_lower(v.s));
  return v;
}

Value sequence_of(Interpreter& in, const Value& v) { return Value::list_of(in.iterate(v)); }

std::string unsafe_name(const Value& obj) { return obj.is_dict() ? "dict" : obj.is_tuple ? "tuple" : "list"; }

// ---- filters ----

Value f_default(Interpreter&, const Value& v, CallArgs& a) {
  ArgBinder b("default", a);
  Value dflt = b.get(0, "default_value", Value::string(""));
  bool boolean = value_truthy(b.get(1, "boolean", Value::boolean(false)));
  if (v.is_undefined() || (boolean && !value_truthy(v))) return dflt;
  return v;
}

Value f_length(Interpreter&, const Value& v, CallArgs&) {
  switch (v.kind) {
    case ValueKind::VALUE_KIND_UNDEFINED: return Value::integer(0);
    case ValueKind::VALUE_KIND_STRING: return Value::integer(static_cast<int64_t>(utf8_length(v.s)));
    case ValueKind::VALUE_KIND_LIST: return Value::integer(static_cast<int64_t>(v.list->size()));
    case ValueKind::VALUE_KIND_DICT: return Value::integer(static_cast<int64_t>(v.dict->size()));
    default: fail("object of type '{}' has no len()", value_type_name(v));
  }
}

Value f_join(Interpreter& in, const Value& v, CallArgs& a) {
  ArgBinder b("join", a);
  Value sep = b.get(0, "d", Value::string(""));
  Value attribute = b.get(1, "attribute", Value::none());
  std::string sep_s = value_to_str(sep);
  std::string out;
  bool first = true;
  for (const Value& item : in.iterate(v)) {
    if (!first) out += sep_s;
    first = false;
    out += value_to_str(attribute.is_none() ? item : attr_path(in, item, attribute));
    in.check_string_size(out.size());
  }
  return Value::string(std::move(out));
}

Value f_tojson(Interpreter& in, const Value& v, CallArgs& a) {
  ArgBinder b("tojson", a);
  bool ensure_ascii = value_truthy(b.get(0, "ensure_ascii", Value::boolean(false)));
  Value indent_v = b.get(1, "indent", Value::none());
  Value seps = b.get(2, "separators", Value::none());
  bool sort_keys = value_truthy(b.get(3, "sort_keys", Value::boolean(false)));
  int indent = -1;
  if (!indent_v.is_none() && !indent_v.is_undefined()) {
    int64_t n = arg_int(indent_v, "indent");
    PAGODA_CHECK(n >= 0 && n <= 64, "tojson indent {} out of range", n);
    indent = static_cast<int>(n);
  }
  std::string item_sep = indent >= 0 ? "," : ", ", key_sep = ": ";
  if (!seps.is_none() && !seps.is_undefined()) {
    PAGODA_CHECK(seps.is_list() && seps.list->size() == 2, "separators must be a pair of strings");
    item_sep = arg_str((*seps.list)[0], "separator");
    key_sep = arg_str((*seps.list)[1], "separator");
  }
  require_defined(v);
  std::string out = value_to_json(v, indent, item_sep, key_sep, sort_keys);
  in.check_string_size(out.size());
  in.charge(static_cast<int64_t>(out.size() / 64));
  return Value::string(ensure_ascii ? ascii_escape_json(out) : out);
}

Value f_items(Interpreter& in, const Value& v, CallArgs&) {
  if (v.is_undefined()) return Value::list_of({});
  PAGODA_CHECK(v.is_dict(), "Can only get item pairs from a mapping.");
  in.charge(static_cast<int64_t>(v.dict->size()));
  List out;
  for (const auto& [k, e] : v.dict->entries()) out.push_back(Value::list_of({Value::string(k), e}, true));
  return Value::list_of(std::move(out));
}

Value f_first(Interpreter& in, const Value& v, CallArgs&) {
  std::vector<Value> items = in.iterate(v);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_last(Interpreter& in, const Value& v, CallArgs&) {
  std::vector<Value> items = in.iterate(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value f_list(Interpreter& in, const Value& v, CallArgs&) { return sequence_of(in, v); }
Value f_string(Interpreter&, const Value& v, CallArgs&) { return v.is_string() ? v : Value::string(value_to_str(v)); }
Value f_safe(Interpreter&, const Value& v, CallArgs&) { return v; }

Value f_int(Interpreter&, const Value& v, CallArgs& a) {
  ArgBinder b("int", a);
  Value dflt = b.get(0, "default", Value::integer(0));
  int64_t base = arg_int(b.get(1, "base", Value::integer(10)), "base");
  if (v.is_integral()) return Value::integer(v.as_int());
  if (v.kind == ValueKind::VALUE_KIND_FLOAT) {
    if (!std::isfinite(v.f) || std::fabs(v.f) >= 9.2e18) return dflt;
    return Value::integer(static_cast<int64_t>(v.f));
  }
  if (v.is_string()) {
    std::string s = py_strip(v.s, Value(), true, true);
    std::string digits;
    for (char c : s)
      if (c != '_') digits += c;
    if (!digits.empty() && base >= 2 && base <= 36) {
      char* end = nullptr;
      errno = 0;
      long long r = std::strtoll(digits.c_str(), &end, static_cast<int>(base));
      if (errno == 0 && end && *end == '\0') return Value::integer(r);
    }
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0' && std::isfinite(d) && std::fabs(d) < 9.2e18) return Value::integer(static_cast<int64_t>(d));
  }
  return dflt;
}

Value f_float(Interpreter&, const Value& v, CallArgs& a) {
  ArgBinder b("float", a);
  Value dflt = b.get(0, "default", Value::floating(0.0));
  if (v.is_number()) return Value::floating(v.as_double());
  if (v.is_string()) {
    std::string s = py_strip(v.s, Value(), true, true);
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0') return Value::floating(d);
  }
  return dflt;
}

Value f_trim(Interpreter&, const Value& v, CallArgs& a) {
  ArgBinder b("trim", a);
  return Value::string(py_strip(value_to_str(v), b.get(0, "chars", Value::none()), true, true));
}
Value f_upper(Interpreter&, const Value& v, CallArgs&) { return Value::string(py_upper(value_to_str(v))); }
Value f_lower(Interpreter&, const Value& v, CallArgs&) { return Value::string(py_lower(value_to_str(v))); }
Value f_capitalize(Interpreter&, const Value& v, CallArgs&) { return Value::string(py_capitalize(value_to_str(v))); }

// jinja2 do_title: words begin after runs of [-\s({\[<].
Value f_title(Interpreter&, const Value& v, CallArgs&) {
  std::string out;
  bool at_start = true;
  for (const CodePoint& c : decode(value_to_str(v))) {
    bool boundary = c.cp == '-' || c.cp == '(' || c.cp == '{' || c.cp == '[' || c.cp == '<' || cp_is_space(c.cp);
    if (boundary) {
      out += c.bytes;
      at_start = true;
    } else {
      encode(out, at_start ? cp_upper(c.cp) : cp_lower(c.cp));
      at_start = false;
    }
  }
  return Value::string(std::move(out));
}

Value f_replace(Interpreter& in, const Value& v, CallArgs& a) {
  ArgBinder b("replace", a);
  std::string from = value_to_str(b.get(0, "old"));
  std::string to = value_to_str(b.get(1, "new"));
  Value count = b.get(2, "count", Value::none());
  return Value::string(py_replace(in, value_to_str(v), from, to, count.is_none() ? -1 : arg_int(count, "count")));
}

Value f_indent(Interpreter& in, const Value& v, CallArgs& a) {
  ArgBinder b("indent", a);
  Value width = b.get(0, "width", Value::integer(4));
  bool first = value_truthy(b.get(1, "first", Value::boolean(false)));
  bool blank = value_truthy(b.get(2, "blank", Value::boolean(false)));
  std::string ind;
  if (width.is_string()) {
    ind = width.s;
  } else {
    int64_t n = arg_int(width, "width");
    in.check_string_size(static_cast<size_t>(std::max<int64_t>(n, 0)));
    ind = std::string(static_cast<size_t>(std::max<int64_t>(n, 0)), ' ');
  }
  std::string s = value_to_str(v) + "\n";
  std::vector<std::string> lines = py_splitlines(s);
  in.charge(static_cast<int64_t>(lines.size()));
  std::string rv;
  if (blank) {
    for (size_t k = 0; k < lines.size(); ++k) rv += (k ? "\n" + ind : "") + lines[k];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t k = 1; k < lines.size(); ++k) rv += "\n" + (lines[k].empty() ? "" : ind) + lines[k];
  }
  if (first) rv = ind + rv;
  in.check_string_size(rv.size());
  return Value::string(std::move(rv));
}

Value f_map(Interpreter& in, const Value& v, CallArgs& a) {
  std::vector<Value> items = in.iterate(v);
  List out;
  for (auto& [k, val] : a.keyword) {
    if (k != "attribute") continue;
    Value dflt = Value::undefined("");
    bool has_default = false;
    for (auto& [k2, val2] : a.keyword)
      if (k2 == "default") {
        dflt = val2;
        has_default = true;
      }
    for (const Value& item : items) {
      Value r = attr_path(in, item, val);
      out.push_back(has_default && r.is_undefined() ? dflt : r);
    }
    return Value::list_of(std::move(out));
  }
  PAGODA_CHECK(!a.positional.empty(), "map requires a filter name or attribute=");
  std::string name = arg_str(a.positional[0], "map filter");
  CallArgs rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.keyword = a.keyword;
  for (const Value& item : items) {
    CallArgs copy = rest;
    out.push_back(builtin_filter(in, name, item, copy));
  }
  return Value::list_of(std::move(out));
}

Value select_impl(Interpreter& in, const Value& v, CallArgs& a, bool by_attr, bool keep) {
  std::vector<Value> items = in.iterate(v);
  size_t next = 0;
  Value attribute;
  if (by_attr) {
    PAGODA_CHECK(!a.positional.empty(), "selectattr/rejectattr need an attribute name");
    attribute = a.positional[next++];
  }
  std::string test;
  if (next < a.positional.size()) test = arg_str(a.positional[next++], "test name");
  CallArgs rest;
  rest.positional.assign(a.positional.begin() + static_cast<std::ptrdiff_t>(next), a.positional.end());
  rest.keyword = a.keyword;
  List out;
  for (const Value& item : items) {
    Value subject = by_attr ? attr_path(in, item, attribute) : item;
    bool r;
    if (test.empty()) {
      r = value_truthy(subject);
    } else {
      CallArgs copy = rest;
      r = builtin_test(in, test, subject, copy);
    }
    if (r == keep) out.push_back(item);
  }
  return Value::list_of(std::move(out));
}

Value f_select(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, true); }
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, false); }
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, true); }
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, false); }

Value f_reverse(Interpreter& in, const Value& v, CallArgs&) {
  if (v.is_string()) {
    std::vector<std::string> cps = code_points(v.s);
    std::string out;
    for (size_t k = cps.size(); k-- > 0;) out += cps[k];
    return Value::string(std::move(out));
  }
  std::vector<Value> items = in.iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::list_of(std::move(items));
}

Value f_sort(Interpreter& in, const Value& v, CallArgs& a) {
  ArgBinder b("sort", a);
  bool reverse = value_truthy(b.get(0, "reverse", Value::boolean(false)));
  bool cs = value_truthy(b.get(1, "case_sensitive", Value::boolean(false)));
  Value attribute = b.get(2, "attribute", Value::none());
  std::vector<Value> items = in.iterate(v);
  std::vector<std::pair<Value, Value>> keyed;
  for (const Value& item : items) keyed.emplace_back(lowered(attribute.is_none() ? item : attr_path(in, item, attribute), cs), item);
  in.charge(static_cast<int64_t>(items.size()) * 8);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? value_less(y.first, x.first) : value_less(x.first, y.first);
  });
  List out;
  for (auto& kv : keyed) out.push_back(kv.second);
  return Value::list_of(std::move(out));
}

Value f_dictsort(Interpreter& in, const Value& v, CallArgs& a) {
  ArgBinder b("dictsort", a);
  bool cs = value_truthy(b.get(0, "case_sensitive", Value::boolean(false)));
  std::string by = value_to_str(b.get(1, "by", Value::string("key")));
  bool reverse = value_truthy(b.get(2, "reverse", Value::boolean(false)));
  PAGODA_CHECK(v.is_dict(), "dictsort expects a mapping");
  PAGODA_CHECK(by == "key" || by == "value", "You can only sort by either 'key' or 'value'");
  std::vector<Value> pairs = *f_items(in, v, a).list;
  size_t idx = by == "key" ? 0 : 1;
  in.charge(static_cast<int64_t>(pairs.size()) * 8);
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
    Value kx = lowered((*x.list)[idx], cs), ky = lowered((*y.list)[idx], cs);
    return reverse ? value_less(ky, kx) : value_less(kx, ky);
  });
  return Value::list_of(std::move(pairs));
}

Value f_unique(Interpreter& in, const Value& v, CallArgs& a) {
  ArgBinder b("unique", a);
  bool cs = value_truthy(b.get(0, "case_sensitive", Value::boolean(false)));
  Value attribute = b.get(1, "attribute", Value::none());
  List out, seen;
  for (const Value& item : in.iterate(v)) {
    Value key = lowered(attribute.is_none() ? item : attr_path(in, item, attribute), cs);
    in.charge(static_cast<int64_t>(seen.size()));
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return value_equals(s, key); })) continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return Value::list_of(std::move(out));
}

Value minmax(Interpreter& in, const Value& v, CallArgs& a, bool want_max) {
  ArgBinder b(want_max ? "max" : "min", a);
  bool cs = value_truthy(b.get(0, "case_sensitive", Value::boolean(false)));
  Value attribute = b.get(1, "attribute", Value::none());
  std::vector<Value> items = in.iterate(v);
  if (items.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
  size_t best = 0;
  auto key = [&](size_t k) { return lowered(attribute.is_none() ? items[k] : attr_path(in, items[k], attribute), cs); };
  for (size_t k = 1; k < items.size(); ++k) {
    if (want_max ? value_less(key(best), key(k)) : value_less(key(k), key(best))) best = k;
  }
  return items[best];
}
Value f_max(Interpreter& in, const Value& v, CallArgs& a) { return minmax(in, v, a, true); }
Value f_min(Interpreter& in, const Value& v, CallArgs& a) { return minmax(in, v, a, false); }

Value f_sum(Interpreter& in, const Value& v, CallArgs& a) {
  ArgBinder b("sum", a);
  Value attribute = b.get(0, "attribute", Value::none());
  Value acc = b.get(1, "start", Value::integer(0));
  for (const Value& item : in.iterate(v)) acc = binary_op(in, "+", acc, attribute.is_none() ? item : attr_path(in, item, attribute));
  return acc;
}

Value f_abs(Interpreter&, const Value& v, CallArgs&) {
  PAGODA_CHECK(v.is_number(), "bad operand type for abs(): '{}'", value_type_name(v));
  if (v.kind == ValueKind::VALUE_KIND_FLOAT) return Value::floating(std::fabs(v.f));
  PAGODA_CHECK(v.as_int() != INT64_MIN, "integer overflow");
  return Value::integer(std::llabs(v.as_int()));
}

Value f_round(Interpreter&, const Value& v, CallArgs& a) {
  ArgBinder b("round", a);
  int64_t precision = arg_int(b.get(0, "precision", Value::integer(0)), "precision");
  std::string method = value_to_str(b.get(1, "method", Value::string("common")));
  PAGODA_CHECK(v.is_number(), "round expects a number");
  PAGODA_CHECK(precision >= -300 && precision <= 300, "round precision out of range");
  double scale = std::pow(10.0, static_cast<double>(precision));
  double x = v.as_double() * scale;
  if (method == "common") x = std::nearbyint(x);
  else if (method == "ceil") x = std::ceil(x);
  else if (method == "floor") x = std::floor(x);
  else fail("method must be common, ceil or floor");
  return Value::floating(x / scale);
}

Value f_escape(Interpreter&, const Value& v, CallArgs&) { return Value::string(html_escape(value_to_str(v))); }

Value f_attr(Interpreter& in, const Value& v, CallArgs& a) {
  ArgBinder b("attr", a);
  return get_attribute(in, v, arg_str(b.get(0, "name"), "attribute name"));
}

Value f_wordcount(Interpreter&, const Value& v, CallArgs&) {
  return Value::integer(static_cast<int64_t>(py_split(value_to_str(v), Value::none(), -1).size()));
}

Value f_center(Interpreter& in, const Value& v, CallArgs& a) {
  ArgBinder b("center", a);
  int64_t width = arg_int(b.get(0, "width", Value::integer(80)), "width");
  std::string s = value_to_str(v);
  int64_t len = static_cast<int64_t>(utf8_length(s));
  if (width <= len) return Value::string(s);
  in.check_string_size(static_cast<size_t>(width));
  // CPython pad(): left = pad/2 + (pad & width & 1).
  int64_t pad = width - len;
  int64_t left = pad / 2 + (pad & width & 1);
  return Value::string(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(pad - left), ' '));
}

struct NamedFilter {
  const char* name;
  Filter fn;
};

const NamedFilter kFilters[] = {
    {"default", f_default},       {"d", f_default},          {"length", f_length},       {"count", f_length},
    {"join", f_join},             {"tojson", f_tojson},      {"items", f_items},         {"first", f_first},
    {"last", f_last},             {"list", f_list},          {"string", f_string},       {"safe", f_safe},
    {"int", f_int},               {"float", f_float},        {"trim", f_trim},           {"upper", f_upper},
    {"lower", f_lower},           {"capitalize", f_capitalize}, {"title", f_title},      {"replace", f_replace},
    {"indent", f_indent},         {"map", f_map},            {"select", f_select},       {"reject", f_reject},
    {"selectattr", f_selectattr}, {"rejectattr", f_rejectattr}, {"reverse", f_reverse},  {"sort", f_sort},
    {"dictsort", f_dictsort},     {"unique", f_unique},      {"max", f_max},             {"min", f_min},
    {"sum", f_sum},               {"abs", f_abs},            {"round", f_round},         {"escape", f_escape},
    {"e", f_escape},              {"forceescape", f_escape}, {"attr", f_attr},           {"wordcount", f_wordcount},
    {"center", f_center},
};

// ---- tests ----

bool test_impl(Interpreter& in, const std::string& name, const Value& v, CallArgs& a) {
  auto arg = [&](const char* what) {
    PAGODA_CHECK(!a.positional.empty() || !a.keyword.empty(), "test '{}' needs an argument", name);
    (void)what;
    return a.positional.empty() ? a.keyword[0].second : a.positional[0];
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.kind == ValueKind::VALUE_KIND_INT;
  if (name == "float") return v.kind == ValueKind::VALUE_KIND_FLOAT;
  if (name == "boolean") return v.kind == ValueKind::VALUE_KIND_BOOL;
  if (name == "true") return v.kind == ValueKind::VALUE_KIND_BOOL && v.b;
  if (name == "false") return v.kind == ValueKind::VALUE_KIND_BOOL && !v.b;
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();
  if (name == "sequence") return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();
  if (name == "callable") return v.kind == ValueKind::VALUE_KIND_CALLABLE;
  if (name == "odd" || name == "even") {
    require_defined(v);
    PAGODA_CHECK(v.is_integral(), "test '{}' expects an integer", name);
    bool odd = (v.as_int() % 2) != 0;
    return name == "odd" ? odd : !odd;
  }
  if (name == "divisibleby") {
    int64_t n = arg_int(arg("num"), "divisor");
    PAGODA_CHECK(n != 0, "integer division or modulo by zero");
    require_defined(v);
    PAGODA_CHECK(v.is_integral(), "divisibleby expects an integer");
    return v.as_int() % n == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return value_equals(v, arg("other"));
  if (name == "ne" || name == "!=") return !value_equals(v, arg("other"));
  if (name == "lt" || name == "lessthan" || name == "<") return value_less(v, arg("other"));
  if (name == "gt" || name == "greaterthan" || name == ">") return value_less(arg("other"), v);
  if (name == "le" || name == "<=") return !value_less(arg("other"), v);
  if (name == "ge" || name == ">=") return !value_less(v, arg("other"));
  if (name == "in") {
    Value seq = arg("seq");
    CallArgs none;
    if (seq.is_string()) return v.is_string() && seq.s.find(v.s) != std::string::npos;
    if (seq.is_dict()) return v.is_string() && seq.dict->find(v.s) != nullptr;
    for (const Value& item : in.iterate(seq))
      if (value_equals(item, v)) return true;
    return false;
  }
  if (name == "sameas") {
    Value o = arg("other");
    if (v.kind != o.kind) return false;
    if (v.is_none() || v.is_undefined()) return true;
    if (v.kind == ValueKind::VALUE_KIND_BOOL) return v.b == o.b;
    if (v.is_list()) return v.list == o.list;
    if (v.is_dict() || v.kind == ValueKind::VALUE_KIND_NAMESPACE) return v.dict == o.dict;
    if (v.kind == ValueKind::VALUE_KIND_CALLABLE) return v.fn == o.fn;
    return value_equals(v, o);  // small ints and interned strings: identity is unknowable here
  }
  if (name == "lower" || name == "upper") {
    std::string s = value_to_str(v);
    std::vector<CodePoint> cps = decode(s);
    bool cased = std::any_of(cps.begin(), cps.end(), [](const CodePoint& c) { return cp_is_cased(c.cp); });
    return cased && s == (name == "lower" ? py_lower(s) : py_upper(s));
  }
  if (name == "filter") return builtin_filter_exists(value_to_str(v));
  if (name == "test") return builtin_test_exists(value_to_str(v));
  fail("no test named '{}'", name);
}

const char* const kTests[] = {"defined", "undefined", "none", "string", "number", "integer", "float", "boolean",
                              "true", "false", "mapping", "iterable", "sequence", "callable", "odd", "even",
                              "divisibleby", "eq", "equalto", "==", "ne", "!=", "lt", "lessthan", "<", "gt",
                              "greaterthan", ">", "le", "<=", "ge", ">=", "in", "sameas", "lower", "upper",
                              "filter", "test"};

// ---- methods ----

Value string_method(Interpreter& in, const std::string& s, const std::string& name, CallArgs& a) {
  ArgBinder b(name, a);
  if (name == "strip") return Value::string(py_strip(s, b.get(0, "chars", Value::none()), true, true));
  if (name == "lstrip") return Value::string(py_strip(s, b.get(0, "chars", Value::none()), true, false));
  if (name == "rstrip") return Value::string(py_strip(s, b.get(0, "chars", Value::none()), false, true));
  if (name == "upper") return Value::string(py_upper(s));
  if (name == "lower") return Value::string(py_lower(s));
  if (name == "title") return Value::string(py_title(s));
  if (name == "capitalize") return Value::string(py_capitalize(s));
  if (name == "startswith" || name == "endswith") {
    Value what = b.get(0, name == "startswith" ? "prefix" : "suffix");
    std::vector<Value> options = what.is_list() ? *what.list : std::vector<Value>{what};
    for (const Value& o : options) {
      const std::string& p = arg_str(o, name.c_str());
      if (p.size() > s.size()) continue;
      if (name == "startswith" ? s.compare(0, p.size(), p) == 0 : s.compare(s.size() - p.size(), p.size(), p) == 0)
        return Value::boolean(true);
    }
    return Value::boolean(false);
  }
  if (name == "split" || name == "rsplit") {
    Value sep = b.get(0, "sep", Value::none());
    int64_t maxsplit = arg_int(b.get(1, "maxsplit", Value::integer(-1)), "maxsplit");
    std::vector<std::string> parts;
    if (name == "rsplit" && maxsplit >= 0) {
      // Split from the right: reverse, split, reverse back (separator reversed too).
      auto rev = [](std::string x) {
        std::vector<std::string> cps = code_points(x);
        std::string o;
        for (size_t k = cps.size(); k-- > 0;) o += cps[k];
        return o;
      };
      Value rsep = sep.is_string() ? Value::string(rev(sep.s)) : sep;
      parts = py_split(rev(s), rsep, maxsplit);
      std::reverse(parts.begin(), parts.end());
      for (std::string& p : parts) p = rev(p);
    } else {
      parts = py_split(s, sep, maxsplit);
    }
    in.charge(static_cast<int64_t>(parts.size()));
    List out;
    for (std::string& p : parts) out.push_back(Value::string(std::move(p)));
    return Value::list_of(std::move(out));
  }
  if (name == "splitlines") {
    List out;
    for (std::string& p : py_splitlines(s)) out.push_back(Value::string(std::move(p)));
    return Value::list_of(std::move(out));
  }
  if (name == "replace") {
    Value count = b.get(2, "count", Value::integer(-1));
    return Value::string(py_replace(in, s, arg_str(b.get(0, "old"), "old"), arg_str(b.get(1, "new"), "new"), arg_int(count, "count")));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "count") {
    const std::string& sub = arg_str(b.get(0, "sub"), "sub");
    if (name == "count") {
      if (sub.empty()) return Value::integer(static_cast<int64_t>(utf8_length(s)) + 1);
      int64_t n = 0;
      for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return Value::integer(n);
    }
    size_t p = name == "rfind" ? s.rfind(sub) : s.find(sub);
    if (p == std::string::npos) {
      PAGODA_CHECK(name != "index", "substring not found");
      return Value::integer(-1);
    }
    return Value::integer(static_cast<int64_t>(utf8_length(std::string_view(s).substr(0, p))));
  }
  if (name == "join") {
    std::string out;
    bool first = true;
    for (const Value& item : in.iterate(b.get(0, "iterable"))) {
      if (!first) out += s;
      first = false;
      out += arg_str(item, "sequence item");
      in.check_string_size(out.size());
    }
    return Value::string(std::move(out));
  }
  if (name == "removeprefix") {
    const std::string& p = arg_str(b.get(0, "prefix"), "prefix");
    return Value::string(s.compare(0, p.size(), p) == 0 && p.size() <= s.size() ? s.substr(p.size()) : s);
  }
  if (name == "removesuffix") {
    const std::string& p = arg_str(b.get(0, "suffix"), "suffix");
    bool ends = !p.empty() && p.size() <= s.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
    return Value::string(ends ? s.substr(0, s.size() - p.size()) : s);
  }
  auto all = [&](auto pred) { return !s.empty() && std::all_of(s.begin(), s.end(), pred); };
  if (name == "isdigit") return Value::boolean(all([](char c) { return c >= '0' && c <= '9'; }));
  if (name == "isalpha") return Value::boolean(all([](char c) { return is_alpha(static_cast<unsigned char>(c)); }));
  if (name == "isalnum")
    return Value::boolean(all([](char c) { return is_alpha(static_cast<unsigned char>(c)) || (c >= '0' && c <= '9'); }));
  if (name == "isspace") {
    std::vector<CodePoint> cps = decode(s);
    return Value::boolean(!cps.empty() && std::all_of(cps.begin(), cps.end(), [](const CodePoint& c) { return cp_is_space(c.cp); }));
  }
  if (name == "islower" || name == "isupper") {
    CallArgs none;
    return Value::boolean(test_impl(in, name == "islower" ? "lower" : "upper", Value::string(s), none));
  }
  fail("'str' object has no attribute '{}'", name);
}

const char* const kStringMethods[] = {"strip", "lstrip", "rstrip", "upper", "lower", "title", "capitalize",
                                      "startswith", "endswith", "split", "rsplit", "splitlines", "replace", "find",
                                      "rfind", "index", "count", "join", "removeprefix", "removesuffix", "isdigit",
                                      "isalpha", "isalnum", "isspace", "islower", "isupper"};

Value dict_method(Interpreter& in, const Value& d, const std::string& name, CallArgs& a) {
  ArgBinder b(name, a);
  if (name == "items") {
    CallArgs none;
    return f_items(in, d, none);
  }
  if (name == "keys" || name == "values") {
    in.charge(static_cast<int64_t>(d.dict->size()));
    List out;
    for (const auto& [k, v] : d.dict->entries()) out.push_back(name == "keys" ? Value::string(k) : v);
    return Value::list_of(std::move(out));
  }
  if (name == "get") {
    Value key = b.get(0, "key");
    Value dflt = b.get(1, "default", Value::none());
    if (!key.is_string()) return dflt;
    const Value* v = d.dict->find(key.s);
    return v ? *v : dflt;
  }
  if (name == "copy") return d;
  fail("access to attribute '{}' of 'dict' object is unsafe.", name);
}

}  // namespace

Value ArgBinder::get(size_t idx, const char* name, Value fallback) const {
  for (auto& [k, v] : args_.keyword)
    if (k == name) return v;
  if (idx < args_.positional.size()) return args_.positional[idx];
  return fallback;
}

bool ArgBinder::has(size_t idx, const char* name) const {
  for (auto& [k, v] : args_.keyword)
    if (k == name) return true;
  return idx < args_.positional.size();
}

void ArgBinder::max_positional(size_t n) const {
  PAGODA_CHECK(args_.positional.size() <= n, "{}() takes at most {} positional arguments", fname_, n);
}

bool builtin_filter_exists(const std::string& name) {
  return std::any_of(std::begin(kFilters), std::end(kFilters), [&](const NamedFilter& f) { return name == f.name; });
}

bool builtin_test_exists(const std::string& name) {
  return std::any_of(std::begin(kTests), std::end(kTests), [&](const char* t) { return name == t; });
}

Value builtin_filter(Interpreter& in, const std::string& name, const Value& operand, CallArgs& args) {
  for (const NamedFilter& f : kFilters)
    if (name == f.name) return f.fn(in, operand, args);
  fail("no filter named '{}'", name);
}

bool builtin_test(Interpreter& in, const std::string& name, const Value& operand, CallArgs& args) {
  return test_impl(in, name, operand, args);
}

Value builtin_method(Interpreter& in, const Value& obj, const std::string& name) {
  if (obj.is_string()) {
    if (std::none_of(std::begin(kStringMethods), std::end(kStringMethods), [&](const char* m) { return name == m; }))
      return Value::undefined("'str object' has no attribute '" + name + "'");
    std::string s = obj.s;
    return Value::callable("str." + name, [s, name](Interpreter& in2, CallArgs& a) { return string_method(in2, s, name, a); });
  }
  if (obj.is_dict()) {
    Value d = obj;
    return Value::callable("dict." + name, [d, name](Interpreter& in2, CallArgs& a) { return dict_method(in2, d, name, a); });
  }
  if (obj.is_list()) {
    Value l = obj;
    if (name == "index" || name == "count") {
      return Value::callable("list." + name, [l, name](Interpreter&, CallArgs& a) {
        PAGODA_CHECK(a.positional.size() == 1, "list.{}() takes exactly one argument", name);
        int64_t n = 0;
        for (size_t k = 0; k < l.list->size(); ++k) {
          if (!value_equals((*l.list)[k], a.positional[0])) continue;
          if (name == "index") return Value::integer(static_cast<int64_t>(k));
          ++n;
        }
        PAGODA_CHECK(name != "index", "value is not in list");
        return Value::integer(n);
      });
    }
    static const char* const mutators[] = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"};
    for (const char* m : mutators)
      if (name == m)
        return Value::callable("list." + name, [l, name](Interpreter&, CallArgs&) -> Value {
          fail("access to attribute '{}' of '{}' object is unsafe.", name, unsafe_name(l));
        });
    return Value::undefined("'" + value_type_name(obj) + " object' has no attribute '" + name + "'");
  }
  (void)in;
  return Value::undefined("'" + value_type_name(obj) + " object' has no attribute '" + name + "'");
}

void builtin_add_globals(std::unordered_map<std::string, Value>& g, int64_t now_unix_seconds) {
  g["range"] = Value::callable("range", [](Interpreter& in, CallArgs& a) {
    PAGODA_CHECK(!a.positional.empty() && a.positional.size() <= 3 && a.keyword.empty(), "range expected 1 to 3 integer arguments");
    int64_t start = 0, stop, step = 1;
    if (a.positional.size() == 1) {
      stop = arg_int(a.positional[0], "range stop");
    } else {
      start = arg_int(a.positional[0], "range start");
      stop = arg_int(a.positional[1], "range stop");
      if (a.positional.size() == 3) step = arg_int(a.positional[2], "range step");
    }
    PAGODA_CHECK(step != 0, "range() arg 3 must not be zero");
    // Size the list before building it: the step budget pays for every element up front, and
    // a hard cap keeps a huge budget from turning into gigabytes of values.
    __int128 span = step > 0 ? static_cast<__int128>(stop) - start : static_cast<__int128>(start) - stop;
    __int128 mag = step > 0 ? step : -static_cast<__int128>(step);
    __int128 count = span <= 0 ? 0 : (span + mag - 1) / mag;
    PAGODA_CHECK(count <= kMaxRangeLength, "range of {} elements is over the limit of {}", static_cast<int64_t>(count),
                 kMaxRangeLength);
    in.charge(static_cast<int64_t>(count));
    List out;
    out.reserve(static_cast<size_t>(count));
    for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
      out.push_back(Value::integer(k));
      if ((step > 0 && k > INT64_MAX - step) || (step < 0 && k < INT64_MIN - step)) break;
    }
    return Value::list_of(std::move(out));
  });
  auto make_dict = [](CallArgs& a, const char* what) {
    Dict d;
    for (const Value& p : a.positional) {
      PAGODA_CHECK(p.is_dict(), "{}() positional argument must be a mapping", what);
      for (const auto& [k, v] : p.dict->entries()) d.set(k, v);
    }
    for (auto& [k, v] : a.keyword) d.set(k, v);
    return d;
  };
  g["namespace"] = Value::callable("namespace", [make_dict](Interpreter&, CallArgs& a) { return Value::namespace_of(make_dict(a, "namespace")); });
  g["dict"] = Value::callable("dict", [make_dict](Interpreter&, CallArgs& a) { return Value::dict_of(make_dict(a, "dict")); });
  g["raise_exception"] = Value::callable("raise_exception", [](Interpreter&, CallArgs& a) -> Value {
    fail("{}", a.positional.empty() ? std::string("raise_exception called") : value_to_str(a.positional[0]));
  });
  g["strftime_now"] = Value::callable("strftime_now", [now_unix_seconds](Interpreter&, CallArgs& a) {
    PAGODA_CHECK(a.positional.size() == 1 && a.positional[0].is_string(), "strftime_now expects one format string");
    std::time_t t = now_unix_seconds >= 0 ? static_cast<std::time_t>(now_unix_seconds) : std::time(nullptr);
    std::tm tm{};
    // A fixed clock is read as UTC so renders are reproducible; the real clock is local time, as HF.
    if (now_unix_seconds >= 0) gmtime_r(&t, &tm);
    else localtime_r(&t, &tm);
    const std::string& f = a.positional[0].s;
    PAGODA_CHECK(f.size() < 256, "strftime_now format too long");
    char buf[1024];
    size_t n = f.empty() ? 0 : std::strftime(buf, sizeof(buf), f.c_str(), &tm);
    return Value::string(std::string(buf, n));
  });
  g["joiner"] = Value::callable("joiner", [](Interpreter&, CallArgs& a) {
    std::string sep = a.positional.empty() ? ", " : value_to_str(a.positional[0]);
    auto used = std::make_shared<bool>(false);
    return Value::callable("joiner", [sep, used](Interpreter&, CallArgs&) {
      if (!*used) {
        *used = true;
        return Value::string("");
      }
      return Value::string(sep);
    });
  });
}

}  // namespace pagoda::jinja
