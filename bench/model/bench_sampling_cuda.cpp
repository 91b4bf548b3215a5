// Sampling time per step at V = 128256 for R = 1, 32, 256 rows: the device sampler
// (cuda::sample_rows, CUDA events, median of many launches) against the host path the engine takes
// without it (copy [R, V] fp32 to pageable host memory + Sampler::sample per row on one thread).
// Usage: bench_sampling_cuda [V]   (prints a markdown table)
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/ops/cuda_check.hpp"
#include "backend/cuda/ops/ops.hpp"
#include "backend/cuda/ops/sampling.hpp"
#include "model/llama_cuda_buffers.hpp"
#include "runtime/sampler.hpp"

using namespace pagoda;

namespace {

struct Config {
  const char* name;
  SamplingParams p;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t V = argc > 1 ? std::stoll(argv[1]) : 128256;
  cudaDeviceProp prop{};
  PAGODA_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  fmt::print("device: {}, V = {}\n\n", prop.name, V);
  std::vector<Config> configs;
  {
    SamplingParams g;
    g.temperature = 0;
    g.top_k = 0, g.top_p = 1, g.min_p = 0;
    configs.push_back({"greedy", g});
    SamplingParams d;  // the defaults: T 0.8, top-k 40, top-p 0.95, min-p 0.05
    d.repetition_penalty = 1.1f;
    configs.push_back({"T0.8 k40 p0.95 minp0.05 rep1.1", d});
    SamplingParams p;
    p.temperature = 1.0f, p.top_k = 0, p.top_p = 0.9f, p.min_p = 0;
    configs.push_back({"T1 top-p 0.9", p});
    SamplingParams t;
    t.temperature = 1.0f, t.top_k = 0, t.top_p = 1, t.min_p = 0;
    configs.push_back({"T1 only (full support)", t});
  }
  cudaStream_t stream;
  PAGODA_CUDA_CHECK(cudaStreamCreate(&stream));
  cudaEvent_t e0, e1;
  PAGODA_CUDA_CHECK(cudaEventCreate(&e0));
  PAGODA_CUDA_CHECK(cudaEventCreate(&e1));
  std::mt19937 rng(1);
  std::vector<int32_t> history(64);
  for (auto& t : history) t = std::uniform_int_distribution<int32_t>(0, int32_t(V - 1))(rng);

  fmt::print("| config | R | device us | host us (copy + sample) | host copy us | speed-up |\n");
  fmt::print("| --- | ---: | ---: | ---: | ---: | ---: |\n");
  for (int64_t R : {1, 32, 256}) {
    cuda::DeviceBuffer logits(size_t(R * V) * 4), ids(size_t(R) * 4);
    // Logits like a model's: N(0, 2) (a real LM head is more peaked; the device cost does not
    // depend much on it, the host's full-sort path for no top-k does).
    cuda::random_normal_fill(logits.get(), DType::DTYPE_F32, R * V, 7, 0.0f, 2.0f, stream);
    std::vector<float> host(static_cast<size_t>(R * V));
    for (const Config& c : configs) {
      std::vector<cuda::SampleRowParams> rows(static_cast<size_t>(R));
      std::vector<cuda::SamplePenalty> pens;
      for (int64_t r = 0; r < R; ++r) {
        auto& d = rows[size_t(r)];
        d.inv_temperature = c.p.temperature > 0 ? 1.0f / c.p.temperature : 0.0f;
        d.top_k = c.p.top_k, d.top_p = c.p.top_p, d.min_p = c.p.min_p, d.repetition_penalty = c.p.repetition_penalty;
        d.seed = 42, d.position = uint64_t(r);
        d.penalty_begin = int32_t(pens.size());
        for (const PenaltyEntry& e : penalty_entries(c.p, history, 32, V))
          pens.push_back({e.token, e.repetition ? 1 : 0, e.subtract});
        d.penalty_end = int32_t(pens.size());
      }
      cuda::DeviceBuffer drows(rows.size() * sizeof(rows[0])), dpens(std::max<size_t>(pens.size(), 1) * sizeof(cuda::SamplePenalty));
      PAGODA_CUDA_CHECK(cudaMemcpy(drows.get(), rows.data(), rows.size() * sizeof(rows[0]), cudaMemcpyHostToDevice));
      if (!pens.empty())
        PAGODA_CUDA_CHECK(cudaMemcpy(dpens.get(), pens.data(), pens.size() * sizeof(pens[0]), cudaMemcpyHostToDevice));
      auto launch = [&] {
        cuda::sample_rows(static_cast<float*>(logits.get()), R, V, static_cast<cuda::SampleRowParams*>(drows.get()),
                          static_cast<cuda::SamplePenalty*>(dpens.get()), static_cast<int32_t*>(ids.get()), nullptr, stream);
      };
      for (int i = 0; i < 5; ++i) launch();
      std::vector<double> dev;
      for (int i = 0; i < 50; ++i) {
        PAGODA_CUDA_CHECK(cudaEventRecord(e0, stream));
        launch();
        PAGODA_CUDA_CHECK(cudaEventRecord(e1, stream));
        PAGODA_CUDA_CHECK(cudaEventSynchronize(e1));
        float ms = 0;
        PAGODA_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
        dev.push_back(ms * 1e3);
      }
      // Host path: what Engine::step does without the device sampler.
      std::vector<double> hst, cpy;
      const int reps = R >= 256 ? 3 : (R >= 32 ? 5 : 21);
      SamplingParams hp = c.p;
      hp.has_seed = true;
      Sampler sampler(hp);
      int32_t sink = 0;
      for (int i = 0; i < reps; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        PAGODA_CUDA_CHECK(cudaMemcpyAsync(host.data(), logits.get(), host.size() * 4, cudaMemcpyDeviceToHost, stream));
        PAGODA_CUDA_CHECK(cudaStreamSynchronize(stream));
        const auto t1 = std::chrono::steady_clock::now();
        for (int64_t r = 0; r < R; ++r)
          sink += sampler.sample(std::span<float>(host.data() + r * V, size_t(V)), history, 32);
        const auto t2 = std::chrono::steady_clock::now();
        hst.push_back(std::chrono::duration<double, std::micro>(t2 - t0).count());
        cpy.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
      const double d = median(dev), h = median(hst);
      fmt::print("| {} | {} | {:.1f} | {:.0f} | {:.0f} | {:.0f}x |\n", c.name, R, d, h, median(cpy), h / d);
      (void)sink;
    }
  }
  return 0;
}
