// The HTTP/1.1 front end (Boost.Beast, keep-alive): a few I/O threads accept connections, parse
// and validate requests, template and tokenize, and hand generation to the EngineLoop; tokens come
// back through per-request channels and go out as one JSON body or as server-sent events. Limits
// (body size, header read timeout, queue depth, API key) turn into OpenAI error objects. A client
// that goes away mid-request cancels its engine request at once. SIGTERM/SIGINT: stop accepting,
// drain, return.
#pragma once

#include <cstdint>
#include <string>

#include "server/api_request.hpp"
#include "server/engine_loop.hpp"
#include "server/metrics.hpp"

namespace pagoda::server {

struct HttpConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::string api_key;  // "" = no authentication
  int threads = 4;
  uint64_t max_body_bytes = 4u << 20;
  double request_timeout_s = 30;  // to receive a whole request (slow senders are cut off)
  double write_timeout_s = 60;    // for a client to take each piece of a response
};

class HttpServer {
 public:
  HttpServer(const HttpConfig& config, const ApiContext& ctx, EngineLoop& engine, Metrics& metrics);
  ~HttpServer();
  // Binds (throws pagoda::Error when it cannot), serves until SIGTERM/SIGINT, drains, returns.
  // on_listening receives the bound port (useful with port 0).
  void run(const std::function<void(uint16_t)>& on_listening);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pagoda::server
