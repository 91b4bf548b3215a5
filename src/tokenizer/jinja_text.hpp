// Jinja text helpers: Python str semantics on UTF-8 (code points, str.isspace, one-to-one case
// mapping for Latin/Greek/Cyrillic, strip/split/replace/splitlines) shared by filters and methods.
// Invalid UTF-8 is handled leniently, byte by byte; nothing here normalises text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/jinja_interpreter.hpp"

namespace pagoda::jinja {

struct CodePoint {
  uint32_t cp;
  std::string bytes;  // as it appeared in the input
};

uint32_t cp_upper(uint32_t c);
uint32_t cp_lower(uint32_t c);
bool cp_is_cased(uint32_t c);
bool cp_is_space(uint32_t c);
std::vector<CodePoint> decode(const std::string& s);
void encode(std::string& out, uint32_t cp);
std::string py_lower(const std::string& s);
std::string py_upper(const std::string& s);
bool is_alpha(unsigned char c);
std::vector<std::string> code_points(const std::string& s);
std::string py_strip(const std::string& s, const Value& chars, bool left, bool right);
std::vector<std::string> py_split(const std::string& s, const Value& sep, int64_t maxsplit);
std::string py_replace(Interpreter& in, const std::string& s, const std::string& from, const std::string& to, int64_t count);
std::vector<std::string> py_splitlines(const std::string& s);
std::string py_capitalize(const std::string& s);
std::string py_title(const std::string& s);

}  // namespace pagoda::jinja
