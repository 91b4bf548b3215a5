// Jinja values: Python-faithful printing, comparison and JSON. The printing rules here decide
// byte-identity with jinja2, so each mirrors the CPython function named in its comment.
#include "tokenizer/jinja_value.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/error.hpp"

namespace pagoda::jinja {

size_t Dict::size() const { return entries_.size(); }

const Value* Dict::find(std::string_view key) const {
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

void Dict::set(const std::string& key, Value v) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(v);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(key, std::move(v));
}

std::string value_type_name(const Value& v) {
  switch (v.kind) {
    case ValueKind::VALUE_KIND_UNDEFINED: return "Undefined";
    case ValueKind::VALUE_KIND_NONE: return "NoneType";
    case ValueKind::VALUE_KIND_BOOL: return "bool";
    case ValueKind::VALUE_KIND_INT: return "int";
    case ValueKind::VALUE_KIND_FLOAT: return "float";
    case ValueKind::VALUE_KIND_STRING: return "str";
    case ValueKind::VALUE_KIND_LIST: return v.is_tuple ? "tuple" : "list";
    case ValueKind::VALUE_KIND_DICT: return "dict";
    case ValueKind::VALUE_KIND_NAMESPACE: return "Namespace";
    case ValueKind::VALUE_KIND_CALLABLE: return "function";
  }
  return "?";
}

bool value_truthy(const Value& v) {
  switch (v.kind) {
    case ValueKind::VALUE_KIND_UNDEFINED:
    case ValueKind::VALUE_KIND_NONE: return false;
    case ValueKind::VALUE_KIND_BOOL: return v.b;
    case ValueKind::VALUE_KIND_INT: return v.i != 0;
    case ValueKind::VALUE_KIND_FLOAT: return v.f != 0.0;
    case ValueKind::VALUE_KIND_STRING: return !v.s.empty();
    case ValueKind::VALUE_KIND_LIST: return !v.list->empty();
    case ValueKind::VALUE_KIND_DICT: return v.dict->size() != 0;
    case ValueKind::VALUE_KIND_NAMESPACE:
    case ValueKind::VALUE_KIND_CALLABLE: return true;
  }
  return false;
}

bool value_equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case ValueKind::VALUE_KIND_UNDEFINED:
    case ValueKind::VALUE_KIND_NONE: return true;
    case ValueKind::VALUE_KIND_STRING: return a.s == b.s;
    case ValueKind::VALUE_KIND_LIST: {
      if (a.is_tuple != b.is_tuple || a.list->size() != b.list->size()) return false;
      for (size_t k = 0; k < a.list->size(); ++k)
        if (!value_equals((*a.list)[k], (*b.list)[k])) return false;
      return true;
    }
    case ValueKind::VALUE_KIND_DICT: {
      if (a.dict == b.dict) return true;
      if (a.dict->size() != b.dict->size()) return false;
      for (const auto& [k, v] : a.dict->entries()) {
        const Value* o = b.dict->find(k);
        if (!o || !value_equals(v, *o)) return false;
      }
      return true;
    }
    case ValueKind::VALUE_KIND_NAMESPACE: return a.dict == b.dict;
    case ValueKind::VALUE_KIND_CALLABLE: return a.fn == b.fn;
    default: return false;
  }
}

bool value_less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() < b.as_int();
    return a.as_double() < b.as_double();
  }
  if (a.is_string() && b.is_string()) return a.s < b.s;  // UTF-8 byte order is code point order
  if (a.is_list() && b.is_list() && a.is_tuple == b.is_tuple) {
    const List& x = *a.list;
    const List& y = *b.list;
    for (size_t k = 0; k < x.size() && k < y.size(); ++k) {
      if (value_equals(x[k], y[k])) continue;
      return value_less(x[k], y[k]);
    }
    return x.size() < y.size();
  }
  fail("'<' not supported between instances of '{}' and '{}'", value_type_name(a), value_type_name(b));
}

// CPython float_repr_style "short": repr uses fixed notation when -4 < decpt <= 16.
std::string python_float_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t epos = sci.find('e');
  std::string mant = sci.substr(0, epos);
  int exp10 = std::stoi(sci.substr(epos + 1));
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  int decpt = exp10 + 1;
  std::string out = neg ? "-" : "";
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
    } else if (static_cast<size_t>(decpt) >= digits.size()) {
      out += digits + std::string(static_cast<size_t>(decpt) - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(decpt)) + "." + digits.substr(static_cast<size_t>(decpt));
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char ebuf[16];
  std::snprintf(ebuf, sizeof(ebuf), "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
  return out + ebuf;
}

namespace {

// CPython unicode_repr: single quotes unless the text has ' and no ".
std::string string_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char q = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == static_cast<unsigned char>(q) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof(b), "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += q;
  return out;
}

// json.encoder.py_encode_basestring (ensure_ascii=False).
void json_string(const std::string& s, std::string& out) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof(b), "\\u%04x", c);
          out += b;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void json_value(const Value& v, int indent, int level, const std::string& item_sep, const std::string& key_sep,
                bool sort_keys, std::string& out) {
  PAGODA_CHECK(level < 256, "tojson: value nested deeper than 256 levels");
  auto newline = [&](int lvl) {
    out += '\n';
    out.append(static_cast<size_t>(indent) * static_cast<size_t>(lvl), ' ');
  };
  switch (v.kind) {
    case ValueKind::VALUE_KIND_NONE: out += "null"; return;
    case ValueKind::VALUE_KIND_BOOL: out += v.b ? "true" : "false"; return;
    case ValueKind::VALUE_KIND_INT: out += std::to_string(v.i); return;
    case ValueKind::VALUE_KIND_FLOAT:
      if (std::isnan(v.f)) out += "NaN";
      else if (std::isinf(v.f)) out += v.f < 0 ? "-Infinity" : "Infinity";
      else out += python_float_repr(v.f);
      return;
    case ValueKind::VALUE_KIND_STRING: json_string(v.s, out); return;
    case ValueKind::VALUE_KIND_LIST: {
      if (v.list->empty()) {
        out += "[]";
        return;
      }
      out += '[';
      bool first = true;
      for (const Value& e : *v.list) {
        if (!first) out += item_sep;
        first = false;
        if (indent >= 0) newline(level + 1);
        json_value(e, indent, level + 1, item_sep, key_sep, sort_keys, out);
      }
      if (indent >= 0) newline(level);
      out += ']';
      return;
    }
    case ValueKind::VALUE_KIND_DICT: {
      if (v.dict->size() == 0) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& e : v.dict->entries()) items.push_back(&e);
      if (sort_keys)
        std::stable_sort(items.begin(), items.end(), [](auto* x, auto* y) { return x->first < y->first; });
      out += '{';
      bool first = true;
      for (const auto* e : items) {
        if (!first) out += item_sep;
        first = false;
        if (indent >= 0) newline(level + 1);
        json_string(e->first, out);
        out += key_sep;
        json_value(e->second, indent, level + 1, item_sep, key_sep, sort_keys, out);
      }
      if (indent >= 0) newline(level);
      out += '}';
      return;
    }
    default: fail("Object of type {} is not JSON serializable", value_type_name(v));
  }
}

}  // namespace

std::string value_to_json(const Value& v, int indent, const std::string& item_sep, const std::string& key_sep,
                          bool sort_keys) {
  std::string out;
  json_value(v, indent, 0, item_sep, key_sep, sort_keys, out);
  return out;
}

std::string value_repr(const Value& v) {
  switch (v.kind) {
    case ValueKind::VALUE_KIND_STRING: return string_repr(v.s);
    case ValueKind::VALUE_KIND_UNDEFINED: return "Undefined";
    case ValueKind::VALUE_KIND_LIST: {
      std::string out = v.is_tuple ? "(" : "[";
      for (size_t k = 0; k < v.list->size(); ++k) {
        if (k) out += ", ";
        out += value_repr((*v.list)[k]);
      }
      if (v.is_tuple && v.list->size() == 1) out += ",";
      out += v.is_tuple ? ")" : "]";
      return out;
    }
    case ValueKind::VALUE_KIND_DICT: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, e] : v.dict->entries()) {
        if (!first) out += ", ";
        first = false;
        out += string_repr(k) + ": " + value_repr(e);
      }
      return out + "}";
    }
    default: return value_to_str(v);
  }
}

std::string value_to_str(const Value& v) {
  switch (v.kind) {
    case ValueKind::VALUE_KIND_UNDEFINED: return "";
    case ValueKind::VALUE_KIND_NONE: return "None";
    case ValueKind::VALUE_KIND_BOOL: return v.b ? "True" : "False";
    case ValueKind::VALUE_KIND_INT: return std::to_string(v.i);
    case ValueKind::VALUE_KIND_FLOAT: return python_float_repr(v.f);
    case ValueKind::VALUE_KIND_STRING: return v.s;
    case ValueKind::VALUE_KIND_LIST:
    case ValueKind::VALUE_KIND_DICT: return value_repr(v);
    case ValueKind::VALUE_KIND_NAMESPACE: return "<Namespace>";
    case ValueKind::VALUE_KIND_CALLABLE: return "<function " + v.fn->name + ">";
  }
  return "";
}

std::vector<size_t> utf8_offsets(std::string_view s) {
  std::vector<size_t> off;
  off.reserve(s.size() + 1);
  for (size_t k = 0; k < s.size(); ++k)
    if ((static_cast<unsigned char>(s[k]) & 0xC0) != 0x80) off.push_back(k);
  off.push_back(s.size());
  return off;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace pagoda::jinja
