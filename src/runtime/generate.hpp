// Text generation on a Session: evaluate the prompt, then sample token by token, streaming text
// through a callback. Stops on end-of-generation tokens, stop strings (text is held back while it
// could still be the start of a stop string, and the stop string itself is never emitted), the
// token limit, a full context, or the callback asking to stop.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "runtime/sampler.hpp"
#include "runtime/session.hpp"
#include "tokenizer/tokenizer.hpp"

namespace pagoda {

struct GenerationParams {
  int64_t max_tokens = 256;
  std::vector<std::string> stop;
  bool ignore_eos = false;
  SamplingParams sampling;
};

enum class FinishReason : uint8_t {
  FINISH_REASON_STOP,       // end-of-generation token or stop string
  FINISH_REASON_LENGTH,     // max_tokens or the context filled up
  FINISH_REASON_CANCELLED,  // the callback returned false
};
const char* finish_reason_name(FinishReason r);

struct GenerationResult {
  std::vector<int32_t> tokens;  // generated token ids (the stopping EOS excluded)
  std::string text;
  FinishReason finish = FinishReason::FINISH_REASON_LENGTH;
  int64_t prompt_tokens = 0;  // tokens evaluated for the prompt (cached prefix excluded)
  int64_t cached_tokens = 0;  // prompt tokens reused from the session's cache
  double prompt_seconds = 0;
  double generate_seconds = 0;  // from the first sampled token to the last
};

// on_text receives each piece of newly final text; return false to stop.
using TextCallback = std::function<bool(const std::string&)>;

GenerationResult generate(Session& session, const Tokenizer& tokenizer, std::span<const int32_t> prompt,
                          const GenerationParams& params, const TextCallback& on_text);

// Finds the earliest stop string in text; returns npos when none. `held` is set to how many
// trailing bytes could still begin a stop string.
size_t stop_string_find(const std::string& text, const std::vector<std::string>& stop, size_t* held);

}  // namespace pagoda
