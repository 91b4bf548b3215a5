// Chat templates: renders a model's own Jinja chat template (tokenizer.chat_template) with the
// project's Jinja-subset interpreter. Rendering is bounded in steps and output size, and any
// template error becomes a pagoda::Error naming the problem.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace pagoda {

struct ChatMessage {
  std::string role;     // "system" | "user" | "assistant" | ...
  std::string content;
};

struct ChatTemplateOptions {
  bool add_generation_prompt = true;
  std::string bos_token;
  std::string eos_token;
};

class ChatTemplate {
 public:
  explicit ChatTemplate(std::string source);  // parses; throws pagoda::Error on syntax errors
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;
  std::string render(const std::vector<ChatMessage>& messages, const ChatTemplateOptions& options) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pagoda
