// Real chat templates (SmolLM2, SmolLM3, Llama 3.x, Qwen2.5/3, Mistral, Gemma, Phi, DeepSeek,
// Granite, Hermes) rendered over several conversations must match Python jinja2 byte for byte.
// Expected outputs come from tests/reference/chat_template_make_fixture.py (golden.json).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/test_paths.hpp"
#include "core/error.hpp"
#include "tokenizer/chat_template.hpp"

namespace pagoda {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string dir() { return test::fixtures_dir() + "/chat_templates/"; }

const nlohmann::ordered_json& golden() {
  static const nlohmann::ordered_json j = nlohmann::ordered_json::parse(read_file(dir() + "golden.json"));
  return j;
}

std::vector<std::string> template_names() {
  std::vector<std::string> names;
  for (const auto& c : golden()["cases"]) {
    std::string n = c["template"];
    if (names.empty() || names.back() != n) names.push_back(n);
  }
  return names;
}

class GoldenTemplate : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTemplate, MatchesJinja2ByteForByte) {
  const std::string name = GetParam();
  ChatTemplate tmpl(read_file(dir() + name));
  int checked = 0;
  for (const auto& c : golden()["cases"]) {
    if (c["template"] != name) continue;
    std::vector<ChatMessage> messages;
    for (const auto& m : golden()["conversations"][c["conversation"].get<std::string>()])
      messages.push_back({m["role"], m["content"]});
    ChatTemplateOptions opt;
    opt.add_generation_prompt = c["add_generation_prompt"];
    opt.bos_token = c["bos_token"];
    opt.eos_token = c["eos_token"];
    opt.now_unix_seconds = golden()["now_unix_seconds"];
    for (const auto& [k, v] : c["extra"].items()) opt.extra_variables.emplace_back(k, v.get<std::string>());
    std::string label = name + " / " + c["conversation"].get<std::string>() + " / agp=" +
                        (opt.add_generation_prompt ? "true" : "false") + " / extra=" + c["extra"].dump();
    SCOPED_TRACE(label);
    if (c.contains("error")) {
      EXPECT_THROW(tmpl.render(messages, opt), Error) << "jinja2 raised: " << c["error"];
    } else {
      std::string got;
      try {
        got = tmpl.render(messages, opt);
      } catch (const Error& e) {
        ADD_FAILURE() << "threw: " << e.what();
        continue;
      }
      EXPECT_EQ(got, c["expected"].get<std::string>());
    }
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

INSTANTIATE_TEST_SUITE_P(Templates, GoldenTemplate, ::testing::ValuesIn(template_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string s = info.param.substr(0, info.param.find(".jinja"));
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

// The ChatML fallback the runtime uses for models without a template.
TEST(ChatTemplate, ChatMlFallbackShape) {
  ChatTemplate t(
      "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
      "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}");
  EXPECT_EQ(t.render({{"user", "hi"}}, {}), "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, MovesAndRendersRepeatedly) {
  ChatTemplate a("{{ messages[0].content }}");
  ChatTemplate b(std::move(a));
  EXPECT_EQ(b.render({{"user", "x"}}, {}), "x");
  EXPECT_EQ(b.render({{"user", "y"}}, {}), "y");
}

}  // namespace
}  // namespace pagoda
