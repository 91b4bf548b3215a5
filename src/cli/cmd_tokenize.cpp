// `pagoda tokenize`: token ids of a text, on one line.
#include <fmt/ranges.h>

#include "cli/cli_common.hpp"
#include "core/error.hpp"
#include "runtime/loaded_model.hpp"

namespace pagoda::cli {

namespace {
struct TokenizeOptions {
  std::string model;
  std::string text;
  bool no_bos = false;
  bool no_special = false;
  bool pieces = false;
};
}  // namespace

Runner register_tokenize(CLI::App& app) {
  auto o = std::make_shared<TokenizeOptions>();
  auto* sub = app.add_subcommand("tokenize", "print the token ids of a text");
  sub->add_option("-m,--model", o->model, "GGUF file or Hugging Face folder (default: the default model)");
  sub->add_option("--text", o->text, "text to tokenize")->required();
  sub->add_flag("--no-bos", o->no_bos, "never prepend BOS");
  sub->add_flag("--no-special", o->no_special, "treat special-token text as plain text");
  sub->add_flag("--pieces", o->pieces, "print id:piece pairs instead of ids");
  return [o] {
    const std::string path = o->model.empty() ? default_model_ensure(true) : o->model;
    auto src = ModelSource::open(path);
    auto tok = load_tokenizer(*src);
    PAGODA_CHECK(tok != nullptr, "{}: the model has no tokenizer", path);
    std::vector<int32_t> ids = tok->encode(o->text, !o->no_bos, !o->no_special);
    if (!o->pieces) {
      fmt::print("{}\n", fmt::join(ids, " "));
    } else {
      std::vector<std::string> parts;
      for (int32_t id : ids) parts.push_back(fmt::format("{}:{:?}", id, tok->token_bytes(id)));
      fmt::print("{}\n", fmt::join(parts, " "));
    }
    return 0;
  };
}

}  // namespace pagoda::cli
