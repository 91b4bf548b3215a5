// Tables built once from the rule in OpenAI's GPT-2 encoder.py (bytes_to_unicode).
#include "tokenizer/byte_level.hpp"

#include <array>

#include "tokenizer/utf8.hpp"

namespace pagoda {
namespace {

struct ByteLevelTables {
  std::array<std::string, 256> to_text;
  std::array<int16_t, 324> from_cp;  // code points used are < 256 + 68
  ByteLevelTables() {
    from_cp.fill(-1);
    uint32_t extra = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      const uint32_t cp = printable ? b : 256 + extra++;
      utf8_append(to_text[b], cp);
      from_cp[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteLevelTables& tables() {
  static const ByteLevelTables t;
  return t;
}

}  // namespace

const std::string& byte_level_char(uint8_t b) { return tables().to_text[b]; }

void byte_level_encode(std::string_view bytes, std::string& out) {
  const auto& t = tables();
  for (char c : bytes) out.append(t.to_text[static_cast<uint8_t>(c)]);
}

bool byte_level_decode(std::string_view text, std::string& out) {
  const auto& t = tables();
  bool ok = true;
  size_t i = 0;
  while (i < text.size()) {
    const Utf8Step st = utf8_step(text, i);
    if (st.status == Utf8Status::UTF8_STATUS_VALID && st.cp < t.from_cp.size() && t.from_cp[st.cp] >= 0) {
      out.push_back(static_cast<char>(t.from_cp[st.cp]));
    } else {
      out.append(text.substr(i, st.len));
      ok = false;
    }
    i += st.len;
  }
  return ok;
}

}  // namespace pagoda
