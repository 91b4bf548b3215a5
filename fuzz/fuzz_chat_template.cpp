// libFuzzer target: the Jinja-subset chat-template interpreter. Any input must either render or
// throw pagoda::Error within the step and output bounds; crashes, sanitizer reports and other
// exceptions are findings. The bounds are lowered so each input stays fast.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "tokenizer/chat_template.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source(reinterpret_cast<const char*>(data), size);
  try {
    pagoda::ChatTemplate tmpl(source);
    pagoda::ChatTemplateOptions opt;
    opt.bos_token = "<s>";
    opt.eos_token = "</s>";
    opt.now_unix_seconds = 0;
    opt.max_steps = 20'000;
    opt.max_output_bytes = 1 << 16;
    tmpl.render({{"system", "be brief"}, {"user", "hi {{ x }}"}, {"assistant", "ok"}, {"user", "\xff\xfe"}}, opt);
  } catch (const pagoda::Error&) {
  }
  return 0;
}
