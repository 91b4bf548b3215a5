// CPU matmul throughput at the SmolLM2-135M shapes: GEMV (T = 1, decode) and GEMM (prefill).
// Counters: weight GB/s (weight bytes streamed per call / time) and GFLOP/s (2 N K T / time).
// Random weights: speed does not depend on values. Usage:
//   bench_cpu_kernels [--threads=N] [--isa=scalar|avx2|avx512] [google-benchmark flags]
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/kernels.hpp"
#include "backend/cpu/ops.hpp"
#include "core/threads.hpp"

namespace {

using namespace pagoda;

const cpu::CpuKernels* g_kernels = nullptr;

std::vector<uint8_t> random_weights(DType t, int64_t n, int64_t k) {
  const auto& info = dtype_info(t);
  const uint64_t bytes = *dtype_row_bytes(t, k) * n;
  std::vector<uint8_t> v(bytes);
  std::mt19937 rng(1);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  if (info.quantized) {  // finite fp16 scales at the start of every block (Q8_0, Q4_0: d; Q4_1: d, m)
    const uint16_t h = f32_to_f16(0.01f);
    for (uint64_t i = 0; i < bytes; i += info.block_bytes) {
      std::memcpy(&v[i], &h, 2);
      if (t == DType::DTYPE_Q4_1) std::memcpy(&v[i + 2], &h, 2);
    }
  } else if (t == DType::DTYPE_F32) {
    for (uint64_t i = 0; i < bytes; i += 4) {
      const float f = static_cast<float>(rng() % 1000) * 1e-3f;
      std::memcpy(&v[i], &f, 4);
    }
  }
  return v;
}

void bm_matmul(benchmark::State& state, DType t, int64_t n, int64_t k) {
  const int64_t T = state.range(0);
  const auto w = random_weights(t, n, k);
  const cpu::WeightView view{t, n, k, w.data(), *dtype_row_bytes(t, k)};
  std::vector<float> x(T * k), y(T * n);
  std::mt19937 rng(2);
  for (auto& f : x) f = static_cast<float>(rng() % 2001) * 1e-3f - 1.0f;
  for (auto _ : state) {
    cpu::matmul_with(*g_kernels, view, x.data(), T, y.data(), nullptr);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["weight_GB/s"] =
      benchmark::Counter(static_cast<double>(w.size()) * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * k * T * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void register_all() {
  struct Shape {
    const char* name;
    DType t;
    int64_t n, k;
  };
  const Shape shapes[] = {
      {"q_o_576x576_Q4_1", DType::DTYPE_Q4_1, 576, 576},
      {"kv_192x576_Q4_1", DType::DTYPE_Q4_1, 192, 576},
      {"gate_up_1536x576_Q4_1", DType::DTYPE_Q4_1, 1536, 576},
      {"down_576x1536_Q4_1", DType::DTYPE_Q4_1, 576, 1536},
      {"lm_head_49152x576_Q8_0", DType::DTYPE_Q8_0, 49152, 576},
      {"q_o_576x576_Q8_0", DType::DTYPE_Q8_0, 576, 576},
      {"q_o_576x576_Q4_0", DType::DTYPE_Q4_0, 576, 576},
      {"q_o_576x576_F16", DType::DTYPE_F16, 576, 576},
      {"q_o_576x576_BF16", DType::DTYPE_BF16, 576, 576},
      {"q_o_576x576_F32", DType::DTYPE_F32, 576, 576},
  };
  for (const Shape& s : shapes)
    benchmark::RegisterBenchmark(s.name, [s](benchmark::State& st) { bm_matmul(st, s.t, s.n, s.k); })
        ->Arg(1)
        ->Arg(128)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  cpu::CpuIsa isa = cpu::CpuIsa::CPU_ISA_AVX512;
  if (!cpu::cpu_isa_available(isa)) isa = cpu::CpuIsa::CPU_ISA_AVX2;
  if (!cpu::cpu_isa_available(isa)) isa = cpu::CpuIsa::CPU_ISA_SCALAR;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--threads=", 0) == 0) {
      threads = std::stoi(a.substr(10));
    } else if (a.rfind("--isa=", 0) == 0) {
      for (auto c : {cpu::CpuIsa::CPU_ISA_SCALAR, cpu::CpuIsa::CPU_ISA_AVX2, cpu::CpuIsa::CPU_ISA_AVX512})
        if (a.substr(6) == cpu::cpu_isa_name(c)) isa = c;
    } else {
      rest.push_back(argv[i]);
    }
  }
  threads_set(threads);
  g_kernels = &cpu::kernels_for(isa);
  benchmark::AddCustomContext("isa", cpu::cpu_isa_name(isa));
  benchmark::AddCustomContext("threads", std::to_string(threads));
  int rc = static_cast<int>(rest.size());
  benchmark::Initialize(&rc, rest.data());
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
