// The host cost of the serving loop with the model taken out: a null Model whose greedy forward
// returns ids at once, so what is timed is scheduling, batch building, sampling bookkeeping,
// events, detokenisation, the engine thread's dispatch to request channels, SSE formatting and
// socket writes. Two modes per concurrency C (C requests, all admitted at once, greedy, ignore_eos):
//   engine: Engine::step alone, decode steps only (every request past its first token), with the
//           HTTP side's work (ResponseBuilder::sse + chunk framing + one write per event) done
//           serially after each step and timed apart;
//   loop:   the real EngineLoop thread with request channels, and one consumer thread doing the
//           HTTP side, as `pagoda serve` does (per-step figures over the whole run, prefill included).
// It measures; it does not judge. Prints one markdown table per mode.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange without it
#include <boost/asio.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "core/error.hpp"
#include "io/model_source.hpp"
#include "model/forward_batch.hpp"
#include "runtime/engine.hpp"
#include "server/engine_loop.hpp"
#include "server/metrics.hpp"
#include "server/openai_response.hpp"

namespace pagoda {
namespace {

// A model that costs nothing but the index checks every real backend runs before it launches
// (forward_batch_validate): its greedy "argmax" is a hash of the row's token and position.
class NullModel : public Model {
 public:
  NullModel(int64_t vocab, int32_t page_size, int64_t num_pages) : P_(page_size), pages_(num_pages) {
    cfg_.vocab_size = vocab;
  }
  const ModelConfig& config() const override { return cfg_; }
  void forward(const ForwardBatch& b, float* logits) override {
    forward_batch_validate(b, cfg_.vocab_size, pages_, P_);
    const size_t V = static_cast<size_t>(cfg_.vocab_size);
    for (size_t r = 0; r < b.logit_rows.size(); ++r) {
      std::fill(logits + r * V, logits + (r + 1) * V, 0.0f);
      logits[r * V + static_cast<size_t>(next_id(b, r))] = 1.0f;
    }
  }
  bool try_forward_greedy(const ForwardBatch& b, int32_t* ids) override {
    while (hold.load(std::memory_order_acquire)) std::this_thread::yield();
    if (sleep_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
    forward_batch_validate(b, cfg_.vocab_size, pages_, P_);
    for (size_t r = 0; r < b.logit_rows.size(); ++r) ids[r] = next_id(b, r);
    return true;
  }
  int32_t page_size() const override { return P_; }
  int64_t num_pages() const override { return pages_; }
  uint64_t kv_cache_bytes() const override { return 0; }
  void kv_copy_page(int32_t, int32_t) override {}
  std::string describe() const override { return "null model"; }
  // Loop mode: the first step waits until every request was submitted, so that each run
  // schedules the same batches however the submitting thread and the engine thread interleave.
  std::atomic<bool> hold{false};
  int32_t sleep_us = 0;  // a device step's duration, slept (the host thread waits on the GPU)

 private:
  int32_t next_id(const ForwardBatch& b, size_t r) const {
    const size_t t = static_cast<size_t>(b.logit_rows[r]);
    const uint64_t h = (static_cast<uint64_t>(b.tokens[t]) * 0x9E3779B97F4A7C15ull) ^ static_cast<uint64_t>(b.positions[t]);
    return static_cast<int32_t>((h >> 17) % static_cast<uint64_t>(cfg_.vocab_size));
  }
  ModelConfig cfg_;
  int32_t P_;
  int64_t pages_;
};

struct Options {
  std::vector<int32_t> seqs{32, 64, 128, 256, 512};
  int32_t prompt_len = 128, output_len = 128;
  int32_t page_size = 16;
  int64_t vocab = 128256;  // Llama 3
  int32_t max_batched_tokens = 8192;
  std::string tokenizer;   // a GGUF whose tokenizer detokenises (the GPU run has none)
  std::string mode = "both";
  int32_t repeats = 3;
  int32_t http_threads = 2;
  int32_t forward_us = 0;
  std::string notify = "posted";  // loop mode: connection wake-ups from an I/O thread, or inline
};

double thread_cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
double wall_now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// A connected loopback TCP pair (writer non-blocking, TCP_NODELAY as the server sets it).
struct SocketPair {
  int w = -1, r = -1;
  SocketPair() {
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    PAGODA_CHECK(ls >= 0 && bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(ls, 1) == 0 &&
                     getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len) == 0,
                 "loopback listen failed");
    w = socket(AF_INET, SOCK_STREAM, 0);
    PAGODA_CHECK(connect(w, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0, "loopback connect failed");
    r = accept(ls, nullptr, nullptr);
    close(ls);
    int one = 1;
    setsockopt(w, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(r, F_SETFL, fcntl(r, F_GETFL) | O_NONBLOCK);
  }
  ~SocketPair() {
    close(w);
    close(r);
  }
  void write_all(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      const ssize_t n = ::write(w, s.data() + off, s.size() - off);
      if (n > 0) {
        off += static_cast<size_t>(n);
      } else {
        drain();  // the receive buffer is full
      }
    }
  }
  void drain() {
    char buf[1 << 16];
    while (::read(r, buf, sizeof buf) > 0) {
    }
  }
};

std::vector<std::vector<int32_t>> make_prompts(int32_t count, int32_t len, int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(std::min<int64_t>(vocab, 32000) - 1));
  std::vector<std::vector<int32_t>> ps(static_cast<size_t>(count));
  for (auto& p : ps)
    for (int32_t i = 0; i < len; ++i) p.push_back(tok(rng));
  return ps;
}

GenerationParams greedy_params(int32_t n) {
  GenerationParams g;
  g.max_tokens = n;
  g.ignore_eos = true;
  g.sampling.temperature = 0.0f;
  return g;
}

// As `pagoda serve` now does for requests without stop strings: the response side decodes.
bool g_engine_detokenizes = false;

EngineRequestOptions request_options() {
  EngineRequestOptions o;
  o.detokenize = g_engine_detokenizes;
  return o;
}

server::ApiRequest stream_request(const std::vector<int32_t>& prompt, int32_t n) {
  server::ApiRequest ar;
  ar.logprobs = request_options();
  ar.kind = server::ApiKind::API_KIND_COMPLETION;
  ar.prompts = {prompt};
  ar.gen = greedy_params(n);
  ar.stream = true;
  return ar;
}

// The HTTP side of one streamed event: the SSE body and its chunked-transfer framing.
std::string sse_chunk(server::ResponseBuilder& b, const std::vector<server::ChannelItem>& items) {
  std::string data = b.sse(items);
  const bool done = b.done();
  if (done) data += b.sse_end();
  std::string out = data.empty() ? std::string() : fmt::format("{:x}\r\n{}\r\n", data.size(), data);
  if (done) out += "0\r\n\r\n";
  return out;
}

struct Row {
  int32_t seqs = 0;
  uint64_t steps = 0;
  double wall = 0;
  std::array<double, kEnginePhases> phase{};
  server::LoopSeconds loop;
  double sse = 0, write = 0;  // HTTP-side CPU
  double http_cpu = 0;
};

int64_t pages_for(const Options& o, int32_t C) {
  const int64_t per = (o.prompt_len + o.output_len + o.page_size - 1) / o.page_size + 1;
  return per * C + 64;
}

Row run_engine(const Options& o, int32_t C, LoadedModel& lm, uint64_t seed) {
  NullModel model(o.vocab, o.page_size, pages_for(o, C));
  EngineConfig ec;
  ec.scheduler.max_num_seqs = C;
  ec.scheduler.max_num_batched_tokens = o.max_batched_tokens;
  ec.hash_key = 1;
  Engine e(model, lm.tokenizer.get(), ec);
  server::ApiContext ctx;
  ctx.model = &lm;
  ctx.served_name = "null";
  auto prompts = make_prompts(C, o.prompt_len, o.vocab, seed);
  std::vector<std::unique_ptr<server::ResponseBuilder>> builders;
  for (int32_t i = 0; i < C; ++i) {
    e.add(static_cast<uint64_t>(i), prompts[static_cast<size_t>(i)], greedy_params(o.output_len), request_options());
    builders.push_back(std::make_unique<server::ResponseBuilder>(stream_request(prompts[static_cast<size_t>(i)], o.output_len), ctx));
  }
  SocketPair sock;
  int32_t started = 0;
  std::vector<uint8_t> seen(static_cast<size_t>(C), 0);
  Row row;
  row.seqs = C;
  EngineStats s0;
  double t0 = 0;
  bool timing = false;
  while (e.has_work()) {
    if (!timing && started == C) {
      timing = true;
      s0 = e.stats();
      t0 = wall_now();
    }
    std::vector<EngineEvent> evs = e.step();
    const double a = wall_now();
    std::vector<std::string> chunks;
    chunks.reserve(evs.size());
    for (EngineEvent& ev : evs) {
      const size_t i = static_cast<size_t>(ev.id);
      if (!seen[i] && !ev.tokens.empty()) {
        seen[i] = 1;
        ++started;
      }
      std::vector<server::ChannelItem> items;
      items.push_back(server::ChannelItem{0, std::move(ev), {}, 0});
      chunks.push_back(sse_chunk(*builders[i], items));
    }
    const double b = wall_now();
    for (const std::string& c : chunks) sock.write_all(c);
    sock.drain();
    const double c = wall_now();
    if (timing) {
      row.sse += b - a;
      row.write += c - b;
    }
  }
  row.wall = wall_now() - t0 - row.sse - row.write;  // the engine's own share of the wall time
  const EngineStats s1 = e.stats();
  row.steps = s1.steps - s0.steps;
  for (size_t p = 0; p < kEnginePhases; ++p) row.phase[p] = s1.phase_seconds[p] - s0.phase_seconds[p];
  return row;
}

// The real engine thread (EngineLoop) feeding request channels, and HTTP I/O threads as the
// server has them: each channel's notify posts to its stream's Asio strand (what http_server.cpp
// does), whose handler takes the items, formats SSE and writes the chunk to a loopback socket.
Row run_loop(const Options& o, int32_t C, LoadedModel& lm, uint64_t seed) {
  namespace net = boost::asio;
  NullModel model(o.vocab, o.page_size, pages_for(o, C));
  model.hold = true;
  model.sleep_us = o.forward_us;
  EngineConfig ec;
  ec.scheduler.max_num_seqs = C;
  ec.scheduler.max_num_batched_tokens = o.max_batched_tokens;
  ec.hash_key = 1;
  Engine e(model, lm.tokenizer.get(), ec);
  server::Metrics metrics;
  server::ApiContext ctx;
  ctx.model = &lm;
  ctx.served_name = "null";
  auto prompts = make_prompts(C, o.prompt_len, o.vocab, seed);
  net::io_context ioc(o.http_threads);
  auto guard = net::make_work_guard(ioc);
  struct Stream {
    net::strand<net::io_context::executor_type> strand;
    std::shared_ptr<server::RequestChannel> channel;
    std::unique_ptr<server::ResponseBuilder> builder;
    bool finished = false;
  };
  std::vector<std::unique_ptr<Stream>> streams;
  std::atomic<int32_t> done{0};
  std::mutex cpu_mu;
  double http_cpu = 0;  // all I/O threads' CPU time: SSE formatting, framing, writes, Asio
  for (int32_t i = 0; i < C; ++i) {
    auto st = std::make_unique<Stream>(Stream{net::make_strand(ioc), nullptr, nullptr});
    Stream* sp = st.get();
    st->builder = std::make_unique<server::ResponseBuilder>(stream_request(prompts[static_cast<size_t>(i)], o.output_len), ctx);
    st->channel = std::make_shared<server::RequestChannel>([sp, &done] {
      net::post(sp->strand, [sp, &done] {
        if (sp->finished) return;
        thread_local SocketPair sock;
        sock.write_all(sse_chunk(*sp->builder, sp->channel->take()));
        sock.drain();
        if (sp->builder->done()) {
          sp->finished = true;
          ++done;
        }
      });
    });
    streams.push_back(std::move(st));
  }
  std::vector<std::thread> io;
  for (int32_t t = 0; t < o.http_threads; ++t)
    io.emplace_back([&] {
      const double c0 = thread_cpu_now();
      ioc.run();
      std::lock_guard lock(cpu_mu);
      http_cpu += thread_cpu_now() - c0;
    });
  Row row;
  row.seqs = C;
  const double t0 = wall_now();
  {
    server::EngineLoop loop(e, metrics, C);
    if (o.notify == "posted") loop.notify_via([&ioc](std::function<void()> task) { net::post(ioc, std::move(task)); });
    for (int32_t i = 0; i < C; ++i) {
      server::SubmitRequest sr{{prompts[static_cast<size_t>(i)]}, 1, greedy_params(o.output_len), request_options(), streams[static_cast<size_t>(i)]->channel};
      uint64_t key = 0;
      PAGODA_CHECK(loop.submit(std::move(sr), &key) == server::SubmitResult::SUBMIT_RESULT_OK, "submit refused");
    }
    model.hold = false;
    while (done.load() < C) std::this_thread::sleep_for(std::chrono::microseconds(200));
    row.wall = wall_now() - t0;
    loop.notify_via(nullptr);
    loop.stop();
  }
  guard.reset();
  for (auto& t : io) t.join();
  row.http_cpu = http_cpu;
  const EngineStats s = metrics.engine_stats();
  row.steps = s.steps;
  row.phase = s.phase_seconds;
  row.loop = metrics.loop_seconds();
  return row;
}

// Keeps the fastest of several runs per phase (the least disturbed by the other tenants of a
// shared machine).
Row best_of(const std::vector<Row>& rs) {
  Row b = rs.front();
  for (const Row& r : rs) {
    for (size_t p = 0; p < kEnginePhases; ++p) b.phase[p] = std::min(b.phase[p], r.phase[p]);
    b.wall = std::min(b.wall, r.wall);
    b.sse = std::min(b.sse, r.sse);
    b.write = std::min(b.write, r.write);
    b.http_cpu = std::min(b.http_cpu, r.http_cpu);
    b.loop.commands = std::min(b.loop.commands, r.loop.commands);
    b.loop.dispatch = std::min(b.loop.dispatch, r.loop.dispatch);
    b.loop.stats = std::min(b.loop.stats, r.loop.stats);
  }
  return b;
}

std::string us(double seconds, uint64_t steps) { return fmt::format("{:.1f}", steps ? seconds / static_cast<double>(steps) * 1e6 : 0.0); }

}  // namespace
}  // namespace pagoda

int main(int argc, char** argv) {
  using namespace pagoda;
  Options o;
  CLI::App app{"Host cost of the serving loop with a null model (per-step microseconds by phase)"};
  app.add_option("--seqs", o.seqs, "running sequences to try");
  app.add_option("--prompt-len", o.prompt_len);
  app.add_option("--output-len", o.output_len);
  app.add_option("--page-size", o.page_size);
  app.add_option("--vocab", o.vocab, "vocabulary (ignored with --tokenizer)");
  app.add_option("--max-num-batched-tokens", o.max_batched_tokens);
  app.add_option("--tokenizer", o.tokenizer, "GGUF file whose tokenizer detokenises the output");
  app.add_option("--mode", o.mode, "engine | loop | both")->check(CLI::IsMember({"engine", "loop", "both"}));
  app.add_option("--http-threads", o.http_threads, "loop mode: Asio I/O threads doing the HTTP side")->check(CLI::Range(1, 64));
  app.add_option("--notify", o.notify, "loop mode: posted (as pagoda serve) | inline (the engine thread wakes each connection)")
      ->check(CLI::IsMember({"posted", "inline"}));
  app.add_option("--forward-us", o.forward_us, "loop mode: each forward sleeps this long, as a GPU step would")->check(CLI::Range(0, 1000000));
  app.add_flag("--engine-detokenizes", g_engine_detokenizes, "the engine thread decodes text (as before; now only with stop strings)");
  app.add_option("--repeats", o.repeats, "runs per point; the fastest of each phase is kept")->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);
  try {
    LoadedModel lm;
    if (!o.tokenizer.empty()) {
      auto src = ModelSource::open(o.tokenizer);
      PAGODA_CHECK(src->gguf() != nullptr, "--tokenizer wants a GGUF file");
      lm.tokenizer = Tokenizer::from_gguf(*src->gguf());
      o.vocab = lm.tokenizer->vocab_size();
    }
    fmt::print("# null model: vocab {}, page {}, prompt {}, output {}, max_num_batched_tokens {}, tokenizer {}, http threads {}, notify {}, loop forward sleep {} us\n",
               o.vocab, o.page_size, o.prompt_len, o.output_len, o.max_batched_tokens, o.tokenizer.empty() ? "none" : o.tokenizer,
               o.http_threads, o.notify, o.forward_us);
    if (o.mode != "loop") {
      fmt::print("\n## engine: decode steps only, us per step (best of {})\n\n", o.repeats);
      fmt::print("| seqs | steps | schedule | build_batch | forward (validate) | sample | update | events | engine total | wall/step | "
                 "sse format | socket write |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
      for (int32_t C : o.seqs) {
        std::vector<Row> rs;
        for (int32_t k = 0; k < o.repeats; ++k) rs.push_back(run_engine(o, C, lm, 1000 + static_cast<uint64_t>(C)));
        Row r = best_of(rs);
        double total = 0;
        for (double p : r.phase) total += p;
        fmt::print("| {} | {} |", C, r.steps);
        for (double p : r.phase) fmt::print(" {} |", us(p, r.steps));
        fmt::print(" {} | {} | {} | {} |\n", us(total, r.steps), us(r.wall, r.steps), us(r.sse, r.steps), us(r.write, r.steps));
      }
    }
    if (o.mode != "engine") {
      fmt::print("\n## loop: EngineLoop thread + one HTTP-side consumer thread, whole run, us per step (best of {})\n\n", o.repeats);
      fmt::print("| seqs | steps | schedule | build_batch | forward (validate) | sample | update | events | dispatch | stats | "
                 "engine thread | http cpu | wall/step |\n"
                 "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
      for (int32_t C : o.seqs) {
        std::vector<Row> rs;
        for (int32_t k = 0; k < o.repeats; ++k) rs.push_back(run_loop(o, C, lm, 2000 + static_cast<uint64_t>(C)));
        Row r = best_of(rs);
        double total = r.loop.commands + r.loop.dispatch + r.loop.stats;
        for (double p : r.phase) total += p;
        fmt::print("| {} | {} |", C, r.steps);
        for (double p : r.phase) fmt::print(" {} |", us(p, r.steps));
        fmt::print(" {} | {} | {} | {} | {} |\n", us(r.loop.dispatch, r.steps), us(r.loop.stats, r.steps), us(total, r.steps),
                   us(r.http_cpu, r.steps), us(r.wall, r.steps));
      }
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "host_overhead: {}\n", e.what());
    return 1;
  }
  return 0;
}
