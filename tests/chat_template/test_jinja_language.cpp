// Language features one at a time: each small template in language.json was rendered by Python
// jinja2 (HF's environment) with a JSON context; ours must produce the same bytes or also raise.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/test_paths.hpp"
#include "core/error.hpp"
#include "tokenizer/chat_template.hpp"

namespace pagoda {
namespace {

nlohmann::ordered_json load() {
  std::ifstream f(test::fixtures_dir() + "/chat_templates/language.json", std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return nlohmann::ordered_json::parse(ss.str());
}

TEST(JinjaLanguage, MatchesJinja2OnFeatureCases) {
  nlohmann::ordered_json j = load();
  ASSERT_GT(j["cases"].size(), 50u);
  int errors_expected = 0;
  for (const auto& c : j["cases"]) {
    const std::string source = c["template"];
    SCOPED_TRACE("template: " + source);
    ChatTemplateOptions opt;
    opt.now_unix_seconds = j["now_unix_seconds"];
    // The context travels as JSON literals through the public extra-variables path.
    for (const auto& [k, v] : c["context"].items()) opt.extra_variables.emplace_back(k, v.dump());
    if (c.contains("error")) {
      ++errors_expected;
      EXPECT_THROW(ChatTemplate(source).render({}, opt), Error) << "jinja2 raised: " << c["error"];
      continue;
    }
    try {
      EXPECT_EQ(ChatTemplate(source).render({}, opt), c["expected"].get<std::string>());
    } catch (const Error& e) {
      ADD_FAILURE() << "threw: " << e.what();
    }
  }
  EXPECT_GT(errors_expected, 10);
}

TEST(JinjaLanguage, ExtraVariablesAcceptJsonLiterals) {
  ChatTemplateOptions opt;
  opt.extra_variables = {{"tools", R"([{"name": "f", "ok": true, "none": null, "n": -1.5, "s": "\u00e9\n"}])"},
                         {"enable_thinking", "false"}};
  EXPECT_EQ(ChatTemplate("{{ tools[0].none is none }}{{ tools[0].ok }}{{ tools[0].n }}{{ tools[0].s }}{{ enable_thinking }}")
                .render({}, opt),
            "TrueTrue-1.5é\nFalse");
  opt.extra_variables = {{"x", "[1, 2"}};
  EXPECT_THROW(ChatTemplate("{{ x }}").render({}, opt), Error);
}

TEST(JinjaLanguage, ToolsAndDocumentsDefaultToNone) {
  EXPECT_EQ(ChatTemplate("{{ tools is none }}{{ documents is none }}{{ tools is defined }}").render({}, {}), "TrueTrueTrue");
}

}  // namespace
}  // namespace pagoda
