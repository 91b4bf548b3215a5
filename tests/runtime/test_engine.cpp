// The batched engine on the real CPU model (tiny-llama-gqa): every request's greedy output under
// continuous batching, chunked prefill, prefix sharing and preemption equals its output alone.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "common/test_paths.hpp"
#include "core/error.hpp"
#include "io/model_source.hpp"
#include "runtime/engine.hpp"
#include "runtime/sampler.hpp"
#include "runtime/session.hpp"

namespace pagoda {
namespace {

std::unique_ptr<Model> tiny(int64_t max_tokens, int32_t page_size = 8) {
  KvCacheOptions kv;
  kv.max_tokens = max_tokens;
  kv.page_size = page_size;
  return model_cpu_create(ModelSource::open(test::fixtures_dir() + "/tiny-llama-gqa"), kv);
}

std::vector<int32_t> greedy_alone(Model& m, const std::vector<int32_t>& prompt, int n) {
  Session s(m);
  std::vector<float> logits = s.eval(prompt);
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(argmax(logits));
    if (i + 1 < n) logits = s.eval(std::span<const int32_t>(&out.back(), 1));
  }
  return out;
}

GenerationParams greedy(int n) {
  GenerationParams p;
  p.max_tokens = n;
  p.sampling.temperature = 0.0f;
  return p;
}

std::vector<std::vector<int32_t>> prompts(int count) {
  std::mt19937 rng(5);
  std::vector<int32_t> shared;  // a common system-prompt-like prefix for half of them
  for (int i = 0; i < 20; ++i) shared.push_back(std::uniform_int_distribution<int32_t>(3, 1000)(rng));
  std::vector<std::vector<int32_t>> ps;
  for (int i = 0; i < count; ++i) {
    std::vector<int32_t> p = i % 2 ? shared : std::vector<int32_t>{};
    const int extra = std::uniform_int_distribution<int>(1, 40)(rng);
    for (int k = 0; k < extra; ++k) p.push_back(std::uniform_int_distribution<int32_t>(3, 1000)(rng));
    ps.push_back(p);
  }
  return ps;
}

void run_all(Engine& e, std::map<uint64_t, std::vector<int32_t>>& out, int max_steps = 10000) {
  for (int i = 0; i < max_steps && e.has_work(); ++i)
    for (const EngineEvent& ev : e.step()) out[ev.id].insert(out[ev.id].end(), ev.tokens.begin(), ev.tokens.end());
}

TEST(Engine, BatchedGreedyEqualsAlone) {
  auto ref = tiny(512);
  auto model = tiny(2048);
  EngineConfig cfg;
  cfg.scheduler.max_num_batched_tokens = 32;  // forces chunked prefill mixed with decode
  Engine e(*model, nullptr, cfg);
  auto ps = prompts(8);
  for (size_t i = 0; i < ps.size(); ++i) e.add(i, ps[i], greedy(12));
  std::map<uint64_t, std::vector<int32_t>> out;
  run_all(e, out);
  for (size_t i = 0; i < ps.size(); ++i) EXPECT_EQ(out[i], greedy_alone(*ref, ps[i], 12)) << "request " << i;
  EngineStats s = e.stats();
  EXPECT_EQ(s.kv_blocks_in_use, 0);
  EXPECT_GT(s.prefix_hits, 0u);  // the shared prefix was reused
}

// A model with the optional device-greedy capability: delegates to the CPU model and counts which
// entry the engine used. Its greedy ids come from its own logits via argmax (the reference the
// GPU's on-device argmax is tested against in test_model_cuda).
class GreedyCapable : public Model {
 public:
  explicit GreedyCapable(std::unique_ptr<Model> inner) : inner_(std::move(inner)) {}
  const ModelConfig& config() const override { return inner_->config(); }
  void forward(const ForwardBatch& b, float* logits) override {
    if (!b.logit_rows.empty()) ++forward_calls;  // steps that only prefill sample nothing either way
    inner_->forward(b, logits);
  }
  bool try_forward_greedy(const ForwardBatch& b, int32_t* ids) override {
    ++greedy_calls;
    const size_t V = static_cast<size_t>(config().vocab_size);
    std::vector<float> l(b.logit_rows.size() * V);
    inner_->forward(b, l.data());
    for (size_t r = 0; r < b.logit_rows.size(); ++r) ids[r] = argmax(std::span<const float>(l.data() + r * V, V));
    return true;
  }
  int32_t page_size() const override { return inner_->page_size(); }
  int64_t num_pages() const override { return inner_->num_pages(); }
  uint64_t kv_cache_bytes() const override { return inner_->kv_cache_bytes(); }
  void kv_copy_page(int32_t src, int32_t dst) override { inner_->kv_copy_page(src, dst); }
  std::string describe() const override { return inner_->describe(); }
  int forward_calls = 0, greedy_calls = 0;

 private:
  std::unique_ptr<Model> inner_;
};

TEST(Engine, AllGreedyStepsUseTheModelsDeviceGreedyAndMatch) {
  auto ref = tiny(512);
  GreedyCapable model(tiny(2048));
  EngineConfig cfg;
  cfg.scheduler.max_num_batched_tokens = 32;
  Engine e(model, nullptr, cfg);
  auto ps = prompts(6);
  for (size_t i = 0; i < ps.size(); ++i) e.add(i, ps[i], greedy(10));
  std::map<uint64_t, std::vector<int32_t>> out;
  bool saw_running = false;
  for (int i = 0; i < 10000 && e.has_work(); ++i) {
    for (const EngineEvent& ev : e.step()) out[ev.id].insert(out[ev.id].end(), ev.tokens.begin(), ev.tokens.end());
    const EngineStats s = e.stats();
    if (s.running == 0) continue;
    saw_running = true;
    // Each running sequence's slack lies inside its last page: 0 <= blocks * P - tokens < running * P.
    const int64_t slots = s.kv_running_blocks * s.page_size;
    EXPECT_LE(s.kv_running_tokens, slots);
    EXPECT_LT(slots - s.kv_running_tokens, int64_t{s.running} * s.page_size + 1);
  }
  EXPECT_TRUE(saw_running);
  for (size_t i = 0; i < ps.size(); ++i) EXPECT_EQ(out[i], greedy_alone(*ref, ps[i], 10)) << "request " << i;
  EXPECT_GT(model.greedy_calls, 0);
  EXPECT_EQ(model.forward_calls, 0);  // every step that sampled went through the greedy entry
}

TEST(Engine, SampledOrLogprobRequestsKeepHostLogits) {
  GreedyCapable model(tiny(2048));
  Engine e(model, nullptr, EngineConfig{});
  GenerationParams warm = greedy(4);
  warm.sampling.temperature = 0.7f;
  warm.sampling.seed = 3;
  warm.sampling.has_seed = true;
  e.add(1, {5, 6, 7}, warm);
  EngineRequestOptions lp;
  lp.logprobs = true;
  e.add(2, {8, 9}, greedy(4), lp);
  std::map<uint64_t, std::vector<int32_t>> out;
  run_all(e, out);
  EXPECT_EQ(out[1].size(), 4u);
  EXPECT_EQ(out[2].size(), 4u);
  EXPECT_EQ(model.greedy_calls, 0);
  EXPECT_GT(model.forward_calls, 0);
}

TEST(Engine, PreemptionUnderATightCacheKeepsOutputsExact) {
  auto ref = tiny(512);
  auto model = tiny(160);  // 20 pages of 8: not enough for all requests at once
  EngineConfig cfg;
  cfg.scheduler.max_num_batched_tokens = 64;
  Engine e(*model, nullptr, cfg);
  auto ps = prompts(6);
  for (size_t i = 0; i < ps.size(); ++i) e.add(100 + i, ps[i], greedy(16));
  std::map<uint64_t, std::vector<int32_t>> out;
  run_all(e, out);
  EXPECT_GT(e.stats().preemptions, 0u);
  for (size_t i = 0; i < ps.size(); ++i) EXPECT_EQ(out[100 + i], greedy_alone(*ref, ps[i], 16)) << "request " << i;
  EXPECT_EQ(e.stats().kv_blocks_in_use, 0);
}

TEST(Engine, CancelFreesBlocksAndOthersContinue) {
  auto model = tiny(1024);
  Engine e(*model, nullptr, EngineConfig{});
  auto ps = prompts(3);
  for (size_t i = 0; i < ps.size(); ++i) e.add(i, ps[i], greedy(50));
  e.step();
  e.step();
  EXPECT_GT(e.stats().kv_blocks_in_use, 0);
  e.cancel(1);
  std::map<uint64_t, std::vector<int32_t>> out;
  run_all(e, out);
  EXPECT_EQ(out.count(1), 0u);
  EXPECT_EQ(e.stats().kv_blocks_in_use, 0);
}

TEST(Engine, RejectsWhatCanNeverRun) {
  auto model = tiny(64);
  Engine e(*model, nullptr, EngineConfig{});
  EXPECT_THROW(e.add(1, std::vector<int32_t>(60, 5), greedy(10)), Error);  // > cache
  EXPECT_THROW(e.add(2, {1, 99999}, greedy(2)), Error);                    // bad token
  GenerationParams bad = greedy(2);
  bad.sampling.top_p = 0;
  EXPECT_THROW(e.add(3, {1, 2}, bad), Error);
  EXPECT_FALSE(e.has_work());
}

}  // namespace
}  // namespace pagoda
