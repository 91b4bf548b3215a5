// Tokenizer::decode and StreamDecoder. Streaming output is always valid UTF-8: complete sequences
// go out at once, a valid-but-unfinished tail waits for the next token, and bytes that can never
// become valid are replaced by U+FFFD right away (waiting for them would stall the stream).
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/utf8.hpp"

namespace pagoda {

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) out += token_bytes(id);
  return out;
}

std::string StreamDecoder::push(int32_t id) {
  pending_ += tok_.token_bytes(id);
  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    const Utf8Step st = utf8_step(pending_, i);
    if (st.status == Utf8Status::UTF8_STATUS_INCOMPLETE) break;
    if (st.status == Utf8Status::UTF8_STATUS_VALID)
      out.append(pending_, i, st.len);
    else
      out.append(UTF8_REPLACEMENT);
    i += st.len;
  }
  pending_.erase(0, i);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = utf8_sanitize(pending_);
  pending_.clear();
  return out;
}

}  // namespace pagoda
