// Jinja text helpers: Python's str methods re-done on UTF-8 code points, so results match
// CPython for the Latin, Greek and Cyrillic text chat templates see; other scripts pass through.
#include "tokenizer/jinja_text.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "tokenizer/utf8.hpp"

namespace pagoda::jinja {

namespace {

template <typename F>
std::string map_cps(const std::string& s, F f) {
  std::string out;
  for (const CodePoint& c : decode(s)) {
    uint32_t m = f(c.cp);
    if (m == c.cp) out += c.bytes;
    else encode(out, m);
  }
  return out;
}

}  // namespace

// Case mapping covers ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic (one code point to
// one); special cases such as 'ß' -> "SS" are not handled.
uint32_t cp_upper(uint32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if (c < 0x80) return c;
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149) {
    bool odd_lower = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_lower ? (c % 2 == 0) : (c % 2 == 1)) return c - 1;
    return c;
  }
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
  if (c == 0x3C2) return 0x3A3;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}

uint32_t cp_lower(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0x80) return c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c == 0x178) return 0xFF;
  if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149) {
    bool odd_lower = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_lower ? (c % 2 == 1) : (c % 2 == 0)) return c + 1;
    return c;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

bool cp_is_cased(uint32_t c) { return cp_upper(c) != c || cp_lower(c) != c; }

// Python's str.isspace() set.
bool cp_is_space(uint32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Decodes UTF-8 leniently (a stray byte becomes its own code point) keeping each one's bytes.
std::vector<CodePoint> decode(const std::string& s) {
  std::vector<size_t> off = utf8_offsets(s);
  std::vector<CodePoint> out;
  size_t k = 0;
  if (!off.empty() && off[0] != 0) off.insert(off.begin(), 0);
  for (; k + 1 < off.size(); ++k) {
    std::string b = s.substr(off[k], off[k + 1] - off[k]);
    unsigned char c0 = static_cast<unsigned char>(b[0]);
    uint32_t cp;
    if (b.size() == 1) cp = c0;
    else {
      cp = c0 & (0xFF >> (b.size() + 1));
      for (size_t j = 1; j < b.size(); ++j) cp = (cp << 6) | (static_cast<unsigned char>(b[j]) & 0x3F);
    }
    out.push_back({cp, std::move(b)});
  }
  return out;
}

void encode(std::string& out, uint32_t cp) { utf8_append(out, cp); }

std::string py_lower(const std::string& s) { return map_cps(s, cp_lower); }
std::string py_upper(const std::string& s) { return map_cps(s, cp_upper); }
bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Splits into code points so strip(chars) and friends work on characters, not bytes.
std::vector<std::string> code_points(const std::string& s) {
  std::vector<size_t> off = utf8_offsets(s);
  std::vector<std::string> out;
  for (size_t k = 0; k + 1 < off.size(); ++k) out.push_back(s.substr(off[k], off[k + 1] - off[k]));
  return out;
}

std::string py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  if (chars.is_undefined() || chars.is_none()) {
    std::vector<CodePoint> cps = decode(s);
    size_t a = 0, b = cps.size();
    if (left)
      while (a < b && cp_is_space(cps[a].cp)) ++a;
    if (right)
      while (b > a && cp_is_space(cps[b - 1].cp)) --b;
    std::string out;
    for (size_t k = a; k < b; ++k) out += cps[k].bytes;
    return out;
  }
  PAGODA_CHECK(chars.is_string(), "strip arg must be None or str");
  std::vector<std::string> set = code_points(chars.s);
  std::vector<std::string> cps = code_points(s);
  auto in_set = [&](const std::string& c) { return std::find(set.begin(), set.end(), c) != set.end(); };
  size_t a = 0, b = cps.size();
  if (left)
    while (a < b && in_set(cps[a])) ++a;
  if (right)
    while (b > a && in_set(cps[b - 1])) --b;
  std::string out;
  for (size_t k = a; k < b; ++k) out += cps[k];
  return out;
}

std::vector<std::string> py_split(const std::string& s, const Value& sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep.is_undefined() || sep.is_none()) {
    std::vector<CodePoint> cps = decode(s);
    size_t k = 0, n = cps.size();
    auto join = [&](size_t a, size_t b) {
      std::string o;
      for (size_t j = a; j < b; ++j) o += cps[j].bytes;
      return o;
    };
    while (true) {
      while (k < n && cp_is_space(cps[k].cp)) ++k;
      if (k >= n) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        size_t e = n;
        while (e > k && cp_is_space(cps[e - 1].cp)) --e;
        out.push_back(join(k, e));
        break;
      }
      size_t start = k;
      while (k < n && !cp_is_space(cps[k].cp)) ++k;
      out.push_back(join(start, k));
    }
    return out;
  }
  PAGODA_CHECK(sep.is_string(), "must be str or None, not {}", value_type_name(sep));
  PAGODA_CHECK(!sep.s.empty(), "empty separator");
  size_t start = 0;
  while (true) {
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) break;
    size_t hit = s.find(sep.s, start);
    if (hit == std::string::npos) break;
    out.push_back(s.substr(start, hit - start));
    start = hit + sep.s.size();
  }
  out.push_back(s.substr(start));
  return out;
}

std::string py_replace(Interpreter& in, const std::string& s, const std::string& from, const std::string& to, int64_t count) {
  std::string out;
  size_t start = 0;
  int64_t done = 0;
  if (from.empty()) {
    // Python inserts `to` between every character (and at both ends).
    std::vector<std::string> cps = code_points(s);
    for (size_t k = 0; k <= cps.size(); ++k) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      if (k < cps.size()) out += cps[k];
      in.check_string_size(out.size());
    }
    return out;
  }
  while (count < 0 || done < count) {
    size_t hit = s.find(from, start);
    if (hit == std::string::npos) break;
    out.append(s, start, hit - start);
    out += to;
    start = hit + from.size();
    ++done;
    in.check_string_size(out.size());
  }
  out.append(s, start, std::string::npos);
  in.check_string_size(out.size());
  return out;
}

// str.splitlines(): \n, \r, \r\n, \v, \f, \x1c-\x1e, U+0085, U+2028, U+2029.
std::vector<std::string> py_splitlines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0, k = 0;
  while (k < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[k]);
    size_t brk = 0;
    if (c == '\r') brk = (k + 1 < s.size() && s[k + 1] == '\n') ? 2 : 1;
    else if (c == '\n' || c == '\v' || c == '\f' || c == 0x1c || c == 0x1d || c == 0x1e) brk = 1;
    else if (c == 0xC2 && k + 1 < s.size() && static_cast<unsigned char>(s[k + 1]) == 0x85) brk = 2;
    else if (c == 0xE2 && k + 2 < s.size() && static_cast<unsigned char>(s[k + 1]) == 0x80 &&
             (static_cast<unsigned char>(s[k + 2]) == 0xA8 || static_cast<unsigned char>(s[k + 2]) == 0xA9))
      brk = 3;
    if (brk) {
      out.push_back(s.substr(start, k - start));
      k += brk;
      start = k;
    } else {
      ++k;
    }
  }
  if (start < s.size()) out.push_back(s.substr(start));
  return out;
}

std::string py_capitalize(const std::string& s) {
  std::string out;
  bool first = true;
  for (const CodePoint& c : decode(s)) {
    encode(out, first ? cp_upper(c.cp) : cp_lower(c.cp));
    first = false;
  }
  return out;
}

// str.title(): a cased character after an uncased one starts a word.
std::string py_title(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (const CodePoint& c : decode(s)) {
    bool cased = cp_is_cased(c.cp);
    encode(out, cased ? (prev_cased ? cp_lower(c.cp) : cp_upper(c.cp)) : c.cp);
    prev_cased = cased;
  }
  return out;
}

}  // namespace pagoda::jinja
