// `pagoda run`: one prompt in, generated text streamed to stdout, speeds to stderr.
#include <cstdio>

#include "cli/cli_common.hpp"
#include "cli/prompt_tokens.hpp"
#include "core/error.hpp"

namespace pagoda::cli {

namespace {
struct RunOptions {
  ModelOptions model;
  SamplingOptions sampling;
  std::string prompt;
  std::string system;
  bool chat = false;
  bool verbose = false;
};
}  // namespace

Runner register_run(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  auto* sub = app.add_subcommand("run", "generate text for one prompt, streamed to stdout");
  add_model_options(*sub, o->model);
  add_sampling_options(*sub, o->sampling);
  sub->add_option("-p,--prompt", o->prompt, "prompt text")->required();
  sub->add_flag("--chat", o->chat, "wrap the prompt as a user message in the model's chat template");
  sub->add_option("--system", o->system, "system message (with --chat)");
  sub->add_flag("-v,--verbose", o->verbose, "print the model description and the rendered prompt");
  return [o] {
    LoadedModel lm = load_from_options(o->model);
    const Tokenizer& tok = lm.require_tokenizer();
    std::vector<int32_t> prompt;
    if (o->chat) {
      std::vector<ChatMessage> msgs;
      if (!o->system.empty()) msgs.push_back({"system", o->system});
      msgs.push_back({"user", o->prompt});
      prompt = chat_prompt_tokens(lm, msgs);
    } else {
      prompt = tok.encode(o->prompt, true, false);
    }
    if (o->verbose) fmt::print(stderr, "{}\nprompt: {} tokens\n", lm.model->describe(), prompt.size());
    Session session(*lm.model);
    GenerationResult r = generate(session, tok, prompt, generation_params(o->sampling), [](const std::string& s) {
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
      return true;
    });
    std::fputc('\n', stdout);
    print_speed_report(r);
    if (o->verbose) print_memory_report(lm);
    return 0;
  };
}

}  // namespace pagoda::cli
