#include "runtime/text_stream.hpp"

#include "runtime/generate.hpp"

namespace pagoda {

TextStream::TextStream(const Tokenizer& tokenizer, std::vector<std::string> stop)
    : decoder_(tokenizer), stop_(std::move(stop)) {}

std::string TextStream::push(int32_t token) {
  if (stopped_) return {};
  pending_ += decoder_.push(token);
  size_t held = 0;
  const size_t at = stop_string_find(pending_, stop_, &held);
  std::string out;
  if (at != std::string::npos) {
    out = pending_.substr(0, at);
    pending_.clear();
    stopped_ = true;
    return out;
  }
  out = pending_.substr(0, pending_.size() - held);
  pending_.erase(0, pending_.size() - held);
  return out;
}

std::string TextStream::finish() {
  if (stopped_) return {};
  std::string out = pending_ + decoder_.flush();
  pending_.clear();
  // A stop string may complete only in the flushed bytes.
  if (size_t at = stop_string_find(out, stop_, nullptr); at != std::string::npos) {
    out.resize(at);
    stopped_ = true;
  }
  return out;
}

}  // namespace pagoda
