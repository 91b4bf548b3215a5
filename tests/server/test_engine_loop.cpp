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

#include <nlohmann/json.hpp>

#include "common/test_paths.hpp"
#include "core/error.hpp"
#include "io/model_source.hpp"
#include "runtime/engine.hpp"
#include "server/engine_loop.hpp"
#include "server/metrics.hpp"
#include "server/openai_response.hpp"

namespace pagoda::server {
namespace {

// A model whose greedy next token is a hash of the row's token and position: a function of each
// sequence's own history only, so batching cannot change it. It checks every batch as real
// backends do.
class HashModel : public Model {
 public:
  explicit HashModel(int64_t vocab = 1000) { cfg_.vocab_size = vocab; }
  const ModelConfig& config() const override { return cfg_; }
  void forward(const ForwardBatch& b, float* logits) override {
    forward_batch_validate(b, cfg_.vocab_size, num_pages(), page_size());
    const size_t V = static_cast<size_t>(cfg_.vocab_size);
    for (size_t r = 0; r < b.logit_rows.size(); ++r) {
      float* row = logits + r * V;
      std::fill(row, row + V, 0.0f);
      const int32_t tok = b.tokens[static_cast<size_t>(b.logit_rows[r])], pos = b.positions[static_cast<size_t>(b.logit_rows[r])];
      int32_t id = next(tok, pos, cfg_.vocab_size);
      if (lead_byte_id >= 0 && pos % 3 == 0) id = lead_byte_id;
      if (eos_id >= 0 && pos == eos_pos && tok % 2 == 0) id = eos_id;
      row[static_cast<size_t>(id)] = 1.0f;
    }
  }
  int32_t page_size() const override { return 4; }
  int64_t num_pages() const override { return 4096; }
  uint64_t kv_cache_bytes() const override { return 0; }
  void kv_copy_page(int32_t, int32_t) override {}
  std::string describe() const override { return "hash model"; }
  static int32_t next(int32_t token, int32_t pos, int64_t vocab = 1000) {
    return static_cast<int32_t>(((static_cast<uint64_t>(token) * 2654435761u) ^ static_cast<uint64_t>(pos) * 40503u) %
                                static_cast<uint64_t>(vocab));
  }
  int32_t eos_id = -1, eos_pos = -1;  // emit eos_id at this position when the row's token is even
  int32_t lead_byte_id = -1;           // emitted at every third position: text left incomplete

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
  // Every prompt token and every generated token but the last of each request was computed once.
  uint64_t tokens = 0;
  for (const Client& c : clients) tokens += c.prompt.size() + static_cast<uint64_t>(new_tokens - 1);
  EXPECT_EQ(s.step_tokens, tokens);
  EXPECT_GE(s.step_seqs, s.steps);
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
  s.step_tokens = 9000;
  s.step_seqs = 1500;
  for (size_t p = 0; p < kEnginePhases; ++p) s.phase_seconds[p] = 0.25 * static_cast<double>(p + 1);
  LoopSeconds l;
  l.commands = 1.5;
  l.dispatch = 2.5;
  l.stats = 3.5;
  m.engine_stats_set(s, 0, l);
  const std::string text = m.render();
  EXPECT_NE(text.find("pagoda_engine_steps_total 7\n"), std::string::npos);
  EXPECT_NE(text.find("pagoda_engine_step_tokens_total 9000\n"), std::string::npos);
  EXPECT_NE(text.find("pagoda_engine_step_seqs_total 1500\n"), std::string::npos);
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

// Requests without stop strings are decoded by the response side (HTTP threads), not by the
// engine: the text a client gets, streamed or whole, must be what the engine's TextStream gave.
struct Texts {
  std::vector<std::string> streamed, whole;
};
Texts response_texts(const LoadedModel& lm, bool engine_detokenizes, ApiKind kind) {
  HashModel model(lm.tokenizer->vocab_size());
  model.eos_id = lm.tokenizer->eos_id();
  model.eos_pos = 14;  // some requests end on EOS (an event with no token), the rest on length
  // A token that is one UTF-8 lead byte: decoders hold it back, and a request that ends on it
  // leaves bytes that only the final flush turns into text (U+FFFD).
  for (int32_t id = 0; id < lm.tokenizer->vocab_size() && model.lead_byte_id < 0; ++id) {
    const std::string b = lm.tokenizer->token_bytes(id);
    if (b.size() == 1 && static_cast<unsigned char>(b[0]) >= 0xE0 && static_cast<unsigned char>(b[0]) < 0xF0) model.lead_byte_id = id;
  }
  EXPECT_GE(model.lead_byte_id, 0);
  EngineConfig ec;
  ec.scheduler.max_num_batched_tokens = 40;
  Engine engine(model, lm.tokenizer.get(), ec);
  ApiContext ctx;
  ctx.model = &lm;
  ctx.served_name = "t";
  // Prompts of 4..19 tokens, 24 new tokens: those up to 14 long may meet EOS at position 14; the
  // 17-token one ends on length right after a lead byte (row 39 emits it: 39 % 3 == 0).
  const int32_t N = 16;
  std::vector<std::unique_ptr<ResponseBuilder>> streaming, whole;
  for (int32_t i = 0; i < N; ++i) {
    ApiRequest ar;
    ar.kind = kind;
    ar.prompts.resize(1);
    for (int32_t k = 0; k < 4 + i; ++k) ar.prompts[0].push_back((i * 7919 + k * 104729) % lm.tokenizer->vocab_size());
    ar.gen = greedy(24);
    ar.logprobs.detokenize = engine_detokenizes;
    engine.add(static_cast<uint64_t>(i), ar.prompts[0], ar.gen, ar.logprobs);
    ar.stream = true;
    streaming.push_back(std::make_unique<ResponseBuilder>(ar, ctx));
    ar.stream = false;
    whole.push_back(std::make_unique<ResponseBuilder>(ar, ctx));
  }
  Texts t;
  t.streamed.resize(N);
  int stop_finishes = 0;
  for (int step = 0; step < 1000 && engine.has_work(); ++step) {
    for (EngineEvent& ev : engine.step()) {
      if (ev.finished && ev.finish == FinishReason::FINISH_REASON_STOP) ++stop_finishes;
      EXPECT_EQ(ev.text.empty() || engine_detokenizes, true) << "the engine decoded a request that asked it not to";
      std::vector<ChannelItem> items{ChannelItem{0, ev, {}, 0}};
      const size_t i = static_cast<size_t>(ev.id);
      whole[i]->add(items);
      for (const std::string& line : [&] {
             std::vector<std::string> ls;
             std::string sse = streaming[i]->sse(items);
             for (size_t at = 0; (at = sse.find("data: ", at)) != std::string::npos; at += 6)
               ls.push_back(sse.substr(at + 6, sse.find("\n\n", at) - at - 6));
             return ls;
           }()) {
        const nlohmann::json j = nlohmann::json::parse(line);
        const nlohmann::json& c = j["choices"][0];
        if (kind == ApiKind::API_KIND_CHAT) {
          if (c["delta"].contains("content")) t.streamed[i] += c["delta"]["content"].get<std::string>();
        } else {
          t.streamed[i] += c["text"].get<std::string>();
        }
      }
    }
  }
  EXPECT_GT(stop_finishes, 0);
  EXPECT_LT(stop_finishes, N);
  for (int32_t i = 0; i < N; ++i) {
    EXPECT_TRUE(whole[static_cast<size_t>(i)]->done());
    const nlohmann::json j = nlohmann::json::parse(whole[static_cast<size_t>(i)]->body());
    t.whole.push_back(kind == ApiKind::API_KIND_CHAT ? j["choices"][0]["message"]["content"].get<std::string>()
                                                     : j["choices"][0]["text"].get<std::string>());
  }
  return t;
}

TEST(ResponseBuilder, DecodesTokensExactlyAsTheEngineWould) {
  const std::string path = test::smollm2_path();
  if (path.empty()) GTEST_SKIP() << "no SmolLM2 model (scripts/setup.sh fetches it)";
  auto src = ModelSource::open(path);
  LoadedModel lm;
  lm.tokenizer = Tokenizer::from_gguf(*src->gguf());
  for (ApiKind kind : {ApiKind::API_KIND_COMPLETION, ApiKind::API_KIND_CHAT}) {
    const Texts engine_side = response_texts(lm, true, kind);
    const Texts http_side = response_texts(lm, false, kind);
    size_t bytes = 0;
    for (size_t i = 0; i < engine_side.whole.size(); ++i) {
      EXPECT_EQ(engine_side.streamed[i], engine_side.whole[i]) << i;
      EXPECT_EQ(http_side.streamed[i], engine_side.streamed[i]) << i;
      EXPECT_EQ(http_side.whole[i], engine_side.whole[i]) << i;
      bytes += engine_side.whole[i].size();
    }
    EXPECT_GT(bytes, 100u);  // the comparison compared text
  }
}

TEST(Engine, RefusesStopStringsWithoutEngineDetokenization) {
  HashModel model;
  Engine engine(model, nullptr, EngineConfig{});
  GenerationParams g = greedy(4);
  g.stop = {"x"};
  EngineRequestOptions o;
  o.detokenize = false;
  EXPECT_THROW(engine.add(1, {1, 2, 3}, g, o), Error);
  o.detokenize = true;
  EXPECT_NO_THROW(engine.add(1, {1, 2, 3}, g, o));
}

}  // namespace
}  // namespace pagoda::server
