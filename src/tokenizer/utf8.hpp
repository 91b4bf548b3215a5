// UTF-8 stepping and repair shared by the tokenizer, its decoders and the stream decoder.
// Invalid input is replaced by U+FFFD one "maximal subpart" at a time (Unicode 3.9 / W3C practice,
// the rule Python's bytes.decode(errors="replace") follows), so Pagoda and Python agree byte for byte.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pagoda {

enum class Utf8Status : uint8_t {
  UTF8_STATUS_VALID,       // a complete, valid sequence of `len` bytes
  UTF8_STATUS_INVALID,     // `len` bytes (>= 1) that can never start a valid sequence: one U+FFFD
  UTF8_STATUS_INCOMPLETE,  // `len` bytes that are a valid prefix cut off by the end of the input
};

struct Utf8Step {
  Utf8Status status;
  uint32_t len;
  uint32_t cp;  // the code point when VALID
};

// Examines the sequence starting at s[pos] (pos < s.size()).
Utf8Step utf8_step(std::string_view s, size_t pos);

// True when every byte of s belongs to a complete, valid sequence.
bool utf8_is_valid(std::string_view s);

// s with every invalid or truncated sequence replaced by U+FFFD (EF BF BD).
std::string utf8_sanitize(std::string_view s);

void utf8_append(std::string& out, uint32_t cp);

inline constexpr std::string_view UTF8_REPLACEMENT = "\xEF\xBF\xBD";

}  // namespace pagoda
