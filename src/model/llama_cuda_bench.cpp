// `pagoda bench --device cuda`: measures the device's own ceilings (device-to-device copy
// bandwidth, a large bf16 GEMM), then the model against them: decode tokens/s and the fraction of
// the bandwidth roofline ((weights + KV read) bytes per step / step time vs copy bandwidth),
// prefill tokens/s and MFU, batched decode, start-up time, and the GEMM chooser's evidence.
#include "model/model_cuda.hpp"

#ifdef PAGODA_HAVE_CUDA

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <random>

#include "backend/cuda/gemm/gemm.hpp"
#include "backend/cuda/ops/cuda_check.hpp"
#include "backend/cuda/ops/ops.hpp"
#include "core/error.hpp"
#include "io/model_source.hpp"
#include "model/llama_cuda_buffers.hpp"

namespace pagoda {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median milliseconds of `fn` over reps, timed with events after warm-up.
template <typename F>
double time_ms(cudaStream_t st, int warmup, int reps, F&& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  cudaEvent_t a, b;
  PAGODA_CUDA_CHECK(cudaEventCreate(&a));
  PAGODA_CUDA_CHECK(cudaEventCreate(&b));
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    PAGODA_CUDA_CHECK(cudaEventRecord(a, st));
    fn();
    PAGODA_CUDA_CHECK(cudaEventRecord(b, st));
    PAGODA_CUDA_CHECK(cudaEventSynchronize(b));
    float m = 0;
    PAGODA_CUDA_CHECK(cudaEventElapsedTime(&m, a, b));
    ms.push_back(m);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return median(ms);
}

struct Peaks {
  double copy_gbs = 0, gemm_tflops = 0;
};

Peaks measure_peaks(cudaStream_t st) {
  Peaks p;
  const size_t bytes = size_t(2) << 30;
  {
    cuda::DeviceBuffer a(bytes), b(bytes);
    cuda::random_normal_fill(a.get(), DType::DTYPE_F32, int64_t(bytes / 4), 1, 0, 1, st);
    const double ms = time_ms(st, 3, 10, [&] {
      PAGODA_CUDA_CHECK(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, st));
    });
    p.copy_gbs = 2.0 * double(bytes) / (ms / 1e3) / 1e9;  // bytes read + bytes written
  }
  {
    const int64_t n = 8192;
    cuda::DeviceBuffer x(size_t(n * n) * 2), w(size_t(n * n) * 2), y(size_t(n * n) * 2);
    cuda::random_normal_fill(x.get(), DType::DTYPE_BF16, n * n, 2, 0, 1, st);
    cuda::random_normal_fill(w.get(), DType::DTYPE_BF16, n * n, 3, 0, 1, st);
    cuda::Gemm g;
    const double ms = time_ms(st, 3, 10, [&] {
      g.run(x.get(), w.get(), y.get(), n, n, n, DType::DTYPE_BF16, DType::DTYPE_BF16, st,
            cuda::GemmAlgo::GEMM_ALGO_CUBLASLT);
    });
    p.gemm_tflops = 2.0 * double(n) * double(n) * double(n) / (ms / 1e3) / 1e12;
  }
  return p;
}

void gemm_sweep(const ModelConfig& c, double copy_gbs, cudaStream_t st) {
  const int64_t h = c.hidden_size, qkv = (c.num_heads + 2 * c.num_kv_heads) * c.head_dim;
  struct S {
    const char* name;
    int64_t N, K;
  };
  const std::vector<S> shapes = {{"qkv", qkv, h}, {"o", h, c.num_heads * c.head_dim},
                                 {"gate|up", 2 * c.intermediate_size, h}, {"down", h, c.intermediate_size}};
  cuda::Gemm g;
  fmt::print("\n### GEMM: cuBLASLt vs GEMV (bf16, microseconds; GB/s of weight+activation bytes)\n\n"
             "GEMV ks=S: S warps per output column over slices of K; default = gemv_default_ksplit.\n\n");
  fmt::print("| shape (N x K) | M | cuBLASLt us | GEMV ks=1 | ks=2 | ks=4 | ks=8 | default ks | GEMV default GB/s | "
             "chosen (gemm_choose) us |\n"
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (const S& s : shapes) {
    // Several weight copies rotate so the weights come from HBM, not L2.
    const int copies = 4;
    std::vector<cuda::DeviceBuffer> ws;
    for (int i = 0; i < copies; ++i) {
      ws.emplace_back(size_t(s.N * s.K) * 2);
      cuda::random_normal_fill(ws.back().get(), DType::DTYPE_BF16, s.N * s.K, 10 + i, 0, 0.02f, st);
    }
    cuda::DeviceBuffer x(size_t(16 * s.K) * 2), y(size_t(16 * s.N) * 2);
    cuda::random_normal_fill(x.get(), DType::DTYPE_BF16, 16 * s.K, 5, 0, 1, st);
    for (int64_t M : {1, 2, 4, 8, 16}) {
      int k = 0;
      const auto rotate = [&] { return ws[size_t(k++ % copies)].get(); };
      const double lt = time_ms(st, 5, 40, [&] {
                          g.run(x.get(), rotate(), y.get(), M, s.N, s.K, DType::DTYPE_BF16, DType::DTYPE_BF16, st,
                                cuda::GemmAlgo::GEMM_ALGO_CUBLASLT);
                        }) * 1e3;
      double gv[4];
      for (int i = 0; i < 4; ++i)
        gv[i] = time_ms(st, 5, 40, [&] {
                  cuda::gemv(x.get(), rotate(), y.get(), M, s.N, s.K, DType::DTYPE_BF16, DType::DTYPE_BF16, st, 1 << i);
                }) * 1e3;
      const double chosen = time_ms(st, 5, 40, [&] {
                              g.run(x.get(), rotate(), y.get(), M, s.N, s.K, DType::DTYPE_BF16, DType::DTYPE_BF16, st);
                            }) * 1e3;
      const int dks = cuda::gemv_default_ksplit(s.N, s.K);
      const double dflt = gv[std::countr_zero(static_cast<unsigned>(dks))];  // gv[i] ran split 1 << i
      const double bytes = double(s.N * s.K + M * s.K + M * s.N) * 2;
      const bool gemv_chosen = cuda::gemm_choose(M, s.N, s.K, DType::DTYPE_BF16) != cuda::GemmAlgo::GEMM_ALGO_CUBLASLT;
      const auto gbs = [&](double us) { return bytes / (us / 1e6) / 1e9; };
      fmt::print("| {} {}x{} | {} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {} | {:.0f} ({:.0f}%) | {:.1f} ({}) |\n",
                 s.name, s.N, s.K, M, lt, gv[0], gv[1], gv[2], gv[3], dks, gbs(dflt), 100 * gbs(dflt) / copy_gbs, chosen,
                 gemv_chosen ? "GEMV" : "cuBLASLt");
    }
  }
}

// A decode step for B sequences, each at context ctx (pages laid out sequence after sequence).
ForwardBatch decode_batch(int32_t B, int64_t ctx, int32_t P, const std::vector<int32_t>& tokens) {
  ForwardBatch b;
  const int32_t pages = static_cast<int32_t>((ctx + 1 + P - 1) / P);
  b.max_pages_per_seq = pages;
  b.cu_seqlens_q.push_back(0);
  for (int32_t s = 0; s < B; ++s) {
    b.tokens.push_back(tokens[size_t(s) % tokens.size()]);
    b.positions.push_back(static_cast<int32_t>(ctx));
    b.slot_mapping.push_back(int64_t(s) * pages * P + ctx);
    b.cu_seqlens_q.push_back(s + 1);
    b.kv_lens.push_back(static_cast<int32_t>(ctx + 1));
    for (int32_t p = 0; p < pages; ++p) b.block_table.push_back(s * pages + p);
    b.logit_rows.push_back(s);
  }
  return b;
}

}  // namespace

int model_cuda_bench(const CudaBenchOptions& o) {
  PAGODA_CHECK(cuda_available(), "no CUDA device");
  PAGODA_CHECK(o.random_weights ? !o.config_path.empty() : !o.model_path.empty(),
               "bench --device cuda needs --config CONFIG.json --random-weights, or --model");
  cudaDeviceProp prop{};
  PAGODA_CUDA_CHECK(cudaGetDeviceProperties(&prop, o.gpu.device));
  cudaStream_t st;
  const double t_ctx0 = now_s();
  PAGODA_CUDA_CHECK(cudaSetDevice(o.gpu.device));
  PAGODA_CUDA_CHECK(cudaStreamCreate(&st));
  const double t_ctx = now_s() - t_ctx0;
  const Peaks peaks = measure_peaks(st);
  fmt::print("## {} ({} SMs, {:.0f} GiB): copy {:.0f} GB/s (read+write), bf16 GEMM 8192^3 {:.0f} TFLOP/s\n\n", prop.name,
             prop.multiProcessorCount, double(prop.totalGlobalMem) / (1 << 30), peaks.copy_gbs, peaks.gemm_tflops);

  KvCacheOptions kv;
  kv.page_size = o.page_size;
  kv.max_tokens = 0;  // all the memory the fraction allows
  const double t0 = now_s();
  std::unique_ptr<ModelCuda> m;
  if (o.random_weights) m = model_cuda_create_random(model_config_from_hf_json(o.config_path), kv, o.gpu);
  else m = model_cuda_create(ModelSource::open(o.model_path), kv, o.gpu);
  m->synchronize();
  const double startup = now_s() - t0;
  const ModelConfig& c = m->config();
  fmt::print("model: {}\nweights {:.2f} GiB, KV {:.2f} GiB ({} tokens), start-up {:.2f} s (CUDA context {:.2f} s before)\n",
             m->describe(), double(m->weight_bytes()) / (1 << 30), double(m->kv_cache_bytes()) / (1 << 30),
             m->num_pages() * m->page_size(), startup, t_ctx);
  if (o.gemm_sweep) gemm_sweep(c, peaks.copy_gbs, st);

  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(c.vocab_size - 1));
  std::vector<int32_t> toks(4096);
  for (auto& t : toks) t = pick(rng);
  m->kv_fill_random(99);
  const int32_t P = m->page_size();
  const int64_t capacity = m->num_pages() * P;

  auto decode_run = [&](int32_t B, int64_t ctx, int64_t steps) {
    ForwardBatch b = decode_batch(B, ctx, P, toks);
    std::vector<int32_t> ids(static_cast<size_t>(B));
    for (int i = 0; i < 3; ++i) m->forward_greedy(b, ids.data());  // warm-up (captures the graph)
    const double t = now_s();
    for (int64_t i = 0; i < steps; ++i) {
      m->forward_greedy(b, ids.data());
      for (int32_t s = 0; s < B; ++s) b.tokens[size_t(s)] = ids[size_t(s)];
    }
    return (now_s() - t) / double(steps);
  };

  fmt::print("\n### Decode, batch 1 (CUDA graphs, greedy sampling on device)\n\n");
  fmt::print("| context | tokens/s | ms/step | bytes/step (weights + KV) | roofline ms | fraction of roofline |\n"
             "| ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (int64_t ctx : o.decode_contexts) {
    if (ctx + 1 > capacity) {
      fmt::print("| {} | skipped: KV capacity {} tokens | | | | |\n", ctx, capacity);
      continue;
    }
    const double s = decode_run(1, ctx, o.decode_steps);
    const double bytes = double(m->weight_bytes()) + double(m->kv_bytes_per_token()) * double(ctx + 1);
    const double roof = bytes / (peaks.copy_gbs * 1e9);
    fmt::print("| {} | {:.1f} | {:.3f} | {:.2f} GB | {:.3f} | {:.1f}% |\n", ctx, 1.0 / s, s * 1e3, bytes / 1e9, roof * 1e3,
               100 * roof / s);
  }

  fmt::print("\n### Decode, batched (context {} per sequence)\n\n| batch | tokens/s | ms/step | fraction of roofline |\n"
             "| ---: | ---: | ---: | ---: |\n", o.batch_context);
  for (int64_t B : o.decode_batches) {
    if (B * (o.batch_context + P) > capacity) {
      fmt::print("| {} | skipped: KV capacity {} tokens | | |\n", B, capacity);
      continue;
    }
    const double s = decode_run(static_cast<int32_t>(B), o.batch_context, std::max<int64_t>(8, o.decode_steps / 2));
    const double bytes = double(m->weight_bytes()) + double(m->kv_bytes_per_token()) * double(B * (o.batch_context + 1));
    fmt::print("| {} | {:.0f} | {:.3f} | {:.1f}% |\n", B, double(B) / s, s * 1e3,
               100 * bytes / (peaks.copy_gbs * 1e9) / s);
  }

  fmt::print("\n### Prefill (one sequence from an empty cache; logits for the last token)\n\n"
             "| tokens | tokens/s | ms | TFLOP/s | MFU vs {:.0f} TFLOP/s |\n| ---: | ---: | ---: | ---: | ---: |\n",
             peaks.gemm_tflops);
  const double H = double(c.num_heads), D = double(c.head_dim);
  const double matmul_params = double(c.num_layers) *
                               (double(c.hidden_size) * double((c.num_heads + 2 * c.num_kv_heads) * c.head_dim) +
                                double(c.num_heads * c.head_dim) * double(c.hidden_size) +
                                3.0 * double(c.hidden_size) * double(c.intermediate_size));
  auto prefill_batch = [&](int64_t T) {
    ForwardBatch b;
    const int32_t pages = static_cast<int32_t>((T + P - 1) / P);
    b.max_pages_per_seq = pages;
    b.cu_seqlens_q = {0, static_cast<int32_t>(T)};
    b.kv_lens = {static_cast<int32_t>(T)};
    for (int32_t p = 0; p < pages; ++p) b.block_table.push_back(p);
    for (int64_t t = 0; t < T; ++t) {
      b.tokens.push_back(toks[size_t(t) % toks.size()]);
      b.positions.push_back(static_cast<int32_t>(t));
      b.slot_mapping.push_back(t);
    }
    b.logit_rows = {static_cast<int32_t>(T - 1)};
    return b;
  };
  for (int64_t T : o.prefill_lengths) {
    if (T > capacity) {
      fmt::print("| {} | skipped: KV capacity {} tokens | | | |\n", T, capacity);
      continue;
    }
    ForwardBatch b = prefill_batch(T);
    int32_t id = 0;
    m->forward_greedy(b, &id);
    std::vector<double> ts;
    for (int r = 0; r < 3; ++r) {
      const double t = now_s();
      m->forward_greedy(b, &id);
      ts.push_back(now_s() - t);
    }
    const double s = median(ts);
    const double flops = 2.0 * matmul_params * double(T) + 2.0 * double(c.hidden_size) * double(c.vocab_size) +
                         double(c.num_layers) * 4.0 * H * D * double(T) * double(T + 1) / 2.0;
    fmt::print("| {} | {:.0f} | {:.1f} | {:.0f} | {:.1f}% |\n", T, double(T) / s, s * 1e3, flops / s / 1e12,
               100 * flops / s / 1e12 / peaks.gemm_tflops);
  }

  if (o.profile) {
    for (int64_t ctx : {int64_t(4096)}) {
      if (ctx + 1 > capacity) break;
      m->profile_enable(true);
      ForwardBatch b = decode_batch(1, ctx, P, toks);
      int32_t id = 0;
      for (int i = 0; i < 20; ++i) m->forward_greedy(b, &id);
      fmt::print("\n### Profile: decode batch 1, context {} (eager, CUDA events per op family)\n\n{}", ctx,
                 m->profile_report(peaks.copy_gbs, peaks.gemm_tflops));
      // The largest batch of the run's batch list (32 when the list is empty).
      const int32_t PB = o.decode_batches.empty()
                             ? 32
                             : static_cast<int32_t>(*std::max_element(o.decode_batches.begin(), o.decode_batches.end()));
      m->profile_enable(true);
      b = decode_batch(PB, o.batch_context, P, toks);
      std::vector<int32_t> ids(static_cast<size_t>(PB));
      if (PB * (o.batch_context + P) <= capacity) {
        for (int i = 0; i < 10; ++i) m->forward_greedy(b, ids.data());
        fmt::print("\n### Profile: decode batch {}, context {}\n\n{}", PB, o.batch_context,
                   m->profile_report(peaks.copy_gbs, peaks.gemm_tflops));
      }
      m->profile_enable(true);
      b = prefill_batch(4096);
      for (int i = 0; i < 3; ++i) m->forward_greedy(b, &id);
      fmt::print("\n### Profile: prefill 4096 tokens\n\n{}", m->profile_report(peaks.copy_gbs, peaks.gemm_tflops));
      m->profile_enable(false);
    }
  }
  cudaStreamDestroy(st);
  return 0;
}

}  // namespace pagoda

#else

#include "core/error.hpp"

namespace pagoda {
int model_cuda_bench(const CudaBenchOptions&) {
  fail("bench --device cuda: this build has no CUDA backend (configure with -DPAGODA_CUDA=ON)");
}
}  // namespace pagoda

#endif
