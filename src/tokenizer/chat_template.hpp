// Chat templates: renders a model's own Jinja chat template (tokenizer.chat_template) with the
// project's Jinja-subset interpreter. Rendering is bounded in steps and output size, and any
// template error becomes a pagoda::Error naming the problem.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
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
  // Extra template variables (tools, enable_thinking, ...): name -> a JSON or Jinja literal,
  // e.g. {"enable_thinking", "false"} or {"tools", "[{\"type\": \"function\", ...}]"}.
  // `tools` and `documents` are None unless given here, as Hugging Face passes them.
  std::vector<std::pair<std::string, std::string>> extra_variables;
  int64_t now_unix_seconds = -1;             // clock for strftime_now (read as UTC); -1: real local time
  int64_t max_steps = 2'000'000;             // evaluation budget; exceeding it is a pagoda::Error
  size_t max_output_bytes = size_t{4} << 20; // cap on rendered (and intermediate) text
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
