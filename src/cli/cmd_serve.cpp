// `pagoda serve`: the OpenAI-compatible HTTP server. Loads the model, starts the engine thread and
// the HTTP threads, serves until SIGTERM/SIGINT, drains the requests in flight, exits 0.
#include <filesystem>

#include "cli/cli_common.hpp"
#include "core/error.hpp"
#include "io/model_config.hpp"
#include "model/model_cuda.hpp"
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
  std::string config;  // --device cuda --random-weights: HF config.json of the shape to serve
  bool random_weights = false;
};

// A GPU model of `config`'s shape with random weights (as `pagoda bench --device cuda` builds
// it): no files and no tokenizer, so clients send token-id prompts. The KV cache takes all that
// --gpu-memory-fraction allows; --ctx stays the per-request limit.
LoadedModel load_random_gpu(const ModelOptions& o, const std::string& config_path) {
  PAGODA_CHECK(o.device == "cuda", "--random-weights needs --device cuda");
  PAGODA_CHECK(!config_path.empty(), "--random-weights needs --config CONFIG.json");
  PAGODA_CHECK(o.model.empty(), "--random-weights and --model exclude each other");
  KvCacheOptions kv;
  kv.page_size = o.page_size;
  kv.max_tokens = 0;
  GpuOptions gpu;
  gpu.dtype = o.dtype;
  gpu.memory_fraction = o.gpu_memory_fraction;
  LoadedModel lm;
  lm.model = model_cuda_create_random(model_config_from_hf_json(config_path), kv, gpu);
  return lm;
}

std::string default_served_name(const std::string& path) {
  std::filesystem::path p(path);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "dir/" names the folder
  std::string name = p.filename().string();
  if (p.extension() == ".gguf" || p.extension() == ".json") name = p.stem().string();
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
  sub->add_option("--config", o->config, "--device cuda --random-weights: HF config.json of the shape to serve");
  sub->add_flag("--random-weights", o->random_weights, "--device cuda: random weights of --config's shape (token-id prompts)");
  sub->add_flag("--no-prefix-caching", o->no_prefix_caching, "do not reuse KV blocks of earlier prompts");
  sub->add_option("--http-threads", o->http.threads, "HTTP I/O threads")->check(CLI::Range(1, 64));
  sub->add_option("--max-body-bytes", o->http.max_body_bytes, "largest request body accepted (413 beyond)")
      ->check(CLI::Range(uint64_t{1024}, uint64_t{1} << 30));
  sub->add_option("--request-timeout", o->http.request_timeout_s, "seconds a client has to send a whole request")
      ->check(CLI::Range(0.05, 3600.0));
  return [o] {
    ModelOptions mo = o->model;
    std::string path;
    LoadedModel lm;
    if (o->random_weights) {
      path = o->config;
      lm = load_random_gpu(mo, o->config);
    } else {
      PAGODA_CHECK(o->config.empty(), "--config goes with --random-weights");
      path = o->model.model.empty() ? default_model_ensure(true) : o->model.model;
      mo.model = path;
      lm = load_from_options(mo);
    }

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
