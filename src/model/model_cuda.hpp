// The Llama-family model on an NVIDIA GPU: factory functions and the GPU-only extensions of the
// Model interface (sampling on the device, per-op profiling, random KV fill for benches).
// Plain C++ (no CUDA headers), so the runtime and CLI include it whether or not CUDA is built; the
// factories throw a clear pagoda::Error in a build without the CUDA backend.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/model_config.hpp"
#include "model/model.hpp"

namespace pagoda {

class ModelSource;

struct GpuOptions {
  std::string dtype = "bfloat16";  // weights and activations: bfloat16 | float16 | float32
  // KV cache: kv.max_tokens tokens when > 0, shrunk (with a warning) to what fits in this
  // fraction of the memory free after weights and workspaces; kv.max_tokens == 0 takes it all.
  double memory_fraction = 0.9;
  int64_t max_batch_tokens = 8192;  // tokens per internal step (larger batches run in chunks)
  int64_t max_logit_rows = 256;     // LM-head rows per launch (more rows run in pieces)
  bool cuda_graphs = true;          // capture decode steps per batch-size bucket
  uint64_t seed = 1;                // random weights
  int device = 0;
};

class ModelCuda : public Model {
 public:
  // Same step as forward(), but samples greedily on the device: ids [logit_rows] is all that
  // crosses to the host.
  virtual void forward_greedy(const ForwardBatch& batch, int32_t* ids) = 0;
  bool try_forward_greedy(const ForwardBatch& batch, int32_t* ids) override {
    forward_greedy(batch, ids);
    return true;
  }
  // Same step, sampling every row on the device with its parameters (backend/cuda/ops/sampling.hpp).
  virtual void forward_sample(const ForwardBatch& batch, const DeviceSampling& sampling, int32_t* ids) = 0;
  bool try_forward_sample(const ForwardBatch& batch, const DeviceSampling& sampling, int32_t* ids) override {
    forward_sample(batch, sampling, ids);
    return true;
  }
  // Per-op-family CUDA-event timing (disables graphs while on); report() sums since the last reset.
  virtual void profile_enable(bool on) = 0;
  virtual std::string profile_report(double peak_bandwidth_gbs, double peak_tflops) = 0;
  // Fills every KV page with N(0, 1) values (benchmarks that decode at a long context).
  virtual void kv_fill_random(uint64_t seed) = 0;
  virtual uint64_t weight_bytes() const = 0;
  virtual uint64_t kv_bytes_per_token() const = 0;
  virtual void synchronize() = 0;
};

bool cuda_available();  // a CUDA build and at least one device
std::unique_ptr<ModelCuda> model_cuda_create(std::shared_ptr<const ModelSource> source, const KvCacheOptions& kv,
                                             const GpuOptions& gpu);
// Random N(0, 0.02) weights (norms 1) generated on the device from gpu.seed: real shapes, no file.
std::unique_ptr<ModelCuda> model_cuda_create_random(const ModelConfig& config, const KvCacheOptions& kv,
                                                    const GpuOptions& gpu);

// `pagoda bench --device cuda`: device peaks, GEMM sweep (cuBLASLt vs GEMV), start-up, decode at
// several contexts and batch sizes (vs the bandwidth roofline), prefill tokens/s and MFU.
struct CudaBenchOptions {
  std::string config_path;  // HF config.json (with random_weights)
  std::string model_path;   // or a model on disk
  bool random_weights = false;
  GpuOptions gpu;
  int32_t page_size = 16;
  bool profile = false;
  bool gemm_sweep = true;
  std::vector<int64_t> decode_contexts = {128, 4096, 32768};
  std::vector<int64_t> prefill_lengths = {1024, 4096, 16384};
  std::vector<int64_t> decode_batches = {8, 32, 128};
  int64_t batch_context = 1024;
  int64_t decode_steps = 64;
};
int model_cuda_bench(const CudaBenchOptions& options);  // prints markdown tables; returns 0

}  // namespace pagoda
