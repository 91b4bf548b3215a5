#include "server/http_server.hpp"

#include <fmt/format.h>

#include <atomic>
#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange without it
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <csignal>
#include <optional>
#include <thread>

#include "core/error.hpp"
#include "server/api_error.hpp"
#include "server/fd_limit.hpp"
#include "server/openai_response.hpp"

namespace pagoda::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr size_t kHeaderLimit = 16 * 1024;
constexpr size_t kPipelineLimit = 1 << 20;  // bytes a client may send ahead while a response is pending

struct Shared {
  HttpConfig cfg;
  const ApiContext& ctx;
  EngineLoop& engine;
  Metrics& metrics;
  std::atomic<bool> draining{false};
  std::atomic<int> active{0};  // requests between their parse and the end of their response
};

std::chrono::milliseconds ms(double s) { return std::chrono::milliseconds(static_cast<int64_t>(s * 1000)); }

bool same_key(std::string_view a, std::string_view b) {
  // Length leaks, contents do not.
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Shared& sh) : stream_(std::move(socket)), sh_(sh) {}
  ~Session() {
    if (gen_active_) sh_.engine.cancel(key_);
    if (counted_) --sh_.active;
  }
  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
  }

 private:
  using Request = http::request<http::string_body>;

  void read_request() {
    if (closed_) return;
    parser_.emplace();
    parser_->body_limit(sh_.cfg.max_body_bytes);
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(ms(sh_.cfg.request_timeout_s));
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted) return close();
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      begin_request();
      return respond_error(ApiError(413, fmt::format("the request body exceeds {} bytes", sh_.cfg.max_body_bytes),
                                    "invalid_request_error", "", "request_too_large"), 11);
    }
    if (ec && ec.category() == http::make_error_code(http::error::bad_method).category()) {
      keep_alive_ = false;
      begin_request();
      return respond_error(ApiError(400, fmt::format("malformed HTTP request: {}", ec.message())), 11);
    }
    if (ec) return close();
    Request req = parser_->release();
    begin_request();
    handle(req);
  }

  void begin_request() {
    if (!counted_) ++sh_.active;
    counted_ = true;
  }

  void handle(Request& req) {
    version_ = req.version();
    keep_alive_ = req.keep_alive() && !sh_.draining;
    std::string_view target = req.target();
    const std::string path(target.substr(0, target.find('?')));
    try {
      if (path == "/health") {
        allow(req, http::verb::get, "GET");
        if (sh_.draining) throw ApiError(503, "the server is shutting down", "server_error", "", "server_shutting_down");
        return respond(200, "{\"status\":\"ok\"}", "application/json");
      }
      if (path == "/metrics") {
        allow(req, http::verb::get, "GET");
        return respond(200, sh_.metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
      }
      if (path == "/v1/models") {
        allow(req, http::verb::get, "GET");
        authorize(req);
        return respond(200, models_body(sh_.ctx), "application/json");
      }
      if (path == "/v1/completions" || path == "/v1/chat/completions") {
        allow(req, http::verb::post, "POST");
        authorize(req);
        return generate(req, path == "/v1/completions" ? ApiKind::API_KIND_COMPLETION : ApiKind::API_KIND_CHAT);
      }
      throw ApiError(404, fmt::format("no route for {} {}", std::string(req.method_string()), path), "invalid_request_error", "",
                     "not_found");
    } catch (const ApiError& e) {
      respond_error(e, version_);
    } catch (const Error& e) {
      respond_error(ApiError(400, e.what()), version_);
    } catch (const std::bad_alloc&) {
      respond_error(ApiError(500, "out of memory", "server_error"), version_);
    } catch (const std::exception& e) {
      respond_error(ApiError(500, e.what(), "server_error"), version_);
    }
  }

  void allow(const Request& req, http::verb verb, const char* name) {
    if (req.method() == verb) return;
    allow_ = name;
    throw ApiError(405, fmt::format("method {} is not allowed here (use {})", std::string(req.method_string()), name),
                   "invalid_request_error", "", "method_not_allowed");
  }

  void authorize(const Request& req) {
    if (sh_.cfg.api_key.empty()) return;
    auto it = req.find(http::field::authorization);
    std::string_view v = it == req.end() ? std::string_view() : std::string_view(it->value());
    constexpr std::string_view bearer = "Bearer ";
    if (v.size() < bearer.size() || v.substr(0, bearer.size()) != bearer || !same_key(v.substr(bearer.size()), sh_.cfg.api_key))
      throw ApiError(401, "missing or incorrect API key (send 'Authorization: Bearer <key>')", "invalid_request_error", "",
                     "invalid_api_key");
  }

  void generate(Request& req, ApiKind kind) {
    if (sh_.draining) throw ApiError(503, "the server is shutting down", "server_error", "", "server_shutting_down");
    ApiRequest ar = api_request_parse(kind, req.body(), sh_.ctx);
    req.body().clear();
    builder_ = std::make_unique<ResponseBuilder>(ar, sh_.ctx);
    stream_mode_ = ar.stream;
    std::weak_ptr<Session> weak = weak_from_this();
    auto ex = stream_.get_executor();
    auto channel = std::make_shared<RequestChannel>([weak, ex] {
      net::post(ex, [weak] {
        if (auto s = weak.lock()) s->on_events();
      });
    });
    SubmitRequest sr{std::move(ar.prompts), ar.n, ar.gen, ar.logprobs, channel};
    switch (sh_.engine.submit(std::move(sr), &key_)) {
      case SubmitResult::SUBMIT_RESULT_BUSY:
        throw ApiError(429, "too many requests in flight; retry later", "rate_limit_error", "", "rate_limit_exceeded");
      case SubmitResult::SUBMIT_RESULT_DRAINING:
        throw ApiError(503, "the server is shutting down", "server_error", "", "server_shutting_down");
      case SubmitResult::SUBMIT_RESULT_OK:
        break;
    }
    channel_ = channel;
    gen_active_ = true;
    start_watch();
    if (stream_mode_) {
      sh_.metrics.response_count(200);
      out_pending_ = fmt::format(
          "HTTP/1.1 200 OK\r\nServer: pagoda\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
          "Transfer-Encoding: chunked\r\nConnection: {}\r\n\r\n",
          keep_alive_ ? "keep-alive" : "close");
      flush();
    }
  }

  void on_events() {
    if (!gen_active_ || closed_) return;
    std::vector<ChannelItem> items = channel_->take();
    if (stream_mode_) {
      std::string data = builder_->sse(items);
      const bool done = builder_->done();
      if (done) data += builder_->sse_end();
      if (!data.empty()) out_pending_ += fmt::format("{:x}\r\n{}\r\n", data.size(), data);
      if (done) {
        out_pending_ += "0\r\n\r\n";
        gen_end();
        finishing_ = true;
      }
      flush();
      return;
    }
    builder_->add(items);
    if (!builder_->done()) return;
    gen_end();
    if (!builder_->error().empty()) {
      const int st = builder_->error_status();
      return respond_error(st == 400 ? ApiError(400, builder_->error()) : ApiError(500, builder_->error(), "server_error"), version_);
    }
    respond(200, builder_->body(), "application/json");
  }

  void gen_end() {
    gen_active_ = false;
    channel_.reset();
  }

  // Streaming writes: everything produced while a write is in flight goes out in the next one.
  void flush() {
    if (writing_ || out_pending_.empty() || closed_) return;
    out_writing_.swap(out_pending_);
    out_pending_.clear();
    writing_ = true;
    stream_.expires_after(ms(sh_.cfg.write_timeout_s));
    net::async_write(stream_, net::buffer(out_writing_), beast::bind_front_handler(&Session::on_flushed, shared_from_this()));
  }

  void on_flushed(beast::error_code ec, size_t) {
    writing_ = false;
    out_writing_.clear();
    if (ec) return abort();
    if (!out_pending_.empty()) return flush();
    if (finishing_) {
      finishing_ = false;
      builder_.reset();
      finish_response();
    }
  }

  // A raw read on the socket while a request is in progress: end-of-file or an error means the
  // client is gone, so its engine request is cancelled now rather than at the next write.
  void start_watch() {
    if (watching_ || closed_) return;
    watching_ = true;
    stream_.socket().async_read_some(buffer_.prepare(4096), beast::bind_front_handler(&Session::on_watch, shared_from_this()));
  }

  void on_watch(beast::error_code ec, size_t n) {
    watching_ = false;
    if (!ec) buffer_.commit(n);  // a pipelined request: kept for the next read
    if (want_read_) {
      want_read_ = false;
      return read_request();
    }
    if (ec == net::error::operation_aborted || closed_) return;
    if (ec) return abort();
    if (buffer_.size() < kPipelineLimit) start_watch();
  }

  void respond_error(const ApiError& e, unsigned version) {
    std::vector<std::pair<http::field, std::string>> extra;
    if (e.status == 429) extra.emplace_back(http::field::retry_after, "1");
    if (e.status == 405 && !allow_.empty()) extra.emplace_back(http::field::allow, allow_);
    if (e.status == 413) keep_alive_ = false;  // the rest of the body is still on its way
    version_ = version;
    respond(e.status, api_error_body(e), "application/json", extra);
  }

  void respond(int status, std::string body, const char* content_type,
               const std::vector<std::pair<http::field, std::string>>& extra = {}) {
    sh_.metrics.response_count(status);
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), version_ ? version_ : 11);
    res->set(http::field::server, "pagoda");
    res->set(http::field::content_type, content_type);
    for (const auto& [f, v] : extra) res->set(f, v);
    res->keep_alive(keep_alive_);
    res->body() = std::move(body);
    res->prepare_payload();
    res_ = res;
    stream_.expires_after(ms(sh_.cfg.write_timeout_s));
    http::async_write(stream_, *res_, beast::bind_front_handler(&Session::on_written, shared_from_this()));
  }

  void on_written(beast::error_code ec, size_t) {
    res_.reset();
    builder_.reset();
    allow_.clear();
    if (ec) return abort();
    finish_response();
  }

  void finish_response() {
    if (counted_) --sh_.active;
    counted_ = false;
    if (!keep_alive_) return linger_close();
    if (watching_) {
      // The watch read owns the buffer: cancel it; its handler starts the next request read.
      want_read_ = true;
      beast::error_code ec;
      stream_.socket().cancel(ec);
      return;
    }
    read_request();
  }

  // After an error response the client may still be sending (a too-large body): stop writing, then
  // read and discard for a moment so the response is not lost to a connection reset.
  void linger_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (watching_) {
      stream_.socket().cancel(ec);
      want_read_ = false;
    }
    linger_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    linger_read();
  }
  void linger_read() {
    if (closed_ || std::chrono::steady_clock::now() > linger_deadline_) return close();
    stream_.expires_at(linger_deadline_);
    stream_.async_read_some(net::buffer(discard_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->close();
      self->linger_read();
    });
  }

  void abort() {
    if (gen_active_) {
      sh_.engine.cancel(key_);
      gen_end();
    }
    close();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    if (gen_active_) {
      sh_.engine.cancel(key_);
      gen_end();
    }
    if (counted_) --sh_.active;
    counted_ = false;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  Shared& sh_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> res_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  std::string allow_;
  // The generation in progress.
  std::unique_ptr<ResponseBuilder> builder_;
  std::shared_ptr<RequestChannel> channel_;
  uint64_t key_ = 0;
  bool gen_active_ = false, stream_mode_ = false;
  std::string out_pending_, out_writing_;
  bool writing_ = false, finishing_ = false;
  bool watching_ = false, want_read_ = false;
  bool counted_ = false, closed_ = false;
  std::chrono::steady_clock::time_point linger_deadline_;
  std::array<char, 4096> discard_{};
};

}  // namespace

struct HttpServer::Impl {
  Shared sh;
  net::io_context ioc;
  // The acceptor, the signal handler that closes it and the drain timer share one strand: with
  // several I/O threads an accept completing while SIGTERM closes the acceptor would otherwise race.
  net::strand<net::io_context::executor_type> accept_strand{net::make_strand(ioc)};
  tcp::acceptor acceptor{accept_strand};
  net::signal_set signals{accept_strand, SIGINT, SIGTERM};
  net::steady_timer drain_timer{accept_strand};

  Impl(const HttpConfig& cfg, const ApiContext& ctx, EngineLoop& engine, Metrics& metrics)
      : sh{cfg, ctx, engine, metrics}, ioc(std::max(1, cfg.threads)) {
    // Waking each connection (a post to its strand) is I/O-thread work: one task per engine step.
    engine.notify_via([this](std::function<void()> task) { net::post(ioc, std::move(task)); });
  }
  ~Impl() { sh.engine.notify_via(nullptr); }

  void accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (!acceptor.is_open()) return;
      if (!ec) {
        beast::error_code ignore;
        socket.set_option(tcp::no_delay(true), ignore);
        std::make_shared<Session>(std::move(socket), sh)->start();
      }
      accept();
    });
  }

  void drain_begin() {
    fmt::print(stderr, "pagoda serve: shutting down: no new requests; draining {} in flight\n", sh.engine.outstanding());
    sh.draining = true;
    sh.engine.drain_begin();
    beast::error_code ec;
    acceptor.close(ec);
    drain_poll();
  }
  void drain_poll() {
    if (sh.active.load() == 0 && sh.engine.outstanding() == 0) {
      ioc.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(20));
    drain_timer.async_wait([this](beast::error_code) { drain_poll(); });
  }
};

HttpServer::HttpServer(const HttpConfig& config, const ApiContext& ctx, EngineLoop& engine, Metrics& metrics)
    : impl_(std::make_unique<Impl>(config, ctx, engine, metrics)) {}
HttpServer::~HttpServer() = default;

void HttpServer::run(const std::function<void(uint16_t)>& on_listening) {
  Impl& m = *impl_;
  std::signal(SIGPIPE, SIG_IGN);
  fd_limit_raise();  // one socket per stream: 1024 streams outgrow the usual soft limit
  beast::error_code ec;
  const net::ip::address addr = net::ip::make_address(m.sh.cfg.host, ec);
  PAGODA_CHECK(!ec, "invalid --host '{}': {}", m.sh.cfg.host, ec.message());
  const tcp::endpoint ep(addr, m.sh.cfg.port);
  m.acceptor.open(ep.protocol(), ec);
  if (!ec) m.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) m.acceptor.bind(ep, ec);
  if (!ec) m.acceptor.listen(net::socket_base::max_listen_connections, ec);
  PAGODA_CHECK(!ec, "cannot listen on {}:{}: {}", m.sh.cfg.host, m.sh.cfg.port, ec.message());
  m.signals.async_wait([&m](beast::error_code e, int) {
    if (!e) m.drain_begin();
  });
  m.accept();
  if (on_listening) on_listening(m.acceptor.local_endpoint().port());

  auto worker = [&m] {
    for (;;) {
      try {
        m.ioc.run();
        return;
      } catch (const std::exception& e) {
        fmt::print(stderr, "pagoda serve: handler error: {}\n", e.what());  // keep serving
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 1; i < std::max(1, m.sh.cfg.threads); ++i) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
}

}  // namespace pagoda::server
