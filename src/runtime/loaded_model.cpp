#include "runtime/loaded_model.hpp"

#include <filesystem>

#include "core/error.hpp"

namespace pagoda {

namespace {
// Used only for models that carry no template of their own.
constexpr const char* kChatMlTemplate =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const ModelSource& source) {
  if (source.gguf() && source.gguf()->find("tokenizer.ggml.model")) return Tokenizer::from_gguf(*source.gguf());
  std::string json = source.tokenizer_json_path();
  if (!json.empty()) return Tokenizer::from_tokenizer_json(json);
  return nullptr;
}

LoadedModel load_model(const std::string& path, const LoadOptions& options) {
  LoadedModel lm;
  std::shared_ptr<const ModelSource> src = ModelSource::open(path);
  lm.source = src;
  lm.tokenizer = load_tokenizer(*src);
  if (lm.tokenizer) {
    const std::string& own = lm.tokenizer->chat_template();
    try {
      lm.chat_template = std::make_shared<const ChatTemplate>(own.empty() ? std::string(kChatMlTemplate) : own);
    } catch (const Error& e) {
      lm.chat_template_error = fmt::format("{}: the model's chat template cannot be used: {}", path, e.what());
    }
  }
  if (options.device == "cpu") {
    lm.model = model_cpu_create(src, options.kv);
  } else if (options.device == "cuda") {
    lm.model = model_cuda_create(src, options.kv, options.gpu);
  } else {
    fail("device '{}' is not available in this build (use --device cpu or cuda)", options.device);
  }
  return lm;
}

const Tokenizer& LoadedModel::require_tokenizer() const {
  PAGODA_CHECK(tokenizer != nullptr, "{}: the model has no tokenizer (pass token ids instead)", source->path());
  return *tokenizer;
}

std::string LoadedModel::render_chat(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  const Tokenizer& tok = require_tokenizer();
  PAGODA_CHECK(chat_template != nullptr, "{}", chat_template_error);
  ChatTemplateOptions opt;
  opt.add_generation_prompt = add_generation_prompt;
  if (tok.bos_id() >= 0) opt.bos_token = tok.token_bytes(tok.bos_id());
  if (tok.eos_id() >= 0) opt.eos_token = tok.token_bytes(tok.eos_id());
  return chat_template->render(messages, opt);
}

}  // namespace pagoda
