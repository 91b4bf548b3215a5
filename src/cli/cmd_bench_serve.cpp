// `pagoda bench serve`: load-tests a running `pagoda serve` (or any OpenAI-compatible server that
// accepts token-id prompts and ignore_eos) and reports throughput and latency percentiles.
#include "cli/cli_common.hpp"
#include "core/error.hpp"
#include "server/load_generator.hpp"

namespace pagoda::cli {

Runner register_bench_serve(CLI::App& bench) {
  auto o = std::make_shared<server::LoadConfig>();
  auto* sub = bench.add_subcommand("serve", "load-test an OpenAI-compatible server (streaming, token-id prompts)");
  sub->add_option("--url", o->url, "server base URL, http://host:port");
  sub->add_option("--api-key", o->api_key, "API key");
  sub->add_option("--model", o->model, "model name (default: the first one the server lists)");
  auto* rate = sub->add_option("--rate", o->rate, "Poisson arrivals per second (with --concurrency as a cap)")->check(CLI::Range(0.0, 1e6));
  sub->add_option("--concurrency", o->concurrency, "requests in flight (closed loop when no --rate)")->check(CLI::Range(1, 4096));
  (void)rate;
  sub->add_option("--num-requests", o->num_requests, "requests to send")->check(CLI::Range(1, 1000000));
  sub->add_option("--prompt-len", o->prompt_len, "prompt tokens (the median with --lognormal)")->check(CLI::Range(1, 1 << 20));
  sub->add_option("--output-len", o->output_len, "output tokens (the median with --lognormal)")->check(CLI::Range(1, 1 << 20));
  sub->add_flag("--lognormal", o->lognormal, "ShareGPT-like lengths: lognormal around the medians");
  sub->add_option("--sigma", o->sigma, "lognormal sigma")->check(CLI::Range(0.0, 3.0));
  sub->add_option("--seed", o->seed, "seed for prompts, lengths and arrivals");
  sub->add_option("--timeout", o->timeout_s, "seconds per request")->check(CLI::Range(0.1, 86400.0));
  return [o] {
    server::LoadConfig cfg = *o;
    if (cfg.rate <= 0 && cfg.concurrency <= 0) cfg.concurrency = 1;
    server::LoadReport r = server::load_run(cfg);
    using server::percentile;
    auto msv = [](const std::vector<double>& v, double p) { return percentile(v, p) * 1000.0; };
    auto mean = [](const std::vector<double>& v) {
      double s = 0;
      for (double x : v) s += x;
      return v.empty() ? 0.0 : s / static_cast<double>(v.size()) * 1000.0;
    };
    fmt::print("model: {} | {} | {} requests | prompt {} output {}{}\n", r.model,
               cfg.rate > 0 ? fmt::format("rate {}/s (cap {})", cfg.rate, cfg.concurrency > 0 ? cfg.concurrency : 256)
                            : fmt::format("concurrency {}", cfg.concurrency),
               cfg.num_requests, cfg.prompt_len, cfg.output_len, cfg.lognormal ? fmt::format(" (lognormal medians, sigma {})", cfg.sigma) : "");
    fmt::print("completed {} | failed {} | duration {:.2f} s\n", r.completed, r.failed, r.duration_s);
    if (!r.first_error.empty()) fmt::print("first error: {}\n", r.first_error);
    const double d = r.duration_s > 0 ? r.duration_s : 1;
    fmt::print("requests/s {:.3f} | input tokens/s {:.1f} | output tokens/s {:.1f}\n", r.completed / d,
               static_cast<double>(r.input_tokens) / d, static_cast<double>(r.output_tokens) / d);
    fmt::print("| metric | mean ms | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: |\n");
    fmt::print("| TTFT | {:.1f} | {:.1f} | {:.1f} |\n", mean(r.ttft), msv(r.ttft, 50), msv(r.ttft, 99));
    fmt::print("| ITL | {:.1f} | {:.1f} | {:.1f} |\n", mean(r.itl), msv(r.itl, 50), msv(r.itl, 99));
    fmt::print("| TPOT | {:.1f} | {:.1f} | {:.1f} |\n", mean(r.tpot), msv(r.tpot, 50), msv(r.tpot, 99));
    fmt::print("| E2E | {:.1f} | {:.1f} | {:.1f} |\n", mean(r.e2e), msv(r.e2e, 50), msv(r.e2e, 99));
    return r.failed == 0 ? 0 : 1;
  };
}

}  // namespace pagoda::cli
