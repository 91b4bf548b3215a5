// `pagoda chat`: interactive multi-turn chat with the model's own template. The KV cache keeps
// the conversation so each turn only evaluates the new tokens. /reset clears it, /exit quits.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli/cli_common.hpp"
#include "cli/prompt_tokens.hpp"
#include "core/error.hpp"

namespace pagoda::cli {

namespace {
struct ChatOptions {
  ModelOptions model;
  SamplingOptions sampling;
  std::string system;
  bool show_speed = false;
};
}  // namespace

Runner register_chat(CLI::App& app) {
  auto o = std::make_shared<ChatOptions>();
  o->sampling.gen.max_tokens = 1024;
  auto* sub = app.add_subcommand("chat", "interactive multi-turn chat (reads stdin; /reset, /exit)");
  add_model_options(*sub, o->model);
  add_sampling_options(*sub, o->sampling);
  sub->add_option("--system", o->system, "system message");
  sub->add_flag("--speed", o->show_speed, "print speeds after each reply");
  return [o] {
    LoadedModel lm = load_from_options(o->model);
    const Tokenizer& tok = lm.require_tokenizer();
    const GenerationParams params = generation_params(o->sampling);
    Session session(*lm.model);
    std::vector<ChatMessage> messages;
    if (!o->system.empty()) messages.push_back({"system", o->system});
    const bool tty = isatty(STDIN_FILENO);
    std::string line;
    while (true) {
      if (tty) fmt::print(stderr, "\n> ");
      if (!std::getline(std::cin, line)) break;
      if (line == "/exit" || line == "/quit") break;
      if (line == "/reset") {
        messages.resize(o->system.empty() ? 0 : 1);
        session.reset();
        fmt::print(stderr, "(conversation cleared)\n");
        continue;
      }
      if (line.empty()) continue;
      messages.push_back({"user", line});
      std::vector<int32_t> prompt = chat_prompt_tokens(lm, messages);
      if (static_cast<int64_t>(prompt.size()) + 1 > session.capacity()) {
        fmt::print(stderr, "the conversation no longer fits the context ({} tokens); use /reset or a larger --ctx\n",
                   session.capacity());
        messages.pop_back();
        continue;
      }
      GenerationResult r = generate(session, tok, prompt, params, [](const std::string& s) {
        std::fwrite(s.data(), 1, s.size(), stdout);
        std::fflush(stdout);
        return true;
      });
      std::fputc('\n', stdout);
      std::fflush(stdout);
      messages.push_back({"assistant", r.text});
      if (o->show_speed) print_speed_report(r);
    }
    return 0;
  };
}

}  // namespace pagoda::cli
