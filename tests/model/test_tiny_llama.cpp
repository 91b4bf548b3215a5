// The CPU forward pass against Hugging Face transformers' float64 logits for the tiny random
// Llama fixture (tests/fixtures/tiny-llama-gqa), plus equivalences the paged design must keep:
// batched == alone, every page size == every other, chunked prefill == one-shot.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "common/tensor_read.hpp"
#include "common/test_paths.hpp"
#include <fmt/format.h>

#include "core/error.hpp"
#include "io/model_source.hpp"
#include "io/safetensors.hpp"
#include "model/model.hpp"
#include "runtime/sampler.hpp"
#include "runtime/session.hpp"

namespace pagoda {
namespace {

std::string tiny_dir() { return test::fixtures_dir() + "/tiny-llama-gqa"; }

struct Golden {
  std::unique_ptr<SafetensorsFile> file;
  std::vector<int32_t> ints(const std::string& name) const { return test::tensor_read<int32_t>(*file, name); }
  std::vector<float> floats(const std::string& name) const { return test::tensor_read<float>(*file, name); }
};

Golden golden() { return {SafetensorsFile::open(tiny_dir() + "/golden.safetensors")}; }

std::unique_ptr<Model> tiny_model(int32_t page_size = 16, const std::string& kv = "f32") {
  std::shared_ptr<const ModelSource> src = ModelSource::open(tiny_dir());
  KvCacheOptions o;
  o.page_size = page_size;
  o.max_tokens = 512;
  o.dtype = kv;
  return model_cpu_create(src, o);
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - double(b[i])));
  return m;
}

TEST(TinyLlama, LogitsMatchTransformersFloat64) {
  Golden g = golden();
  auto model = tiny_model();
  for (int s = 0; s < 3; ++s) {
    std::vector<int32_t> tokens = g.ints(fmt::format("tokens.{}", s));
    std::vector<float> want = g.floats(fmt::format("logits.{}", s));
    Session session(*model);
    std::vector<float> got = session.eval_all(tokens);
    const double err = max_abs_diff(got, want);
    EXPECT_LT(err, 1e-3) << "sequence " << s << " (" << tokens.size() << " tokens): max abs error " << err;
    RecordProperty(fmt::format("max_abs_error_{}", s), fmt::format("{:.3g}", err));
  }
}

TEST(TinyLlama, GreedyContinuationMatchesTransformers) {
  Golden g = golden();
  auto model = tiny_model();
  std::vector<int32_t> prompt = g.ints("greedy.prompt");
  std::vector<int32_t> want = g.ints("greedy.continuation");
  Session session(*model);
  std::vector<float> logits = session.eval(prompt);
  std::vector<int32_t> got;
  for (size_t i = 0; i < want.size(); ++i) {
    int32_t t = argmax(logits);
    got.push_back(t);
    logits = session.eval(std::span<const int32_t>(&t, 1));
  }
  EXPECT_EQ(got, want);
}

TEST(TinyLlama, PageSizesAndChunkingAgree) {
  Golden g = golden();
  std::vector<int32_t> tokens = g.ints("tokens.2");  // 100 tokens
  auto ref_model = tiny_model(16);
  Session ref(*ref_model);
  std::vector<float> want = ref.eval_all(tokens);
  for (int32_t p : {1, 7, 64}) {
    auto model = tiny_model(p);
    Session s(*model, /*max_batch_tokens=*/13);  // chunked prefill crosses page boundaries
    std::vector<float> got = s.eval_all(tokens);
    EXPECT_LT(max_abs_diff(got, want), 1e-4) << "page size " << p;
  }
}

TEST(TinyLlama, HalfPrecisionKvCacheStaysClose) {
  Golden g = golden();
  std::vector<int32_t> tokens = g.ints("tokens.1");
  std::vector<float> want = g.floats("logits.1");
  for (const char* kv : {"f16", "bf16"}) {
    auto model = tiny_model(16, kv);
    Session s(*model);
    const double err = max_abs_diff(s.eval_all(tokens), want);
    // f16 keeps 11 mantissa bits (relative 2^-11), bf16 8 bits (2^-8), on K and V; logits are O(5).
    EXPECT_LT(err, std::string(kv) == "f16" ? 1e-2 : 8e-2) << kv;
  }
}

// Two sequences in one ragged step must give exactly what each gives alone.
TEST(TinyLlama, BatchedEqualsAlone) {
  Golden g = golden();
  std::vector<int32_t> a = g.ints("tokens.0"), b = g.ints("tokens.1");
  auto model = tiny_model(16);
  const int64_t V = model->config().vocab_size;
  std::vector<float> alone_a, alone_b;
  {
    Session s(*model);
    alone_a = s.eval_all(a);
  }
  {
    Session s(*model);
    alone_b = s.eval_all(b);
  }
  ForwardBatch batch;
  const int32_t P = model->page_size();
  batch.max_pages_per_seq = 8;
  batch.block_table.assign(16, 0);
  for (int i = 0; i < 8; ++i) {
    batch.block_table[static_cast<size_t>(i)] = 20 + i;      // sequence a: pages 20..27
    batch.block_table[static_cast<size_t>(8 + i)] = 3 + i;   // sequence b: pages 3..10
  }
  auto add = [&](const std::vector<int32_t>& toks, int seq) {
    for (size_t t = 0; t < toks.size(); ++t) {
      batch.tokens.push_back(toks[t]);
      batch.positions.push_back(static_cast<int32_t>(t));
      const int32_t page = batch.block_table[static_cast<size_t>(seq * 8) + t / static_cast<size_t>(P)];
      batch.slot_mapping.push_back(int64_t(page) * P + static_cast<int64_t>(t % static_cast<size_t>(P)));
      batch.logit_rows.push_back(static_cast<int32_t>(batch.tokens.size() - 1));
    }
    batch.kv_lens.push_back(static_cast<int32_t>(toks.size()));
    batch.cu_seqlens_q.push_back(static_cast<int32_t>(batch.tokens.size()));
  };
  batch.cu_seqlens_q.push_back(0);
  add(a, 0);
  add(b, 1);
  std::vector<float> out(batch.logit_rows.size() * static_cast<size_t>(V));
  model->forward(batch, out.data());
  std::vector<float> got_a(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(a.size() * V));
  std::vector<float> got_b(out.begin() + static_cast<std::ptrdiff_t>(a.size() * V), out.end());
  EXPECT_LT(max_abs_diff(got_a, alone_a), 1e-5);
  EXPECT_LT(max_abs_diff(got_b, alone_b), 1e-5);
}

TEST(TinyLlama, RejectsOutOfVocabularyTokens) {
  auto model = tiny_model();
  Session s(*model);
  std::vector<int32_t> bad = {1, 5000};
  EXPECT_THROW(s.eval(bad), Error);
  std::vector<int32_t> ok = {1, 2};
  EXPECT_NO_THROW(s.eval(ok));  // the model is still usable after the error
}

TEST(TinyLlama, ContextFullIsAnError) {
  std::shared_ptr<const ModelSource> src = ModelSource::open(tiny_dir());
  KvCacheOptions o;
  o.max_tokens = 32;
  auto model = model_cpu_create(src, o);
  Session s(*model);
  std::vector<int32_t> toks(33, 5);
  EXPECT_THROW(s.eval(toks), Error);
}

}  // namespace
}  // namespace pagoda
