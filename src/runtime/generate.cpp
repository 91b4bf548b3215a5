#include "runtime/generate.hpp"

#include <algorithm>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "runtime/text_stream.hpp"

namespace pagoda {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::FINISH_REASON_STOP: return "stop";
    case FinishReason::FINISH_REASON_LENGTH: return "length";
    case FinishReason::FINISH_REASON_CANCELLED: return "cancelled";
  }
  return "unknown";
}

size_t stop_string_find(const std::string& text, const std::vector<std::string>& stop, size_t* held) {
  size_t best = std::string::npos;
  size_t hold = 0;
  for (const std::string& s : stop) {
    if (s.empty()) continue;
    size_t at = text.find(s);
    if (at != std::string::npos) best = std::min(best, at);
    // Longest suffix of text that is a proper prefix of s.
    for (size_t k = std::min(s.size() - 1, text.size()); k > hold; --k) {
      if (text.compare(text.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  if (held) *held = hold;
  return best;
}

GenerationResult generate(Session& session, const Tokenizer& tokenizer, std::span<const int32_t> prompt,
                          const GenerationParams& params, const TextCallback& on_text) {
  PAGODA_CHECK(!prompt.empty(), "the prompt is empty");
  PAGODA_CHECK(params.max_tokens >= 0, "max_tokens must be >= 0");
  GenerationResult result;
  Sampler sampler(params.sampling);

  // Reuse the cached prefix the session already holds (multi-turn chat), evaluate the rest.
  const auto& cached = session.tokens();
  size_t common = 0;
  while (common < cached.size() && common < prompt.size() && cached[common] == prompt[common]) ++common;
  if (common == prompt.size()) --common;  // need at least one token to get logits from
  session.truncate(static_cast<int64_t>(common));
  const double t0 = seconds_now();
  std::vector<float> logits = session.eval(prompt.subspan(common));
  result.prompt_tokens = static_cast<int64_t>(prompt.size() - common);
  result.cached_tokens = static_cast<int64_t>(common);
  result.prompt_seconds = seconds_now() - t0;

  std::vector<int32_t> history(prompt.begin(), prompt.end());
  TextStream stream(tokenizer, params.stop);
  const double g0 = seconds_now();
  auto emit = [&](const std::string& s) -> bool {
    if (s.empty()) return true;
    result.text += s;
    return on_text ? on_text(s) : true;
  };

  for (int64_t i = 0; i < params.max_tokens; ++i) {
    const int32_t tok = sampler.sample(logits, history, prompt.size());
    if (!params.ignore_eos && tokenizer.is_end_of_generation(tok)) {
      result.finish = FinishReason::FINISH_REASON_STOP;
      break;
    }
    result.tokens.push_back(tok);
    history.push_back(tok);
    const bool go_on = emit(stream.push(tok));
    if (stream.stopped()) {
      result.finish = FinishReason::FINISH_REASON_STOP;
      break;
    }
    if (!go_on) {
      result.finish = FinishReason::FINISH_REASON_CANCELLED;
      break;
    }
    if (i + 1 == params.max_tokens) break;
    if (session.size() + 1 > session.capacity()) break;  // context full: finish with "length"
    logits = session.eval(std::span<const int32_t>(&tok, 1));
  }
  if (result.finish != FinishReason::FINISH_REASON_CANCELLED) {
    emit(stream.finish());
    if (stream.stopped()) result.finish = FinishReason::FINISH_REASON_STOP;
  }
  result.generate_seconds = seconds_now() - g0;
  return result;
}

}  // namespace pagoda
