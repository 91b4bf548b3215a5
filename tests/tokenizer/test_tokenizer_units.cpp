// Unit tests of the tokenizer's parts against independent references: UTF-8 repair against
// Python's decoder, the heap-based BPE merge against a plain rescanning reference, the stream
// decoder against whole-text decoding, plus special tokens, BOS, end-of-generation and errors.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "tokenizer/bpe_model.hpp"
#include "tokenizer/utf8.hpp"
#include "tokenizer_fixtures.hpp"

namespace pagoda::test {
namespace {

TEST(Utf8, RepairMatchesPythonDecoder) {
  const auto cases = nlohmann::json::parse(read_file_bytes(tokenizer_fixture("utf8_repair.json")));
  ASSERT_GE(cases.size(), 1000u);
  for (const auto& c : cases) {
    const std::string in = from_hex(c[0]), want = from_hex(c[1]);
    EXPECT_EQ(utf8_sanitize(in), want) << "input " << c[0].get<std::string>();
    EXPECT_EQ(utf8_is_valid(in), in == want) << "input " << c[0].get<std::string>();
  }
}

// The textbook definition: merge the lowest-ranked adjacent pair (leftmost on ties) until none.
std::vector<int32_t> reference_bpe(std::vector<int32_t> s, const std::map<std::pair<int32_t, int32_t>, std::pair<int32_t, int32_t>>& merges) {
  for (;;) {
    int best = -1;
    int32_t best_rank = INT32_MAX;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      auto it = merges.find({s[i], s[i + 1]});
      if (it != merges.end() && it->second.first < best_rank) {
        best_rank = it->second.first;
        best = static_cast<int>(i);
      }
    }
    if (best < 0) return s;
    s[best] = merges.at({s[best], s[best + 1]}).second;
    s.erase(s.begin() + best + 1);
  }
}

TEST(BpeModel, MatchesRescanningReference) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    BpeModel bpe;
    std::map<std::pair<int32_t, int32_t>, std::pair<int32_t, int32_t>> merges;
    int32_t next_id = 6;  // base symbols 0..5
    const int num_merges = 5 + trial % 40;
    for (int r = 0; r < num_merges; ++r) {
      const int32_t l = rng() % next_id, rr = rng() % next_id;
      if (merges.count({l, rr})) continue;
      merges[{l, rr}] = {r, next_id};
      bpe.add_merge(l, rr, next_id, r);
      ++next_id;
    }
    for (int w = 0; w < 40; ++w) {
      std::vector<int32_t> word(1 + rng() % 60);
      for (auto& x : word) x = rng() % 6;
      std::vector<int32_t> got = word;
      bpe.merge(got);
      ASSERT_EQ(got, reference_bpe(word, merges)) << "trial " << trial << " word " << w;
    }
  }
}

const char* const VOCABS[] = {"llama-spm", "llama-bpe", "qwen2", "gpt-2"};

TEST(Tokenizer, DecodeInvertsEncode) {
  const auto fixture = nlohmann::json::parse(read_file_bytes(tokenizer_fixture("gpt-2.ids.json")));
  for (const char* vocab : VOCABS) {
    const Tokenizer* tok = load_test_tokenizer(vocab, "gguf");
    const bool spm = std::string(vocab) == "llama-spm";
    for (const auto& c : fixture.at("cases")) {
      const std::string text = utf8_sanitize(from_hex(c.at("hex")));
      const std::vector<int32_t> ids = tok->encode(text, false, false);
      // SentencePiece adds the "▁" prefix, which decodes to a leading space.
      const std::string want = spm && !text.empty() ? " " + text : text;
      EXPECT_EQ(tok->decode(ids), want) << vocab << " " << c.at("name");
    }
  }
}

TEST(Tokenizer, StreamDecoderHoldsBackPartialCharacters) {
  const Tokenizer* spm = load_test_tokenizer("llama-spm", "gguf");
  // "🦙" has no token in Llama 2's vocabulary: it is four byte-fallback tokens.
  const std::vector<int32_t> ids = spm->encode("a🦙b", false, false);
  StreamDecoder dec(*spm);
  std::string streamed;
  size_t empty_pushes = 0;
  for (int32_t id : ids) {
    const std::string piece = dec.push(id);
    EXPECT_TRUE(utf8_is_valid(piece));
    empty_pushes += piece.empty();
    streamed += piece;
  }
  streamed += dec.flush();
  EXPECT_EQ(streamed, " a🦙b");
  EXPECT_EQ(empty_pushes, 3u);  // the first three bytes of the emoji wait

  const int32_t f0 = spm->token_id("<0xF0>"), x9f = spm->token_id("<0x9F>"), ff = spm->token_id("<0xFF>");
  ASSERT_GE(f0, 0);
  StreamDecoder partial(*spm);
  EXPECT_EQ(partial.push(f0), "");
  EXPECT_EQ(partial.push(x9f), "");
  EXPECT_EQ(partial.flush(), "\xEF\xBF\xBD");  // one U+FFFD for the truncated sequence
  StreamDecoder invalid(*spm);
  EXPECT_EQ(invalid.push(ff), "\xEF\xBF\xBD");  // can never complete: not held back
  EXPECT_EQ(invalid.push(f0), "");
  EXPECT_EQ(invalid.push(spm->token_id("a")), "\xEF\xBF\xBD" "a");
  EXPECT_EQ(invalid.flush(), "");
}

TEST(Tokenizer, StreamDecoderEqualsWholeDecodeForByteLevel) {
  const Tokenizer* tok = load_test_tokenizer("gpt-2", "gguf");
  const std::string text = "Hi 👋🏽! 我爱北京 👨‍👩‍👧‍👦 Café\u0301 نعم";
  const std::vector<int32_t> ids = tok->encode(text, false, true);
  StreamDecoder dec(*tok);
  std::string streamed;
  for (int32_t id : ids) {
    const std::string piece = dec.push(id);
    EXPECT_TRUE(utf8_is_valid(piece));
    streamed += piece;
  }
  streamed += dec.flush();
  EXPECT_EQ(streamed, text);
  EXPECT_EQ(tok->decode(ids), text);
}

TEST(Tokenizer, SpecialTokensAreMatchedOnlyWhenAsked) {
  const Tokenizer* tok = load_test_tokenizer("qwen2", "gguf");
  const int32_t im_start = tok->token_id("<|im_start|>");
  ASSERT_EQ(im_start, 151644);
  EXPECT_TRUE(tok->is_special(im_start));
  EXPECT_EQ(tok->encode("<|im_start|>", false, true), std::vector<int32_t>{im_start});
  const std::vector<int32_t> plain = tok->encode("<|im_start|>", false, false);
  EXPECT_GT(plain.size(), 1u);
  for (int32_t id : plain) EXPECT_FALSE(tok->is_special(id));
  EXPECT_EQ(tok->decode(plain), "<|im_start|>");
  EXPECT_EQ(tok->token_bytes(im_start), "<|im_start|>");
  EXPECT_EQ(tok->token_id("definitely not a token"), -1);
}

TEST(Tokenizer, BosAndEndOfGeneration) {
  const Tokenizer* llama3 = load_test_tokenizer("llama-bpe", "gguf");
  EXPECT_EQ(llama3->bos_id(), 128000);
  EXPECT_EQ(llama3->encode("hi", true, true).front(), 128000);
  EXPECT_NE(llama3->encode("hi", false, true).front(), 128000);
  EXPECT_TRUE(llama3->is_end_of_generation(128009));   // <|eot_id|>
  EXPECT_TRUE(llama3->is_end_of_generation(128001));   // <|end_of_text|> (eos)
  EXPECT_FALSE(llama3->is_end_of_generation(128000));  // <|begin_of_text|>
  EXPECT_FALSE(llama3->is_end_of_generation(1));

  const Tokenizer* qwen = load_test_tokenizer("qwen2", "gguf");
  EXPECT_TRUE(qwen->is_end_of_generation(qwen->token_id("<|im_end|>")));
  EXPECT_TRUE(qwen->is_end_of_generation(qwen->token_id("<|endoftext|>")));
  EXPECT_FALSE(qwen->is_end_of_generation(qwen->token_id("<|im_start|>")));
  EXPECT_FALSE(qwen->chat_template().empty());
  EXPECT_EQ(qwen->encode("hi", true, true), qwen->encode("hi", false, true));  // Qwen2 adds no BOS

  const Tokenizer* spm = load_test_tokenizer("llama-spm", "gguf");
  EXPECT_EQ(spm->encode("", true, true), std::vector<int32_t>{1});
  EXPECT_TRUE(spm->encode("", false, true).empty());
  EXPECT_TRUE(spm->is_end_of_generation(2));
  EXPECT_EQ(spm->token_bytes(spm->token_id("<0x0A>")), "\n");
  EXPECT_EQ(spm->token_bytes(spm->token_id("▁Hello")), " Hello");
  EXPECT_TRUE(load_test_tokenizer("gpt-2", "gguf")->chat_template().empty());
}

TEST(Tokenizer, SmolLM2Metadata) {
  const Tokenizer* tok = load_test_tokenizer("smollm2", "gguf");
  if (!tok) GTEST_SKIP() << "SmolLM2 GGUF not present";
  EXPECT_EQ(tok->vocab_size(), 49152);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->is_end_of_generation(2));  // <|im_end|>
  EXPECT_TRUE(tok->is_end_of_generation(0));  // <|endoftext|>
  EXPECT_FALSE(tok->is_end_of_generation(1));
  EXPECT_EQ(tok->encode("hi", true, true), tok->encode("hi", false, true));  // add_bos_token = false
  EXPECT_NE(tok->chat_template().find("<|im_start|>"), std::string::npos);
}

TEST(Tokenizer, ErrorsAreReported) {
  const Tokenizer* tok = load_test_tokenizer("gpt-2", "gguf");
  EXPECT_THROW(tok->token_bytes(-1), Error);
  EXPECT_THROW(tok->token_bytes(tok->vocab_size()), Error);
  EXPECT_THROW(Tokenizer::from_tokenizer_json("/nonexistent/tokenizer.json"), Error);
  const std::string bad = ::testing::TempDir() + "/pagoda_bad_tokenizer.json";
  std::ofstream(bad) << R"({"model": {"type": "Unigram", "vocab": []}})";
  EXPECT_THROW(Tokenizer::from_tokenizer_json(bad), Error);
  std::ofstream(bad) << "{not json";
  EXPECT_THROW(Tokenizer::from_tokenizer_json(bad), Error);
}

// Arbitrary bytes: encoding never fails and decodes back to the repaired text (repair itself is
// checked against Python above).
TEST(Tokenizer, RandomBytesRoundTrip) {
  std::mt19937 rng(99);
  const unsigned char alphabet[] = {' ', ' ', '\n', '\t', 'a', 'Z', '0', '\'', '<', '|', '>', 0x80, 0xBF, 0xC3, 0xA9,
                                    0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80, 0xFF, 0xED, 0xA0};
  for (const char* vocab : VOCABS) {
    const Tokenizer* tok = load_test_tokenizer(vocab, "gguf");
    const bool spm = std::string(vocab) == "llama-spm";
    for (int i = 0; i < 300; ++i) {
      std::string raw(rng() % 40, '\0');
      for (char& c : raw) c = static_cast<char>(alphabet[rng() % sizeof(alphabet)]);
      const std::string want = utf8_sanitize(raw);
      for (bool special : {false, true}) {
        const std::string got = tok->decode(tok->encode(raw, false, special));
        EXPECT_EQ(got, spm && !want.empty() ? " " + want : want) << vocab;
      }
    }
  }
}

// The word cache is shared: encoding from several threads at once must give the same ids.
TEST(Tokenizer, ConcurrentEncodeEqualsSequential) {
  const Tokenizer* tok = load_test_tokenizer("qwen2", "gguf");
  const auto fixture = nlohmann::json::parse(read_file_bytes(tokenizer_fixture("qwen2.ids.json")));
  std::vector<std::string> texts;
  for (const auto& c : fixture.at("cases")) texts.push_back(from_hex(c.at("hex")));
  std::vector<std::vector<int32_t>> want;
  for (const auto& t : texts) want.push_back(tok->encode(t, false, true));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&, w] {
      for (int round = 0; round < 20; ++round)
        for (size_t i = 0; i < texts.size(); ++i)
          mismatches[w] += tok->encode(texts[(i + w) % texts.size()], false, true) != want[(i + w) % texts.size()];
    });
  for (auto& t : threads) t.join();
  for (int w = 0; w < 4; ++w) EXPECT_EQ(mismatches[w], 0) << "thread " << w;
}

// Pathological inputs must stay fast and exact: a long run of spaces (the `\s+(?!\S)` lookahead),
// a single 200 kB "word", and a megabyte of mixed text, each decoded back to itself.
TEST(Tokenizer, LongInputsRoundTrip) {
  const Tokenizer* tok = load_test_tokenizer("llama-bpe", "gguf");
  const std::string spaces(100000, ' ');
  EXPECT_EQ(tok->decode(tok->encode(spaces, false, false)), spaces);
  std::string word;
  for (int i = 0; i < 40000; ++i) word += "abcde";
  EXPECT_EQ(tok->decode(tok->encode(word, false, false)), word);
  const Tokenizer* spm = load_test_tokenizer("llama-spm", "gguf");
  EXPECT_EQ(spm->decode(spm->encode(word, false, false)), " " + word);

  const auto fixture = nlohmann::json::parse(read_file_bytes(tokenizer_fixture("gpt-2.ids.json")));
  std::string text;
  while (text.size() < (1u << 20))
    for (const auto& c : fixture.at("cases")) text += utf8_sanitize(from_hex(c.at("hex"))) + "\n";
  for (const char* vocab : VOCABS) {
    const Tokenizer* t = load_test_tokenizer(vocab, "gguf");
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int32_t> ids = t->encode(text, false, false);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[ info ] %s: %.2f MB -> %zu tokens in %.3f s\n", vocab, text.size() / 1e6, ids.size(), s);
    const std::string want = std::string(vocab) == "llama-spm" ? " " + text : text;
    EXPECT_EQ(t->decode(ids), want) << vocab;
  }
}

}  // namespace
}  // namespace pagoda::test
