#include "cli/prompt_tokens.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

namespace pagoda::cli {

std::vector<int32_t> chat_prompt_tokens(const LoadedModel& lm, const std::vector<ChatMessage>& messages) {
  const Tokenizer& tok = lm.require_tokenizer();
  const std::string text = lm.render_chat(messages, true);
  bool add_bos = true;
  if (tok.bos_id() >= 0) {
    const std::string bos = tok.token_bytes(tok.bos_id());
    if (!bos.empty() && text.rfind(bos, 0) == 0) add_bos = false;
  }
  return tok.encode(text, add_bos, true);
}

void print_speed_report(const GenerationResult& r) {
  const double pp = r.prompt_seconds > 0 ? static_cast<double>(r.prompt_tokens) / r.prompt_seconds : 0.0;
  const double tg = r.generate_seconds > 0 ? static_cast<double>(r.tokens.size()) / r.generate_seconds : 0.0;
  fmt::print(stderr, "\nprompt: {} tokens ({} cached) in {:.3f} s ({:.1f} tok/s) | generation: {} tokens in {:.3f} s ({:.1f} tok/s) | finish: {}\n",
             r.prompt_tokens, r.cached_tokens, r.prompt_seconds, pp, r.tokens.size(), r.generate_seconds, tg, finish_reason_name(r.finish));
}

void print_memory_report(const LoadedModel& lm) {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  const double mib = 1024.0 * 1024.0;
  fmt::print(stderr, "memory: peak RSS {:.1f} MiB | model tensors {:.1f} MiB | KV cache {:.1f} MiB\n",
             static_cast<double>(ru.ru_maxrss) * 1024.0 / mib, static_cast<double>(lm.source->total_bytes()) / mib,
             static_cast<double>(lm.model->kv_cache_bytes()) / mib);
}

}  // namespace pagoda::cli
