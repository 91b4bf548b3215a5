// Incremental detokenization with stop strings, shared by single-session generation and the
// batched engine: tokens in, final text out. Text that could still become a stop string is held
// back; a matched stop string ends the stream and is never emitted.
#pragma once

#include <string>
#include <vector>

#include "tokenizer/tokenizer.hpp"

namespace pagoda {

class TextStream {
 public:
  TextStream(const Tokenizer& tokenizer, std::vector<std::string> stop);

  // Adds one token; returns the text that became final. Sets stopped() when a stop string matched.
  std::string push(int32_t token);
  // Ends the stream (EOS, length, cancel): returns whatever is still held back.
  std::string finish();
  bool stopped() const { return stopped_; }

 private:
  StreamDecoder decoder_;
  std::vector<std::string> stop_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace pagoda
