// `pagoda bench`: prompt-processing (ppN) and generation (tgN) speed in llama-bench style:
// ppN evaluates N prompt tokens in one batch from an empty cache; tgN decodes N tokens one at a
// time from an empty cache. Each test runs once to warm up, then -r times; mean ± sd of tokens/s.
#include <cmath>
#include <numeric>
#include <random>

#include "cli/cli_common.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/threads.hpp"

namespace pagoda::cli {

namespace {

struct BenchOptions {
  ModelOptions model;
  int64_t n_prompt = 512;
  int64_t n_gen = 128;
  int reps = 5;
  std::string config;  // --device cuda: HF config.json for --random-weights
  bool random_weights = false;
  bool profile = false;
};

std::pair<double, double> mean_sd(const std::vector<double>& v) {
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double var = 0;
  for (double x : v) var += (x - mean) * (x - mean);
  return {mean, v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0};
}

}  // namespace

Runner register_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto* sub = app.add_subcommand("bench", "prompt and generation speed (llama-bench style pp/tg tests)");
  add_model_options(*sub, o->model);
  sub->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens for the pp test (0 = skip)")->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  sub->add_option("-n,--n-gen", o->n_gen, "generated tokens for the tg test (0 = skip)")->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  sub->add_option("-r,--repetitions", o->reps, "repetitions")->check(CLI::Range(1, 1000));
  sub->add_option("--config", o->config, "--device cuda: HF config.json of the shape to benchmark");
  sub->add_flag("--random-weights", o->random_weights, "--device cuda: random weights generated on the GPU");
  sub->add_flag("--profile", o->profile, "--device cuda: time per op family with CUDA events");
  Runner serve = register_bench_serve(*sub);
  return [o, sub, serve] {
    if (sub->got_subcommand("serve")) return serve();
    if (o->model.device == "cuda") {  // the GPU suite: peaks, roofline fractions, prefill MFU (model_cuda.hpp)
      CudaBenchOptions co;
      co.config_path = o->config;
      co.random_weights = o->random_weights;
      co.model_path = o->model.model;
      co.gpu.dtype = o->model.dtype;
      co.gpu.memory_fraction = o->model.gpu_memory_fraction;
      co.gpu.max_batch_tokens = 16384;
      co.page_size = o->model.page_size;
      co.profile = o->profile;
      return model_cuda_bench(co);
    }
    ModelOptions mo = o->model;
    mo.ctx = std::max<int64_t>(mo.ctx, std::max(o->n_prompt, o->n_gen) + 1);
    LoadedModel lm = load_from_options(mo);
    const ModelConfig& c = lm.model->config();
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(c.vocab_size - 1));
    Session session(*lm.model, std::max<int64_t>(o->n_prompt, 1));

    uint64_t params = 0;
    for (const auto& [name, t] : lm.source->tensors()) params += static_cast<uint64_t>(t->numel());
    fmt::print("| model | size | params | backend | threads | test | t/s |\n");
    fmt::print("| --- | ---: | ---: | --- | ---: | ---: | ---: |\n");
    auto row = [&](const std::string& test, const std::vector<double>& tps) {
      auto [mean, sd] = mean_sd(tps);
      fmt::print("| {} {} | {:.2f} MiB | {:.2f} M | {} | {} | {} | {:.2f} ± {:.2f} |\n", c.architecture, c.name.empty() ? "" : c.name,
                 static_cast<double>(lm.source->total_bytes()) / (1 << 20), static_cast<double>(params) / 1e6,
                 o->model.device, threads_get(), test, mean, sd);
      std::fflush(stdout);
    };
    if (o->n_prompt > 0) {
      std::vector<int32_t> prompt(static_cast<size_t>(o->n_prompt));
      std::vector<double> tps;
      for (int r = 0; r <= o->reps; ++r) {
        for (auto& t : prompt) t = pick(rng);
        session.reset();
        const double t0 = seconds_now();
        session.eval(prompt);
        const double dt = seconds_now() - t0;
        if (r > 0) tps.push_back(static_cast<double>(o->n_prompt) / dt);  // r == 0 warms up
      }
      row(fmt::format("pp{}", o->n_prompt), tps);
    }
    if (o->n_gen > 0) {
      std::vector<double> tps;
      for (int r = 0; r <= o->reps; ++r) {
        session.reset();
        const double t0 = seconds_now();
        for (int64_t i = 0; i < o->n_gen; ++i) {
          const int32_t tok = pick(rng);
          session.eval(std::span<const int32_t>(&tok, 1));
        }
        const double dt = seconds_now() - t0;
        if (r > 0) tps.push_back(static_cast<double>(o->n_gen) / dt);
      }
      row(fmt::format("tg{}", o->n_gen), tps);
    }
    return 0;
  };
}

}  // namespace pagoda::cli
