// GPT-2's byte-level alphabet: each of the 256 byte values is shown as one printable code point
// (printable Latin-1 maps to itself, the rest to U+0100 upwards), so BPE vocabularies over raw bytes
// can be stored as text. Encoding maps bytes to that text; decoding maps it back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pagoda {

// The UTF-8 text of the code point that stands for byte b.
const std::string& byte_level_char(uint8_t b);

// Appends the byte-level text of raw bytes.
void byte_level_encode(std::string_view bytes, std::string& out);

// The raw bytes of byte-level text. Returns false (and leaves a best effort in out) when the
// text contains a code point outside the alphabet, which then is copied through unchanged.
bool byte_level_decode(std::string_view text, std::string& out);

}  // namespace pagoda
