// `pagoda logits`: the logits after every input position, written as a safetensors file with one
// float32 tensor `logits` [T, V]. Used to compare against reference implementations.
#include <sstream>

#include "cli/cli_common.hpp"
#include "core/error.hpp"
#include "io/safetensors.hpp"

namespace pagoda::cli {

namespace {
struct LogitsOptions {
  ModelOptions model;
  std::string tokens;
  std::string text;
  std::string out;
};

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::string word;
  std::istringstream in(s);
  while (in >> word) {
    for (char& c : word)
      if (c == ',') c = ' ';
    std::istringstream w(word);
    std::string part;
    while (w >> part) {
      size_t used = 0;
      long long v = 0;
      try {
        v = std::stoll(part, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      PAGODA_CHECK(used == part.size() && v >= 0 && v <= INT32_MAX, "--tokens: '{}' is not a token id", part);
      ids.push_back(static_cast<int32_t>(v));
    }
  }
  return ids;
}
}  // namespace

Runner register_logits(CLI::App& app) {
  auto o = std::make_shared<LogitsOptions>();
  auto* sub = app.add_subcommand("logits", "write the logits after every input position to a safetensors file");
  add_model_options(*sub, o->model);
  auto* ids = sub->add_option("--tokens", o->tokens, "token ids, space or comma separated");
  auto* text = sub->add_option("--text", o->text, "text to tokenize instead of --tokens");
  ids->excludes(text);
  sub->add_option("-o,--out", o->out, "output .safetensors file")->required();
  return [o] {
    LoadedModel lm = load_from_options(o->model);
    std::vector<int32_t> tokens = o->text.empty() ? parse_ids(o->tokens) : lm.require_tokenizer().encode(o->text, true, false);
    PAGODA_CHECK(!tokens.empty(), "no tokens given (use --tokens or --text)");
    Session session(*lm.model);
    std::vector<float> logits = session.eval_all(tokens);
    const int64_t V = lm.model->config().vocab_size;
    safetensors_write_f32(o->out, {{"logits", {static_cast<int64_t>(tokens.size()), V}, logits.data()}});
    fmt::print(stderr, "wrote logits [{}, {}] to {}\n", tokens.size(), V, o->out);
    return 0;
  };
}

}  // namespace pagoda::cli
