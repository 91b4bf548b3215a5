// Stand-alone driver of the CUDA model bench (the same suite as `pagoda bench --device cuda`), for
// runs where the full CLI is not built: bench_model_cuda CONFIG.json [--profile] [--dtype T], and lists
// that narrow a run to a few shapes (for a profiler): --contexts 128 --batches 512 --batch-context 192.
// --model DIR_OR_FILE loads real weights instead (start-up then includes reading them from disk).
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/model_cuda.hpp"

namespace {

// "a,b,c" -> {a, b, c} of positive integers.
std::vector<int64_t> parse_list(const char* s) {
  std::vector<int64_t> v;
  for (const char* p = s; *p;) {
    char* end = nullptr;
    const long long x = std::strtoll(p, &end, 10);
    if (end == p || x <= 0 || (*end && *end != ','))
      throw std::invalid_argument(std::string("bad list '") + s + "' (positive integers, comma-separated)");
    v.push_back(x);
    p = *end == ',' ? end + 1 : end;
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr,
               "usage: {} CONFIG.json [--profile] [--dtype bfloat16|float16|float32] [--no-gemm-sweep] [--decode-only]\n"
               "       [--model PATH] [--contexts N,..] [--batches N,..] [--batch-context N] [--prefill N,..]\n",
               argv[0]);
    return 2;
  }
  pagoda::CudaBenchOptions o;
  o.config_path = argv[1];
  o.random_weights = true;
  o.gpu.max_batch_tokens = 16384;
  try {
    for (int i = 2; i < argc; ++i) {
      const bool has_value = i + 1 < argc;
      if (!std::strcmp(argv[i], "--profile")) o.profile = true;
      else if (!std::strcmp(argv[i], "--dtype") && has_value) o.gpu.dtype = argv[++i];
      else if (!std::strcmp(argv[i], "--no-gemm-sweep")) o.gemm_sweep = false;
      else if (!std::strcmp(argv[i], "--decode-only")) o.prefill_lengths.clear(), o.decode_batches.clear();
      else if (!std::strcmp(argv[i], "--model") && has_value) o.model_path = argv[++i], o.random_weights = false;
      else if (!std::strcmp(argv[i], "--contexts") && has_value) o.decode_contexts = parse_list(argv[++i]);
      else if (!std::strcmp(argv[i], "--batches") && has_value) o.decode_batches = parse_list(argv[++i]);
      else if (!std::strcmp(argv[i], "--prefill") && has_value) o.prefill_lengths = parse_list(argv[++i]);
      else if (!std::strcmp(argv[i], "--batch-context") && has_value) o.batch_context = parse_list(argv[++i]).at(0);
      else {
        fmt::print(stderr, "unknown option {}\n", argv[i]);
        return 2;
      }
    }
    return pagoda::model_cuda_bench(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
