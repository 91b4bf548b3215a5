// Everything needed to talk to a model: its files, the model on a device, its tokenizer and chat
// template. The tokenizer is optional (a bare weights folder can still produce logits for ids).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/model_source.hpp"
#include "model/model.hpp"
#include "model/model_cuda.hpp"
#include "tokenizer/chat_template.hpp"
#include "tokenizer/tokenizer.hpp"

namespace pagoda {

struct LoadOptions {
  std::string device = "cpu";
  KvCacheOptions kv;
  GpuOptions gpu;  // device == "cuda" only
};

struct LoadedModel {
  std::shared_ptr<const ModelSource> source;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;  // null when the model has no tokenizer
  // The model's chat template (ChatML when it has none), parsed once at load so that every chat
  // request only renders. A template that fails to parse is kept as its error: the model still
  // loads and serves plain completions; chat requests get the message.
  std::shared_ptr<const ChatTemplate> chat_template;
  std::string chat_template_error;

  const Tokenizer& require_tokenizer() const;
  // Renders a conversation with the model's own chat template (ChatML when it has none).
  std::string render_chat(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
};

LoadedModel load_model(const std::string& path, const LoadOptions& options);
std::unique_ptr<Tokenizer> load_tokenizer(const ModelSource& source);  // null when absent

}  // namespace pagoda
