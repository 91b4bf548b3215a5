#include "server/load_generator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange without it
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "server/fd_limit.hpp"

namespace pagoda::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;

namespace {

struct Url {
  std::string host, port;
};

Url url_parse(const std::string& url) {
  std::string rest = url;
  const std::string scheme = "http://";
  PAGODA_CHECK(rest.rfind(scheme, 0) == 0, "--url must start with http:// (got '{}')", url);
  rest = rest.substr(scheme.size());
  rest = rest.substr(0, rest.find('/'));
  Url u;
  const size_t colon = rest.rfind(':');
  u.host = colon == std::string::npos ? rest : rest.substr(0, colon);
  u.port = colon == std::string::npos ? "80" : rest.substr(colon + 1);
  PAGODA_CHECK(!u.host.empty() && !u.port.empty(), "cannot parse --url '{}'", url);
  return u;
}

// One keep-alive connection, used by one thread.
class Client {
 public:
  Client(Url url, std::string api_key, double timeout_s) : url_(std::move(url)), key_(std::move(api_key)), timeout_(timeout_s) {}

  // GET or POST; returns the status and the whole body.
  std::pair<int, std::string> call(http::verb verb, const std::string& target, const std::string& body) {
    send(verb, target, body);
    http::response_parser<http::string_body> p;
    p.body_limit(64u << 20);
    http::read(*stream_, buf_, p);
    after(p.get().keep_alive());
    return {static_cast<int>(p.get().result_int()), p.get().body()};
  }

  // POST a streaming request; on_data receives each piece of the body as it arrives.
  template <typename F>
  int stream(const std::string& target, const std::string& body, F&& on_data, std::string* error_body) {
    send(http::verb::post, target, body);
    http::response_parser<http::buffer_body> p;
    p.body_limit(boost::none);
    http::read_header(*stream_, buf_, p);
    const int status = static_cast<int>(p.get().result_int());
    char tmp[16384];
    while (!p.is_done()) {
      p.get().body().data = tmp;
      p.get().body().size = sizeof(tmp);
      beast::error_code ec;
      http::read_some(*stream_, buf_, p, ec);  // read() would wait for the buffer to fill: no token timing
      if (ec == http::error::need_buffer) ec = {};
      if (ec) throw beast::system_error(ec);
      const size_t n = sizeof(tmp) - p.get().body().size;
      if (status != 200) error_body->append(tmp, n);
      else on_data(std::string_view(tmp, n));
    }
    after(p.get().keep_alive());
    return status;
  }

  void reset() { stream_.reset(); }

 private:
  void send(http::verb verb, const std::string& target, const std::string& body) {
    if (!stream_) {
      stream_.emplace(ioc_);
      tcp::resolver resolver(ioc_);
      stream_->connect(resolver.resolve(url_.host, url_.port));
      stream_->socket().set_option(tcp::no_delay(true));
      buf_.clear();
    }
    stream_->expires_after(std::chrono::milliseconds(static_cast<int64_t>(timeout_ * 1000)));
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, url_.host);
    req.set(http::field::user_agent, "pagoda-bench");
    if (!key_.empty()) req.set(http::field::authorization, "Bearer " + key_);
    if (verb == http::verb::post) req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    http::write(*stream_, req);
  }
  void after(bool keep_alive) {
    if (!keep_alive) stream_.reset();
  }

  Url url_;
  std::string key_;
  double timeout_;
  net::io_context ioc_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buf_;
};

struct Job {
  std::vector<int32_t> prompt;
  int32_t output_len;
};

struct Outcome {
  bool ok = false;
  std::string error;
  double ttft = 0, e2e = 0;
  std::vector<double> gaps;
  int64_t output_tokens = 0;
};

Outcome run_one(Client& c, const std::string& model, const Job& job) {
  Outcome o;
  json req = {{"model", model},     {"prompt", job.prompt}, {"max_tokens", job.output_len}, {"temperature", 0.0},
              {"ignore_eos", true}, {"stream", true},       {"stream_options", {{"include_usage", true}}}};
  const std::string body = req.dump();
  const double t0 = seconds_now();
  double last = 0;
  bool first = true, done = false;
  std::string sse, error_body;
  int64_t chunks = 0;
  auto on_data = [&](std::string_view piece) {
    const double now = seconds_now();
    sse.append(piece);
    size_t pos;
    while ((pos = sse.find("\n\n")) != std::string::npos) {
      const std::string ev = sse.substr(0, pos);
      sse.erase(0, pos + 2);
      if (ev.rfind("data: ", 0) != 0) continue;
      const std::string payload = ev.substr(6);
      if (payload == "[DONE]") {
        done = true;
        continue;
      }
      json j = json::parse(payload, nullptr, false);
      if (j.is_discarded()) throw std::runtime_error("malformed SSE event: " + payload.substr(0, 200));
      if (j.contains("error")) throw std::runtime_error("server error: " + j["error"].value("message", std::string("?")));
      if (j.contains("usage") && j["usage"].is_object()) o.output_tokens = j["usage"].value("completion_tokens", int64_t{0});
      if (!j.contains("choices") || j["choices"].empty()) continue;
      ++chunks;
      if (first) {
        o.ttft = now - t0;
        first = false;
      } else {
        o.gaps.push_back(now - last);
      }
      last = now;
    }
  };
  try {
    const int status = c.stream("/v1/completions", body, on_data, &error_body);
    if (status != 200) {
      o.error = fmt::format("HTTP {}: {}", status, error_body.substr(0, 300));
      return o;
    }
  } catch (const std::exception& e) {
    c.reset();
    o.error = e.what();
    return o;
  }
  if (!done) {
    o.error = "the stream ended without [DONE]";
    return o;
  }
  if (o.output_tokens == 0) o.output_tokens = chunks;
  o.e2e = seconds_now() - t0;
  o.ok = true;
  return o;
}

}  // namespace

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double rank = p / 100.0 * static_cast<double>(v.size() - 1);  // linear interpolation
  const size_t lo = static_cast<size_t>(std::floor(rank)), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

LoadReport load_run(const LoadConfig& cfg) {
  PAGODA_CHECK(cfg.num_requests >= 1, "--num-requests must be at least 1");
  PAGODA_CHECK(cfg.prompt_len >= 1 && cfg.output_len >= 1, "--prompt-len and --output-len must be at least 1");
  PAGODA_CHECK(cfg.rate >= 0 && std::isfinite(cfg.rate), "--rate must be >= 0");
  const Url url = url_parse(cfg.url);
  LoadReport rep;

  // Ask the server what it serves: the model name, its vocabulary (for token-id prompts), its context.
  Client probe(url, cfg.api_key, cfg.timeout_s);
  auto [status, body] = probe.call(http::verb::get, "/v1/models", "");
  PAGODA_CHECK(status == 200, "GET /v1/models answered HTTP {}: {}", status, body.substr(0, 300));
  json models = json::parse(body, nullptr, false);
  PAGODA_CHECK(!models.is_discarded() && models.contains("data") && !models["data"].empty(), "GET /v1/models: unexpected body");
  const json& m = models["data"][0];
  rep.model = cfg.model.empty() ? m.value("id", std::string()) : cfg.model;
  const int64_t vocab = m.value("vocab_size", int64_t{0});
  const int64_t max_len = m.value("max_model_len", int64_t{0});
  PAGODA_CHECK(vocab > 0, "the server did not report vocab_size in /v1/models (needed for token-id prompts)");

  std::mt19937_64 rng(cfg.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(vocab - 1));
  auto draw_len = [&](int32_t median) {
    if (!cfg.lognormal) return median;
    const double x = std::round(median * std::exp(cfg.sigma * normal(rng)));
    return static_cast<int32_t>(std::clamp(x, 1.0, 1e6));
  };
  std::vector<Job> jobs(static_cast<size_t>(cfg.num_requests));
  for (Job& j : jobs) {
    int32_t pl = draw_len(cfg.prompt_len), ol = draw_len(cfg.output_len);
    if (max_len > 0) {
      pl = static_cast<int32_t>(std::min<int64_t>(pl, max_len - 1));
      ol = static_cast<int32_t>(std::min<int64_t>(ol, max_len - pl));
    }
    j.prompt.resize(static_cast<size_t>(pl));
    for (auto& t : j.prompt) t = token(rng);
    j.output_len = ol;
    rep.input_tokens += pl;
  }
  std::vector<double> arrival(jobs.size(), 0.0);
  if (cfg.rate > 0) {
    std::exponential_distribution<double> gap(cfg.rate);
    double t = 0;
    for (double& a : arrival) {
      a = t;
      t += gap(rng);
    }
  }
  const int32_t workers = cfg.rate > 0 ? std::min(cfg.num_requests, cfg.concurrency > 0 ? cfg.concurrency : 256)
                                       : std::min(cfg.num_requests, std::max(1, cfg.concurrency));
  // One socket per worker: at 1024 workers the usual soft limit of 1024 files would refuse some.
  const uint64_t files = fd_limit_raise();
  PAGODA_CHECK(files == 0 || files >= static_cast<uint64_t>(workers) + 32,
               "{} concurrent streams need more open files than this process may have ({}): raise 'ulimit -n'", workers, files);

  std::atomic<size_t> next{0};
  std::mutex mu;
  const double start = seconds_now();
  double end = start;
  auto worker = [&] {
    Client client(url, cfg.api_key, cfg.timeout_s);
    for (;;) {
      const size_t i = next++;
      if (i >= jobs.size()) return;
      const double due = start + arrival[i];
      if (const double wait = due - seconds_now(); wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait));
      Outcome o = run_one(client, rep.model, jobs[i]);
      std::lock_guard lock(mu);
      end = std::max(end, seconds_now());
      if (!o.ok) {
        ++rep.failed;
        if (rep.first_error.empty()) rep.first_error = o.error;
        continue;
      }
      ++rep.completed;
      rep.output_tokens += o.output_tokens;
      rep.ttft.push_back(o.ttft);
      rep.e2e.push_back(o.e2e);
      rep.itl.insert(rep.itl.end(), o.gaps.begin(), o.gaps.end());
      if (o.output_tokens > 1) rep.tpot.push_back((o.e2e - o.ttft) / static_cast<double>(o.output_tokens - 1));
    }
  };
  std::vector<std::thread> threads;
  for (int32_t i = 0; i < workers; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  rep.duration_s = end - start;
  return rep;
}

}  // namespace pagoda::server
