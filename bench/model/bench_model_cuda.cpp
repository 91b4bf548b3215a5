// Stand-alone driver of the CUDA model bench (the same suite as `pagoda bench --device cuda`), for
// runs where the full CLI is not built: bench_model_cuda CONFIG.json [--profile] [--dtype T].
#include <fmt/format.h>

#include <cstring>
#include <exception>
#include <string>

#include "model/model_cuda.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: {} CONFIG.json [--profile] [--dtype bfloat16|float16|float32] [--no-gemm-sweep] [--decode-only]\n", argv[0]);
    return 2;
  }
  pagoda::CudaBenchOptions o;
  o.config_path = argv[1];
  o.random_weights = true;
  o.gpu.max_batch_tokens = 16384;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--profile")) o.profile = true;
    else if (!std::strcmp(argv[i], "--dtype") && i + 1 < argc) o.gpu.dtype = argv[++i];
    else if (!std::strcmp(argv[i], "--no-gemm-sweep")) o.gemm_sweep = false;
    else if (!std::strcmp(argv[i], "--decode-only")) o.prefill_lengths.clear(), o.decode_batches.clear();
    else {
      fmt::print(stderr, "unknown option {}\n", argv[i]);
      return 2;
    }
  }
  try {
    return pagoda::model_cuda_bench(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
