// Bounds and diagnostics: runaway templates stop with pagoda::Error (step budget, output cap,
// recursion and nesting limits) instead of hanging or exhausting memory, and every syntax or
// runtime error names the template line and column.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "core/error.hpp"
#include "tokenizer/chat_template.hpp"

namespace pagoda {
namespace {

std::string error_of(const std::string& source, const ChatTemplateOptions& opt = {}) {
  try {
    ChatTemplate(source).render({{"user", "hi"}}, opt);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(JinjaBounds, StepBudgetStopsNestedLoops) {
  auto t0 = std::chrono::steady_clock::now();
  std::string e = error_of("{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(contains(e, "step budget")) << e;
  EXPECT_TRUE(contains(e, "template:1:")) << e;
  EXPECT_LT(secs, 10.0);
}

TEST(JinjaBounds, StepBudgetIsConfigurable) {
  ChatTemplateOptions opt;
  opt.max_steps = 50;
  EXPECT_TRUE(contains(error_of("{% for i in range(100) %}{{ i }}{% endfor %}", opt), "step budget"));
  opt.max_steps = 100000;
  EXPECT_EQ(error_of("{% for i in range(100) %}{{ i }}{% endfor %}", opt), "<no error>");
}

TEST(JinjaBounds, OutputCapStopsHugeOutput) {
  ChatTemplateOptions opt;
  opt.max_steps = int64_t{1} << 40;
  opt.max_output_bytes = 1 << 20;
  std::string e = error_of("{% for i in range(100000) %}{% for j in range(1000) %}0123456789{% endfor %}{% endfor %}", opt);
  EXPECT_TRUE(contains(e, "output exceeded")) << e;
  EXPECT_TRUE(contains(error_of("{% for i in range(100000000) %}{% endfor %}", opt), "over the limit"));
}

TEST(JinjaBounds, HugeStringsAreRefusedBeforeAllocation) {
  EXPECT_TRUE(contains(error_of("{{ 'x' * 1000000000000 }}"), "over the output cap"));
  EXPECT_TRUE(contains(error_of("{% set s = 'xxxxxxxxxxxxxxxx' %}{% set ns = namespace(s=s) %}"
                                "{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}"),
                       "over the output cap"));
  EXPECT_FALSE(contains(error_of("{{ 'ab' * 2 ** 62 }}"), "<no error>"));
}

TEST(JinjaBounds, MacroRecursionIsBounded) {
  std::string e = error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  EXPECT_TRUE(contains(e, "nested deeper")) << e;
}

TEST(JinjaBounds, DeepNestingIsASyntaxErrorNotACrash) {
  std::string parens = "{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}";
  EXPECT_TRUE(contains(error_of(parens), "template:1:")) << error_of(parens);
  std::string nots = "{{ " + std::string(0, ' ');
  for (int i = 0; i < 100000; ++i) nots += "not ";
  nots += "x }}";
  EXPECT_TRUE(contains(error_of(nots), "nested too deeply"));
  std::string ifs;
  for (int i = 0; i < 5000; ++i) ifs += "{% if true %}";
  EXPECT_TRUE(contains(error_of(ifs), "nested too deeply"));
  std::string minus = "{{ ";
  for (int i = 0; i < 100000; ++i) minus += "-";
  minus += "1 }}";
  EXPECT_TRUE(contains(error_of(minus), "nested too deeply"));
}

TEST(JinjaBounds, SyntaxErrorsNameLineAndColumn) {
  EXPECT_TRUE(contains(error_of("line one\n  {{ 1 + }}"), "template:2:10:")) << error_of("line one\n  {{ 1 + }}");
  EXPECT_TRUE(contains(error_of("{% if x %}\n\n{% endfor %}"), "template:3:")) << error_of("{% if x %}\n\n{% endfor %}");
  EXPECT_TRUE(contains(error_of("{% if x %}\nno end"), "expected 'elif' or 'else' or 'endif'"));
  EXPECT_TRUE(contains(error_of("ab\n{{ 'open }}"), "template:2:4: unterminated string")) << error_of("ab\n{{ 'open }}");
  EXPECT_TRUE(contains(error_of("{# never closed"), "template:1:1: missing end of comment"));
  EXPECT_TRUE(contains(error_of("{{ x ]}}"), "unexpected ']'"));
  EXPECT_TRUE(contains(error_of("{% include 'x' %}"), "unknown or unsupported tag 'include'"));
  EXPECT_TRUE(contains(error_of("x\n{{ y|nosuch }}"), "template:2:6: no filter named 'nosuch'")) << error_of("x\n{{ y|nosuch }}");
  EXPECT_TRUE(contains(error_of("{{ 'a' @ 1 }}"), "unexpected char '@'"));
}

TEST(JinjaBounds, RuntimeErrorsNameLineAndColumn) {
  std::string e = error_of("a\nb\n  {{ missing.attr }}");
  EXPECT_TRUE(contains(e, "template:3:13:")) << e;
  EXPECT_TRUE(contains(e, "'missing' is undefined")) << e;
  e = error_of("{% for m in messages %}\n{{ raise_exception('Roles must alternate') }}\n{% endfor %}");
  EXPECT_TRUE(contains(e, "template:2:")) << e;
  EXPECT_TRUE(contains(e, "Roles must alternate")) << e;
  EXPECT_TRUE(contains(error_of("{{ 1 // 0 }}"), "division or modulo by zero"));
  EXPECT_TRUE(contains(error_of("{{ 9223372036854775807 + 1 }}"), "integer overflow"));
  EXPECT_TRUE(contains(error_of("{{ messages.append(1) }}"), "unsafe"));
}

}  // namespace
}  // namespace pagoda
