// `pagoda serve`: the OpenAI-compatible HTTP server. Loads the model, starts the engine thread and
// the HTTP threads, serves until SIGTERM/SIGINT, drains the requests in flight, exits 0.
#include <filesystem>

#include "cli/cli_common.hpp"
#include "core/error.hpp"
#include "runtime/engine.hpp"
#include "server/engine_loop.hpp"
#include "server/http_server.hpp"

namespace pagoda::cli {

namespace {
struct ServeOptions {
  ModelOptions model;
  server::HttpConfig http;
  std::string served_name;
  int32_t max_num_seqs = 64;
  int32_t max_num_batched_tokens = 512;
  int32_t max_queue = 256;
  bool no_prefix_caching = false;
};

std::string default_served_name(const std::string& path) {
  std::filesystem::path p(path);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "dir/" names the folder
  std::string name = p.filename().string();
  if (p.extension() == ".gguf") name = p.stem().string();
  return name.empty() ? std::string("model") : name;
}
}  // namespace

Runner register_serve(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  auto* sub = app.add_subcommand("serve", "OpenAI-compatible HTTP server (/v1/completions, /v1/chat/completions)");
  add_model_options(*sub, o->model);
  sub->add_option("--host", o->http.host, "address to listen on");
  sub->add_option("--port", o->http.port, "port to listen on (0 = any free port)");
  sub->add_option("--api-key", o->http.api_key, "require 'Authorization: Bearer KEY' on /v1 routes");
  sub->add_option("--served-model-name", o->served_name, "model name clients use (default: the file name)");
  sub->add_option("--max-num-seqs", o->max_num_seqs, "sequences in the running batch")->check(CLI::Range(1, 4096));
  sub->add_option("--max-num-batched-tokens", o->max_num_batched_tokens, "tokens per engine step (chunked prefill budget)")
      ->check(CLI::Range(1, 1 << 20));
  sub->add_option("--max-queue", o->max_queue, "sequences waiting beyond the running batch before 429")->check(CLI::Range(0, 1 << 20));
  sub->add_flag("--no-prefix-caching", o->no_prefix_caching, "do not reuse KV blocks of earlier prompts");
  sub->add_option("--http-threads", o->http.threads, "HTTP I/O threads")->check(CLI::Range(1, 64));
  sub->add_option("--max-body-bytes", o->http.max_body_bytes, "largest request body accepted (413 beyond)")
      ->check(CLI::Range(uint64_t{1024}, uint64_t{1} << 30));
  sub->add_option("--request-timeout", o->http.request_timeout_s, "seconds a client has to send a whole request")
      ->check(CLI::Range(0.05, 3600.0));
  return [o] {
    const std::string path = o->model.model.empty() ? default_model_ensure(true) : o->model.model;
    ModelOptions mo = o->model;
    mo.model = path;
    LoadedModel lm = load_from_options(mo);

    server::ApiContext ctx;
    ctx.model = &lm;
    ctx.served_name = o->served_name.empty() ? default_served_name(path) : o->served_name;
    ctx.max_model_len = mo.ctx;
    const int32_t max_outstanding = o->max_num_seqs + o->max_queue;
    ctx.max_n = std::min(64, max_outstanding);

    EngineConfig ec;
    ec.scheduler.max_num_seqs = o->max_num_seqs;
    ec.scheduler.max_num_batched_tokens = o->max_num_batched_tokens;
    ec.scheduler.enable_prefix_caching = !o->no_prefix_caching;
    Engine engine(*lm.model, lm.tokenizer.get(), ec);
    server::Metrics metrics;
    metrics.engine_stats_set(engine.stats(), 0);
    server::EngineLoop loop(engine, metrics, max_outstanding);
    {
      server::HttpServer http(o->http, ctx, loop, metrics);
      http.run([&](uint16_t port) {
        fmt::print(stderr, "pagoda serve: {} | model '{}' | context {} | listening on http://{}:{}\n", lm.model->describe(),
                   ctx.served_name, ctx.max_model_len, o->http.host, port);
      });
    }
    loop.stop();
    fmt::print(stderr, "pagoda serve: drained, exiting\n");
    return 0;
  };
}

}  // namespace pagoda::cli
