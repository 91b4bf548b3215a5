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
