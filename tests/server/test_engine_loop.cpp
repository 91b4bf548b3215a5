// The engine thread and its metrics without HTTP: request channels wake their reader once per
// batch of items; EngineLoop delivers every token of every request (equal to the request run
// alone) whether connections are woken on the engine thread or through a poster; the engine's
// per-phase step times reach /metrics.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "runtime/engine.hpp"
#include "server/engine_loop.hpp"
#include "server/metrics.hpp"

namespace pagoda::server {
namespace {

// A model whose greedy next token is a hash of the row's token and position: a function of each
// sequence's own history only, so batching cannot change it. It checks every batch as real
// backends do.
class HashModel : public Model {
 public:
  HashModel() { cfg_.vocab_size = 1000; }
  const ModelConfig& config() const override { return cfg_; }
  void forward(const ForwardBatch& b, float* logits) override {
    forward_batch_validate(b, cfg_.vocab_size, num_pages(), page_size());
    for (size_t r = 0; r < b.logit_rows.size(); ++r) {
      float* row = logits + r * 1000;
      std::fill(row, row + 1000, 0.0f);
      row[next(b.tokens[static_cast<size_t>(b.logit_rows[r])], b.positions[static_cast<size_t>(b.logit_rows[r])])] = 1.0f;
    }
  }
  int32_t page_size() const override { return 4; }
  int64_t num_pages() const override { return 4096; }
  uint64_t kv_cache_bytes() const override { return 0; }
  void kv_copy_page(int32_t, int32_t) override {}
  std::string describe() const override { return "hash model"; }
  static int32_t next(int32_t token, int32_t pos) {
    return static_cast<int32_t>(((static_cast<uint64_t>(token) * 2654435761u) ^ static_cast<uint64_t>(pos) * 40503u) % 1000);
  }

 private:
  ModelConfig cfg_;
};

std::vector<int32_t> alone(std::vector<int32_t> t, int32_t n) {
  std::vector<int32_t> out;
  for (int32_t i = 0; i < n; ++i) {
    out.push_back(HashModel::next(t.back(), static_cast<int32_t>(t.size()) - 1));
    t.push_back(out.back());
  }
  return out;
}

GenerationParams greedy(int32_t n) {
  GenerationParams g;
  g.max_tokens = n;
  g.sampling.temperature = 0.0f;
  return g;
}

TEST(RequestChannel, AsksForOneNotifyPerBatchOfItems) {
  int notified = 0;
  RequestChannel ch([&] { ++notified; });
  EXPECT_TRUE(ch.push_quiet(ChannelItem{0, {}, {}, 0}));
  EXPECT_FALSE(ch.push_quiet(ChannelItem{1, {}, {}, 0}));
  ch.push(ChannelItem{2, {}, {}, 0});  // already announced: no second notify
  EXPECT_EQ(notified, 0);
  std::vector<ChannelItem> got = ch.take();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].index, 2);
  ch.push(ChannelItem{3, {}, {}, 0});  // taken since: this one notifies
  EXPECT_EQ(notified, 1);
  EXPECT_FALSE(ch.push_quiet(ChannelItem{4, {}, {}, 0}));
}

// Many requests through the engine thread; `posted` wakes connections from a separate thread.
void run_loop(bool posted) {
  HashModel model;
  EngineConfig ec;
  ec.scheduler.max_num_seqs = 48;
  ec.scheduler.max_num_batched_tokens = 64;  // chunked prefill mixed with decode
  Engine engine(model, nullptr, ec);
  Metrics metrics;
  EngineLoop loop(engine, metrics, 1000);

  // The poster's thread: runs the engine's notify batches, as the HTTP I/O threads do.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> tasks;
  bool quit = false;
  std::atomic<int> batches{0};
  std::thread poster([&] {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return quit || !tasks.empty(); });
      if (tasks.empty()) return;
      auto task = std::move(tasks.front());
      tasks.pop_front();
      lock.unlock();
      task();
      ++batches;
      lock.lock();
    }
  });
  if (posted)
    loop.notify_via([&](std::function<void()> task) {
      std::lock_guard lock(mu);
      tasks.push_back(std::move(task));
      cv.notify_one();
    });

  const int32_t N = 64, new_tokens = 9;
  struct Client {
    std::shared_ptr<RequestChannel> ch;
    std::vector<int32_t> prompt, tokens;
    bool finished = false;
    std::thread::id woken_on;
  };
  std::vector<Client> clients(N);
  std::atomic<int> notifies{0};
  std::mutex wake_mu;
  for (int32_t i = 0; i < N; ++i) {
    Client& c = clients[static_cast<size_t>(i)];
    for (int32_t k = 0; k < 3 + i % 11; ++k) c.prompt.push_back((i * 37 + k * 11) % 1000);
    c.ch = std::make_shared<RequestChannel>([&c, &notifies, &wake_mu] {
      std::lock_guard lock(wake_mu);
      c.woken_on = std::this_thread::get_id();
      ++notifies;
    });
    SubmitRequest sr{{c.prompt}, 1, greedy(new_tokens), {}, c.ch};
    uint64_t key = 0;
    ASSERT_EQ(loop.submit(std::move(sr), &key), SubmitResult::SUBMIT_RESULT_OK);
  }
  // Read like a connection would: take whatever is there until every request finished.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int done = 0;
  while (done < N && std::chrono::steady_clock::now() < deadline) {
    for (Client& c : clients) {
      for (ChannelItem& it : c.ch->take()) {
        ASSERT_FALSE(it.failed()) << it.error;
        c.tokens.insert(c.tokens.end(), it.event.tokens.begin(), it.event.tokens.end());
        if (it.event.finished) {
          EXPECT_FALSE(c.finished);
          c.finished = true;
          ++done;
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(done, N);
  loop.notify_via(nullptr);
  loop.stop();
  {
    std::lock_guard lock(mu);
    quit = true;
    cv.notify_one();
  }
  const std::thread::id poster_id = poster.get_id();
  poster.join();

  for (const Client& c : clients) EXPECT_EQ(c.tokens, alone(c.prompt, new_tokens));
  EXPECT_GT(notifies.load(), 0);
  if (posted) {
    EXPECT_GT(batches.load(), 0);
    for (const Client& c : clients) EXPECT_EQ(c.woken_on, poster_id);
  } else {
    EXPECT_EQ(batches.load(), 0);
    for (const Client& c : clients) {
      EXPECT_NE(c.woken_on, poster_id);
      EXPECT_NE(c.woken_on, std::this_thread::get_id());  // the engine thread woke it
    }
  }
  // Every phase of the steps was timed and reached the metrics.
  const EngineStats s = metrics.engine_stats();
  EXPECT_GT(s.steps, static_cast<uint64_t>(new_tokens));
  for (size_t p = 0; p < kEnginePhases; ++p) EXPECT_GT(s.phase_seconds[p], 0.0) << engine_phase_name(static_cast<EnginePhase>(p));
  EXPECT_GT(metrics.loop_seconds().dispatch, 0.0);
  const std::string text = metrics.render();
  EXPECT_NE(text.find("pagoda_generation_tokens_total " + std::to_string(N * new_tokens) + "\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pagoda_time_to_first_token_seconds_count " + std::to_string(N) + "\n"), std::string::npos);
  EXPECT_NE(text.find("pagoda_inter_token_latency_seconds_count " + std::to_string(N * (new_tokens - 1)) + "\n"), std::string::npos);
  EXPECT_NE(text.find("pagoda_request_finished_total{finished_reason=\"length\"} " + std::to_string(N) + "\n"), std::string::npos);
}

TEST(EngineLoop, EveryRequestGetsItsOwnTokensWithNotifiesOnTheEngineThread) { run_loop(false); }
TEST(EngineLoop, EveryRequestGetsItsOwnTokensWithNotifiesPosted) { run_loop(true); }

TEST(Metrics, ExportsStepSecondsByPhase) {
  Metrics m;
  EngineStats s;
  s.steps = 7;
  for (size_t p = 0; p < kEnginePhases; ++p) s.phase_seconds[p] = 0.25 * static_cast<double>(p + 1);
  LoopSeconds l;
  l.commands = 1.5;
  l.dispatch = 2.5;
  l.stats = 3.5;
  m.engine_stats_set(s, 0, l);
  const std::string text = m.render();
  EXPECT_NE(text.find("pagoda_engine_steps_total 7\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE pagoda_engine_step_seconds_total counter\n"), std::string::npos);
  const char* names[] = {"schedule", "build_batch", "forward", "sample", "update", "events"};
  ASSERT_EQ(std::size(names), kEnginePhases);
  for (size_t p = 0; p < kEnginePhases; ++p) {
    const std::string line = "pagoda_engine_step_seconds_total{phase=\"" + std::string(names[p]) + "\"} ";
    const size_t at = text.find(line);
    ASSERT_NE(at, std::string::npos) << line;
    EXPECT_DOUBLE_EQ(std::stod(text.substr(at + line.size())), 0.25 * static_cast<double>(p + 1)) << names[p];
  }
  EXPECT_NE(text.find("pagoda_engine_loop_seconds_total{phase=\"commands\"} 1.5\n"), std::string::npos);
  EXPECT_NE(text.find("pagoda_engine_loop_seconds_total{phase=\"dispatch\"} 2.5\n"), std::string::npos);
  EXPECT_NE(text.find("pagoda_engine_loop_seconds_total{phase=\"stats\"} 3.5\n"), std::string::npos);
}

}  // namespace
}  // namespace pagoda::server
