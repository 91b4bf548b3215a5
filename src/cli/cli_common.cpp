#include "cli/cli_common.hpp"

#include "core/error.hpp"
#include "core/threads.hpp"

namespace pagoda::cli {

void add_model_options(CLI::App& app, ModelOptions& o) {
  app.add_option("-m,--model", o.model, "GGUF file or Hugging Face folder (default: SmolLM2-135M-Instruct Q4_1)");
  app.add_option("-t,--threads", o.threads, "CPU threads (default: all cores)")->check(CLI::Range(0, 1024));
  app.add_option("-c,--ctx", o.ctx, "context size in tokens (KV cache capacity)")->check(CLI::Range(int64_t{1}, int64_t{1} << 22));
  app.add_option("--page-size", o.page_size, "KV cache page size in tokens")->check(CLI::Range(1, 4096));
  app.add_option("--kv-dtype", o.kv_dtype, "KV cache element type")->check(CLI::IsMember({"f32", "f16", "bf16"}));
  app.add_option("--device", o.device, "cpu (cuda when built with the CUDA backend)");
  app.add_option("--dtype", o.dtype, "GPU weight/activation type")->check(CLI::IsMember({"bfloat16", "float16", "float32"}));
  app.add_option("--gpu-memory-fraction", o.gpu_memory_fraction, "GPU: share of free memory for the KV cache")
      ->check(CLI::Range(0.01, 1.0));
}

LoadedModel load_from_options(const ModelOptions& o) {
  threads_set(o.threads);
  std::string path = o.model.empty() ? default_model_ensure(true) : o.model;
  LoadOptions lo;
  lo.device = o.device;
  lo.kv.page_size = o.page_size;
  lo.kv.max_tokens = o.ctx;
  lo.kv.dtype = o.kv_dtype;
  lo.gpu.dtype = o.dtype;
  lo.gpu.memory_fraction = o.gpu_memory_fraction;
  LoadedModel lm = load_model(path, lo);
  const int64_t trained = lm.model->config().max_position_embeddings;
  if (trained > 0 && o.ctx > trained)
    fmt::print(stderr, "warning: context {} exceeds the model's trained length {}\n", o.ctx, trained);
  return lm;
}

void add_sampling_options(CLI::App& app, SamplingOptions& o) {
  SamplingParams& s = o.gen.sampling;
  app.add_option("-n,--max-tokens", o.gen.max_tokens, "tokens to generate")->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  app.add_option("--temp,--temperature", s.temperature, "sampling temperature (0 = greedy)");
  app.add_option("--top-k", s.top_k, "top-k (0 = off)");
  app.add_option("--top-p", s.top_p, "top-p nucleus (1 = off)");
  app.add_option("--min-p", s.min_p, "min-p relative to the top token (0 = off)");
  app.add_option("--repeat-penalty", s.repetition_penalty, "repetition penalty (1 = off)");
  app.add_option("--repeat-last-n", s.penalty_last_n, "window of the repetition penalty");
  app.add_option("--presence-penalty", s.presence_penalty, "presence penalty");
  app.add_option("--frequency-penalty", s.frequency_penalty, "frequency penalty");
  app.add_option("-s,--seed", o.seed, "random seed (-1 = random)");
  app.add_option("--stop", o.gen.stop, "stop string (repeatable)");
  app.add_flag("--ignore-eos", o.gen.ignore_eos, "keep generating past end-of-generation tokens");
}

GenerationParams generation_params(const SamplingOptions& o) {
  GenerationParams g = o.gen;
  if (o.seed >= 0) {
    g.sampling.seed = static_cast<uint64_t>(o.seed);
    g.sampling.has_seed = true;
  }
  g.sampling.validate();
  return g;
}

}  // namespace pagoda::cli
