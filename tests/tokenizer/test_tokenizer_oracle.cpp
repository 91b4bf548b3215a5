// Pagoda's token ids against the Hugging Face `tokenizers` library (fixture written by
// tests/reference/tokenizer_make_fixture.py): every vocabulary, loaded both from its GGUF and from
// the tokenizer.json built from it, must give exactly the ids `tokenizers` gave for each corpus text.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "tokenizer_fixtures.hpp"

namespace pagoda::test {
namespace {

using Param = std::tuple<std::string, std::string>;  // vocab, source

std::string show(const Tokenizer& tok, const std::vector<int32_t>& ids, size_t from) {
  std::string s;
  for (size_t i = from; i < ids.size() && i < from + 8; ++i) {
    const int32_t id = ids[i];
    s += std::to_string(id);
    if (id >= 0 && id < tok.vocab_size()) s += "'" + tok.token_bytes(id) + "'";
    s += " ";
  }
  return s;
}

void expect_ids(const Tokenizer& tok, const std::string& what, const std::vector<int32_t>& got,
                const std::vector<int32_t>& want) {
  if (got == want) return;
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  ADD_FAILURE() << what << ": ids differ at index " << i << " (got " << got.size() << " ids, expected "
                << want.size() << ")\n  got:      " << show(tok, got, i) << "\n  expected: " << show(tok, want, i);
}

class TokenizerOracle : public ::testing::TestWithParam<Param> {};

TEST_P(TokenizerOracle, MatchesHuggingFaceTokenizers) {
  const auto& [vocab, source] = GetParam();
  const Tokenizer* tok = load_test_tokenizer(vocab, source);
  if (!tok) GTEST_SKIP() << vocab << " GGUF not present (scripts/setup.sh fetches the default model)";
  const auto fixture = nlohmann::json::parse(read_file_bytes(tokenizer_fixture(vocab + ".ids.json")));
  int checked = 0;
  for (const auto& c : fixture.at("cases")) {
    const std::string name = c.at("name");
    const std::string text = from_hex(c.at("hex"));
    expect_ids(*tok, name + " (parse_special)", tok->encode(text, false, true), c.at("special"));
    ++checked;
    if (!c.at("plain").is_null()) {
      expect_ids(*tok, name + " (plain)", tok->encode(text, false, false), c.at("plain"));
      expect_ids(*tok, name + " (add_bos, parse_special)", tok->encode(text, true, true), c.at("bos_special"));
      checked += 2;
    }
  }
  EXPECT_GE(checked, 80);
}

INSTANTIATE_TEST_SUITE_P(Vocabs, TokenizerOracle,
                         ::testing::Combine(::testing::Values("llama-spm", "llama-bpe", "qwen2", "gpt-2", "smollm2"),
                                            ::testing::Values("gguf", "json")),
                         [](const auto& info) {
                           std::string n = std::get<0>(info.param) + "_" + std::get<1>(info.param);
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace pagoda::test
