// Pagoda's token ids against the Hugging Face `tokenizers` library (fixture written by
// tests/reference/tokenizer_make_fixture.py): every vocabulary, loaded both from its GGUF and from
// the tokenizer.json built from it, must give exactly the ids `tokenizers` gave for each corpus text.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
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
    if (id >= 0 && id < tok.vocab_size()) s.append("'").append(tok.token_bytes(id)).append("'");
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

void expect_fixture(const Tokenizer* tok, const std::string& fixture_name) {
  const auto fixture = nlohmann::json::parse(read_file_bytes(tokenizer_fixture(fixture_name + ".ids.json")));
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

class TokenizerOracle : public ::testing::TestWithParam<Param> {};

TEST_P(TokenizerOracle, MatchesHuggingFaceTokenizers) {
  const auto& [vocab, source] = GetParam();
  const Tokenizer* tok = load_test_tokenizer(vocab, source);
  if (!tok) GTEST_SKIP() << vocab << " GGUF not present (scripts/setup.sh fetches the default model)";
  expect_fixture(tok, vocab);
}

// Llama 2 in the newer tokenizer.json form (Metaspace pre-tokenizer instead of Prepend/Replace
// normalizers), made by the same edit the fixture script applied before asking `tokenizers`.
TEST(TokenizerOracleMetaspace, MatchesHuggingFaceTokenizers) {
  const auto base = nlohmann::json::parse(
      read_file_bytes(std::string(PAGODA_TOKENIZER_VOCAB_DIR) + "/llama-spm.tokenizer.json"));
  for (const char* scheme : {"always", "first"}) {
    SCOPED_TRACE(scheme);
    nlohmann::json j = base;
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", scheme},
                          {"split", false}};
    const std::string dir = ::testing::TempDir() + "/pagoda_metaspace_" + scheme;
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/tokenizer.json") << j.dump();
    const auto tok = Tokenizer::from_tokenizer_json(dir + "/tokenizer.json");
    expect_fixture(tok.get(), std::string("llama-spm-metaspace-") + scheme);
  }
}

// Older tokenizer.json files spell merges as "left right" strings instead of pairs.
TEST(TokenizerJson, AcceptsStringMerges) {
  auto j = nlohmann::json::parse(read_file_bytes(std::string(PAGODA_TOKENIZER_VOCAB_DIR) + "/gpt-2.tokenizer.json"));
  for (auto& m : j["model"]["merges"]) {
    std::string joined = m[0].get<std::string>();
    joined.push_back(' ');
    joined.append(m[1].get<std::string>());
    m = joined;
  }
  const std::string dir = ::testing::TempDir() + "/pagoda_string_merges";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/tokenizer.json") << j.dump();
  const auto tok = Tokenizer::from_tokenizer_json(dir + "/tokenizer.json");
  expect_fixture(tok.get(), "gpt-2");
}

// bos/eos/chat template come from a tokenizer_config.json next to tokenizer.json.
TEST(TokenizerJson, ReadsTokenizerConfig) {
  const std::string dir = ::testing::TempDir() + "/pagoda_tokenizer_config";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(std::string(PAGODA_TOKENIZER_VOCAB_DIR) + "/qwen2.tokenizer.json",
                             dir + "/tokenizer.json", std::filesystem::copy_options::overwrite_existing);
  std::ofstream(dir + "/tokenizer_config.json")
      << R"({"eos_token": {"content": "<|im_end|>"}, "pad_token": "<|endoftext|>", "bos_token": null,
            "chat_template": "{{ messages }}", "add_bos_token": false})";
  const auto tok = Tokenizer::from_tokenizer_json(dir + "/tokenizer.json");
  EXPECT_EQ(tok->eos_id(), 151645);
  EXPECT_EQ(tok->bos_id(), -1);
  EXPECT_EQ(tok->chat_template(), "{{ messages }}");
  EXPECT_TRUE(tok->is_end_of_generation(151645));
  EXPECT_TRUE(tok->is_end_of_generation(151643));  // <|endoftext|> by name
  EXPECT_EQ(tok->encode("hi", true, true), tok->encode("hi", false, true));
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
