// Llama-family forward on CUDA, mirroring llama_cpu.cpp: embedding -> per layer [residual add +
// RMSNorm] -> fused QKV GEMM -> bias + RoPE(Q, K) + KV append -> paged attention -> o-proj ->
// [residual add + RMSNorm] -> fused gate|up GEMM -> SiLU*mul -> down GEMM, then the final norm and
// LM head for the logit rows only. Decode steps are captured as CUDA graphs per (batch bucket, KV
// length bucket). The residual stream stays fp32; weights/activations are bf16, fp16 or fp32.
#include "model/model_cuda.hpp"

#ifdef PAGODA_HAVE_CUDA

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>

#include "backend/cuda/gemm/gemm.hpp"
#include "backend/cuda/ops/cuda_check.hpp"
#include "backend/cuda/ops/ops.hpp"
#include "backend/cuda/ops/sampling.hpp"
#include "backend/cpu/ops.hpp"
#include "core/error.hpp"
#include "io/model_source.hpp"
#include "model/llama_cuda_buffers.hpp"
#include "model/rope_freqs.hpp"
#ifdef PAGODA_HAVE_CUDA_ATTENTION
#include "backend/cuda/attention/attention.hpp"
#endif

namespace pagoda {

namespace {

using cuda::DeviceBuffer;

DType act_dtype_from_name(const std::string& name) {
  if (name == "bfloat16" || name == "bf16") return DType::DTYPE_BF16;
  if (name == "float16" || name == "f16" || name == "fp16") return DType::DTYPE_F16;
  if (name == "float32" || name == "f32" || name == "fp32") return DType::DTYPE_F32;
  fail("unknown GPU dtype '{}' (use bfloat16, float16 or float32)", name);
}

enum OpFamily : int {
  OP_EMBED, OP_NORM, OP_GEMM_QKV, OP_ROPE_APPEND, OP_ATTENTION, OP_GEMM_O, OP_GEMM_GATE_UP, OP_SILU_MUL,
  OP_GEMM_DOWN, OP_LM_HEAD, OP_SAMPLE, OP_COUNT
};
constexpr std::array<const char*, OP_COUNT> kOpNames = {"embedding", "add+rmsnorm", "gemm qkv", "bias+rope+kv append",
                                                        "attention", "gemm o", "gemm gate|up", "silu*mul",
                                                        "gemm down", "final norm + lm head", "sampling"};

struct LayerWeights {
  DeviceBuffer attn_norm, ffn_norm, w_qkv, b_qkv, w_o, w_gu, w_down;
};

// Device-side step metadata, packed so one H2D copy uploads it all.
struct StepMeta {
  int64_t* slots = nullptr;
  int32_t *tokens = nullptr, *positions = nullptr, *token_seq = nullptr, *cu = nullptr, *kv_lens = nullptr,
          *block_table = nullptr, *rows = nullptr;
};

struct MetaLayout {
  size_t slots, tokens, positions, token_seq, cu, kv_lens, block_table, rows, bytes;
  MetaLayout(int64_t T, int64_t B, int64_t maxp, int64_t R) {
    auto al = [](size_t n) { return (n + 15) / 16 * 16; };
    size_t o = 0;
    slots = o, o += al(sizeof(int64_t) * size_t(T));
    tokens = o, o += al(4 * size_t(T));
    positions = o, o += al(4 * size_t(T));
    token_seq = o, o += al(4 * size_t(T));
    cu = o, o += al(4 * size_t(B + 1));
    kv_lens = o, o += al(4 * size_t(B));
    block_table = o, o += al(4 * size_t(B * maxp));
    rows = o, o += al(4 * size_t(std::max<int64_t>(R, 1)));
    bytes = o;
  }
  StepMeta bind(void* base) const {
    char* c = static_cast<char*>(base);
    StepMeta m;
    m.slots = reinterpret_cast<int64_t*>(c + slots);
    m.tokens = reinterpret_cast<int32_t*>(c + tokens);
    m.positions = reinterpret_cast<int32_t*>(c + positions);
    m.token_seq = reinterpret_cast<int32_t*>(c + token_seq);
    m.cu = reinterpret_cast<int32_t*>(c + cu);
    m.kv_lens = reinterpret_cast<int32_t*>(c + kv_lens);
    m.block_table = reinterpret_cast<int32_t*>(c + block_table);
    m.rows = reinterpret_cast<int32_t*>(c + rows);
    return m;
  }
};

// What one step launches: shapes (host) + device metadata.
struct StepShape {
  int64_t T = 0;
  int32_t B = 0, max_pages = 0, max_q_len = 0, max_kv_len = 0;
  int64_t R = 0;  // rows needing logits (the LM head runs over R rows in pieces)
  bool decode = false;      // one new token per sequence: the Flash-Decoding path, graph-capturable
  // Leading sequences with one new token (the scheduler puts running requests first): in a mixed
  // step they go to the decode kernel and only the rest to the prefill kernel.
  int32_t lead_decode = 0, lead_decode_max_kv = 0;
  double kv_read_tokens = 0;  // sum of kv_lens (attention bytes for --profile)
  double attn_pairs = 0;      // causal (query, key) pairs (attention FLOPs for --profile)
};

struct GraphEntry {
  cudaGraphExec_t exec = nullptr;
  DeviceBuffer meta, workspace;
  MetaLayout layout{0, 0, 0, 0};
  ~GraphEntry() {
    if (exec) cudaGraphExecDestroy(exec);
  }
};

class LlamaCuda final : public ModelCuda {
 public:
  LlamaCuda(const ModelConfig& config, std::shared_ptr<const ModelSource> source, const KvCacheOptions& kv,
            const GpuOptions& gpu)
      : source_(std::move(source)), config_(config), gpu_(gpu), act_(act_dtype_from_name(gpu.dtype)) {
    config_.validate(source_ ? source_->path() : std::string("config"));
    const std::string& arch = config_.architecture;
    PAGODA_CHECK(arch == "llama" || arch == "mistral" || arch == "qwen2", "unsupported architecture '{}'", arch);
    PAGODA_CHECK(kv.page_size > 0 && kv.page_size <= 4096, "page size {} out of range", kv.page_size);
    PAGODA_CHECK(gpu.max_batch_tokens >= 1 && gpu.max_logit_rows >= 1, "GPU batch limits must be positive");
    PAGODA_CHECK(gpu.memory_fraction > 0 && gpu.memory_fraction <= 1.0, "--gpu-memory-fraction {} outside (0, 1]",
                 gpu.memory_fraction);
    int count = 0;
    PAGODA_CHECK(cudaGetDeviceCount(&count) == cudaSuccess && count > gpu.device, "no CUDA device {} found", gpu.device);
    PAGODA_CUDA_CHECK(cudaSetDevice(gpu.device));
    cudaDeviceProp prop{};
    PAGODA_CUDA_CHECK(cudaGetDeviceProperties(&prop, gpu.device));
    device_name_ = prop.name;
    num_sms_ = prop.multiProcessorCount;
    PAGODA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    gemm_ = std::make_unique<cuda::Gemm>();
    alloc_weights();
    if (source_) upload_weights(); else random_weights();
    alloc_scratch();
    alloc_kv(kv);
    PAGODA_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  ~LlamaCuda() override {
    graphs_.clear();
    for (auto& e : events_) cudaEventDestroy(e);
    if (stream_) cudaStreamDestroy(stream_);
  }

  const ModelConfig& config() const override { return config_; }
  int32_t page_size() const override { return layout_.page_size; }
  int64_t num_pages() const override { return num_pages_; }
  uint64_t kv_cache_bytes() const override { return 2 * layer_kv_bytes_ * static_cast<uint64_t>(config_.num_layers); }
  uint64_t weight_bytes() const override { return weight_bytes_; }
  uint64_t kv_bytes_per_token() const override {
    return 2 * static_cast<uint64_t>(config_.num_layers * config_.num_kv_heads * config_.head_dim) * elem_;
  }
  void synchronize() override { PAGODA_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  std::string describe() const override {
    return fmt::format("{} ({} layers, hidden {}, {} heads / {} kv heads, head dim {}, vocab {}) on cuda:{} ({}), {}, "
                       "KV {} x {} tokens {}, attention {}",
                       config_.architecture, config_.num_layers, config_.hidden_size, config_.num_heads,
                       config_.num_kv_heads, config_.head_dim, config_.vocab_size, gpu_.device, device_name_,
                       dtype_info(act_).name, num_pages_, layout_.page_size, dtype_info(layout_.dtype).name,
                       fast_attention() ? "flash" : "exact");
  }

  void kv_copy_page(int32_t src, int32_t dst) override {
    PAGODA_CHECK(src >= 0 && src < num_pages_ && dst >= 0 && dst < num_pages_, "KV page copy {} -> {} out of range", src, dst);
    const size_t page_bytes = static_cast<size_t>(layout_.page_elems()) * elem_;
    for (int64_t l = 0; l < config_.num_layers; ++l)
      for (DeviceBuffer* pool : {&k_pool_, &v_pool_}) {
        char* base = static_cast<char*>(pool->get()) + static_cast<size_t>(l) * layer_kv_bytes_;
        PAGODA_CUDA_CHECK(cudaMemcpyAsync(base + size_t(dst) * page_bytes, base + size_t(src) * page_bytes, page_bytes,
                                          cudaMemcpyDeviceToDevice, stream_));
      }
  }

  void kv_fill_random(uint64_t seed) override {
    const int64_t n = static_cast<int64_t>(layer_kv_bytes_ / elem_) * config_.num_layers;
    cuda::random_normal_fill(k_pool_.get(), layout_.dtype, n, seed, 0.0f, 1.0f, stream_);
    cuda::random_normal_fill(v_pool_.get(), layout_.dtype, n, seed + 1, 0.0f, 1.0f, stream_);
    synchronize();
  }

  void forward(const ForwardBatch& b, float* logits) override { forward_any(b, logits, nullptr); }
  void forward_greedy(const ForwardBatch& b, int32_t* ids) override { forward_any(b, nullptr, ids); }
  void forward_sample(const ForwardBatch& b, const DeviceSampling& sampling, int32_t* ids) override {
    const size_t R = b.logit_rows.size();
    PAGODA_CHECK(sampling.rows.size() == R && sampling.penalty_offsets.size() == R + 1,
                 "device sampling: {} rows and {} offsets for {} logit rows", sampling.rows.size(),
                 sampling.penalty_offsets.size(), R);
    PAGODA_CHECK(sampling.penalty_offsets[0] == 0 && size_t(sampling.penalty_offsets[R]) == sampling.penalties.size(),
                 "device sampling: penalty offsets do not cover the penalty list");
    for (size_t r = 0; r < R; ++r) {
      const DeviceSampleRow& p = sampling.rows[r];
      PAGODA_CHECK(sampling.penalty_offsets[r] <= sampling.penalty_offsets[r + 1], "device sampling: offsets decrease");
      PAGODA_CHECK(std::isfinite(p.temperature) && std::isfinite(p.top_p) && p.top_p > 0 && std::isfinite(p.min_p) &&
                       p.min_p <= 1 && std::isfinite(p.repetition_penalty) && p.repetition_penalty > 0,
                   "device sampling: row {} has out-of-range parameters", r);
    }
    for (const DeviceSamplePenalty& e : sampling.penalties)
      PAGODA_CHECK(e.token >= 0 && e.token < config_.vocab_size && std::isfinite(e.subtract),
                   "device sampling: penalty for token {} outside the vocabulary", e.token);
    forward_any(b, nullptr, ids, &sampling);
  }

  void profile_enable(bool on) override {
    profiling_ = on;
    prof_ms_.fill(0.0);
    prof_bytes_.fill(0.0);
    prof_flops_.fill(0.0);
    prof_steps_ = 0;
    if (on && events_.empty()) {
      events_.resize(2 * OP_COUNT * static_cast<size_t>(config_.num_layers + 2));
      for (auto& e : events_) PAGODA_CUDA_CHECK(cudaEventCreate(&e));
    }
  }

  std::string profile_report(double peak_gbs, double peak_tflops) override {
    std::string out = fmt::format("| op family | ms/step | share | GB/s | % of {:.0f} GB/s | TFLOP/s | % of {:.0f} TFLOP/s |\n"
                                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n", peak_gbs, peak_tflops);
    const double steps = std::max<double>(1, prof_steps_);
    const double total = std::accumulate(prof_ms_.begin(), prof_ms_.end(), 0.0);
    for (int f = 0; f < OP_COUNT; ++f) {
      if (prof_ms_[f] == 0) continue;
      const double s = prof_ms_[f] / 1e3;
      const double gbs = prof_bytes_[f] / s / 1e9, tf = prof_flops_[f] / s / 1e12;
      out += fmt::format("| {} | {:.3f} | {:.1f}% | {:.0f} | {:.1f}% | {:.1f} | {:.1f}% |\n", kOpNames[f],
                         prof_ms_[f] / steps, 100 * prof_ms_[f] / total, gbs, 100 * gbs / peak_gbs, tf,
                         100 * tf / peak_tflops);
    }
    out += fmt::format("| total | {:.3f} | 100% | | | | |\n", total / steps);
    return out;
  }

 private:
  // ---- set-up -------------------------------------------------------------------------------
  void alloc_weights() {
    const ModelConfig& c = config_;
    elem_ = dtype_info(act_).block_bytes;
    const int64_t hidden = c.hidden_size, qkv = (c.num_heads + 2 * c.num_kv_heads) * c.head_dim;
    const int64_t q_dim = c.num_heads * c.head_dim, F = c.intermediate_size;
    auto mat = [&](int64_t rows, int64_t cols) {
      weight_bytes_ += static_cast<uint64_t>(rows * cols) * elem_;
      return DeviceBuffer(static_cast<size_t>(rows * cols) * elem_);
    };
    auto vec = [&](int64_t n) {
      weight_bytes_ += static_cast<uint64_t>(n) * 4;
      return DeviceBuffer(static_cast<size_t>(n) * 4);
    };
    embed_ = mat(c.vocab_size, hidden);
    if (!tied()) output_ = mat(c.vocab_size, hidden);
    out_norm_ = vec(hidden);
    layers_.resize(static_cast<size_t>(c.num_layers));
    for (auto& l : layers_) {
      l.attn_norm = vec(hidden);
      l.ffn_norm = vec(hidden);
      l.w_qkv = mat(qkv, hidden);
      if (c.attention_bias) l.b_qkv = vec(qkv);
      l.w_o = mat(hidden, q_dim);
      l.w_gu = mat(2 * F, hidden);
      l.w_down = mat(hidden, F);
    }
    const std::vector<float> inv = rope_inv_freq(c);
    inv_freq_ = DeviceBuffer(inv.size() * 4);
    PAGODA_CUDA_CHECK(cudaMemcpyAsync(inv_freq_.get(), inv.data(), inv.size() * 4, cudaMemcpyHostToDevice, stream_));
    PAGODA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    rope_dim_ = static_cast<int32_t>(c.rope_dim > 0 ? c.rope_dim : c.head_dim);
  }

  bool tied() const {
    if (!source_) return config_.tie_word_embeddings;
    return config_.tie_word_embeddings || source_->find("output.weight") == nullptr;
  }
  const void* output_weight() const { return tied() ? embed_.get() : output_.get(); }

  void random_weights() {
    uint64_t seed = gpu_.seed * 1000003ull;
    auto fill = [&](DeviceBuffer& b, DType t, float mean, float sd) {
      const size_t elem = t == DType::DTYPE_F32 ? 4 : elem_;
      cuda::random_normal_fill(b.get(), t, static_cast<int64_t>(b.bytes() / elem), ++seed, mean, sd, stream_);
    };
    fill(embed_, act_, 0, 0.02f);
    if (!tied()) fill(output_, act_, 0, 0.02f);
    fill(out_norm_, DType::DTYPE_F32, 1, 0);
    for (auto& l : layers_) {
      fill(l.attn_norm, DType::DTYPE_F32, 1, 0);
      fill(l.ffn_norm, DType::DTYPE_F32, 1, 0);
      fill(l.w_qkv, act_, 0, 0.02f);
      if (l.b_qkv) fill(l.b_qkv, DType::DTYPE_F32, 0, 0.02f);
      fill(l.w_o, act_, 0, 0.02f);
      fill(l.w_gu, act_, 0, 0.02f);
      fill(l.w_down, act_, 0, 0.02f);
    }
  }

  // Host dequantization (any GGUF/safetensors type) to fp32, then a device-side conversion.
  void upload_tensor(const std::string& name, int64_t rows, int64_t cols, void* dst, bool to_f32) {
    const TensorDesc& t = source_->require(name);
    PAGODA_CHECK(t.numel() == rows * cols, "tensor {} has {} elements, expected {} x {}", name, t.numel(), rows, cols);
    auto row_bytes = dtype_row_bytes(t.dtype, static_cast<uint64_t>(cols));
    PAGODA_CHECK(row_bytes && *row_bytes * static_cast<uint64_t>(rows) == t.data.size(),
                 "tensor {}: data size does not match its shape", name);
    const int64_t chunk_rows = std::max<int64_t>(1, (int64_t(16) << 20) / cols);
    std::vector<float> host(static_cast<size_t>(std::min(rows, chunk_rows) * cols));
    for (int64_t r0 = 0; r0 < rows; r0 += chunk_rows) {
      const int64_t n = std::min(chunk_rows, rows - r0);
      for (int64_t r = 0; r < n; ++r)
        cpu::dequantize_row(t.dtype, t.data.data() + static_cast<size_t>(r0 + r) * *row_bytes,
                            host.data() + r * cols, cols);
      const size_t bytes = static_cast<size_t>(n * cols) * 4;
      // Copies go on stream_ too: a plain cudaMemcpy from pageable memory may return before its DMA
      // lands, and stream_ (non-blocking) would not wait for it.
      if (to_f32) {
        PAGODA_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(dst) + static_cast<size_t>(r0 * cols) * 4, host.data(),
                                          bytes, cudaMemcpyHostToDevice, stream_));
        PAGODA_CUDA_CHECK(cudaStreamSynchronize(stream_));
      } else {
        if (staging_.bytes() < bytes) staging_ = DeviceBuffer(bytes);
        PAGODA_CUDA_CHECK(cudaMemcpyAsync(staging_.get(), host.data(), bytes, cudaMemcpyHostToDevice, stream_));
        cuda::convert_from_f32(static_cast<const float*>(staging_.get()),
                               static_cast<char*>(dst) + static_cast<size_t>(r0 * cols) * elem_, act_, n * cols, stream_);
        PAGODA_CUDA_CHECK(cudaStreamSynchronize(stream_));
      }
    }
  }

  void upload_weights() {
    const ModelConfig& c = config_;
    const int64_t hidden = c.hidden_size, q_dim = c.num_heads * c.head_dim, kv_dim = c.num_kv_heads * c.head_dim;
    const int64_t F = c.intermediate_size;
    auto at = [&](DeviceBuffer& b, int64_t elems, size_t elem) { return static_cast<char*>(b.get()) + size_t(elems) * elem; };
    upload_tensor("token_embd.weight", c.vocab_size, hidden, embed_.get(), false);
    if (!tied()) upload_tensor("output.weight", c.vocab_size, hidden, output_.get(), false);
    upload_tensor("output_norm.weight", 1, hidden, out_norm_.get(), true);
    for (int64_t i = 0; i < c.num_layers; ++i) {
      auto name = [i](const char* s) { return fmt::format("blk.{}.{}", i, s); };
      LayerWeights& l = layers_[static_cast<size_t>(i)];
      upload_tensor(name("attn_norm.weight"), 1, hidden, l.attn_norm.get(), true);
      upload_tensor(name("ffn_norm.weight"), 1, hidden, l.ffn_norm.get(), true);
      upload_tensor(name("attn_q.weight"), q_dim, hidden, at(l.w_qkv, 0, elem_), false);
      upload_tensor(name("attn_k.weight"), kv_dim, hidden, at(l.w_qkv, q_dim * hidden, elem_), false);
      upload_tensor(name("attn_v.weight"), kv_dim, hidden, at(l.w_qkv, (q_dim + kv_dim) * hidden, elem_), false);
      if (c.attention_bias) {
        upload_tensor(name("attn_q.bias"), 1, q_dim, at(l.b_qkv, 0, 4), true);
        upload_tensor(name("attn_k.bias"), 1, kv_dim, at(l.b_qkv, q_dim, 4), true);
        upload_tensor(name("attn_v.bias"), 1, kv_dim, at(l.b_qkv, q_dim + kv_dim, 4), true);
      }
      upload_tensor(name("attn_output.weight"), hidden, q_dim, l.w_o.get(), false);
      upload_tensor(name("ffn_gate.weight"), F, hidden, at(l.w_gu, 0, elem_), false);
      upload_tensor(name("ffn_up.weight"), F, hidden, at(l.w_gu, F * hidden, elem_), false);
      upload_tensor(name("ffn_down.weight"), hidden, F, l.w_down.get(), false);
    }
    staging_ = DeviceBuffer();
  }

  void alloc_scratch() {
    const ModelConfig& c = config_;
    const int64_t T = gpu_.max_batch_tokens, hidden = c.hidden_size, q_dim = c.num_heads * c.head_dim;
    const int64_t qkv = (c.num_heads + 2 * c.num_kv_heads) * c.head_dim, F = c.intermediate_size;
    const int64_t R = std::min(gpu_.max_logit_rows, T);
    auto act = [&](int64_t n) { return DeviceBuffer(static_cast<size_t>(n) * elem_); };
    x_ = DeviceBuffer(static_cast<size_t>(T * hidden) * 4);
    h_ = act(T * std::max(hidden, q_dim));
    qkv_ = act(T * qkv);
    q_ = act(T * q_dim);
    attn_ = act(T * q_dim);
    delta_ = act(T * hidden);
    gu_ = act(T * 2 * F);
    mlp_ = act(T * F);
    hn_ = act(R * hidden);
    logits_ = DeviceBuffer(static_cast<size_t>(R * c.vocab_size) * 4);
    ids_ = DeviceBuffer(static_cast<size_t>(R) * 4);
#ifdef PAGODA_HAVE_CUDA_ATTENTION
    // Zeroed once; every prefill launch leaves it zero again (all on stream_).
    prefill_ws_ = DeviceBuffer(cuda::PREFILL_WORKSPACE_BYTES);
    cuda::prefill_workspace_init(prefill_ws_.get(), stream_);
#endif
  }

  void alloc_kv(const KvCacheOptions& kv) {
    layout_ = PagedKvLayout{kv.page_size, static_cast<int32_t>(config_.num_kv_heads),
                            static_cast<int32_t>(config_.head_dim), act_};
    size_t free_b = 0, total_b = 0;
    PAGODA_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    // Keep room for graph/attention workspaces and cuBLAS internals beyond the fraction.
    const double budget = gpu_.memory_fraction * static_cast<double>(free_b) - double(256 << 20);
    const uint64_t page_bytes_all = 2 * static_cast<uint64_t>(layout_.page_elems()) * elem_ *
                                    static_cast<uint64_t>(config_.num_layers);
    const int64_t fit = budget > 0 ? static_cast<int64_t>(budget / static_cast<double>(page_bytes_all)) : 0;
    int64_t want = kv.max_tokens > 0 ? (kv.max_tokens + kv.page_size - 1) / kv.page_size : fit;
    if (want > fit) {
      PAGODA_CHECK(fit >= 1, "not enough GPU memory for a KV cache: {:.2f} GiB free after weights ({:.2f} GiB)",
                   double(free_b) / (1 << 30), double(weight_bytes_) / (1 << 30));
      fmt::print(stderr, "warning: KV cache for {} tokens does not fit in {:.0f}% of free GPU memory; using {} tokens\n",
                 want * kv.page_size, 100 * gpu_.memory_fraction, fit * kv.page_size);
      want = fit;
    }
    num_pages_ = std::max<int64_t>(1, want);
    layer_kv_bytes_ = static_cast<uint64_t>(num_pages_ * layout_.page_elems()) * elem_;
    k_pool_ = DeviceBuffer(layer_kv_bytes_ * static_cast<size_t>(config_.num_layers));
    v_pool_ = DeviceBuffer(layer_kv_bytes_ * static_cast<size_t>(config_.num_layers));
    // Zeroed so padded graph rows that read page 0 never meet NaN bit patterns.
    PAGODA_CUDA_CHECK(cudaMemsetAsync(k_pool_.get(), 0, k_pool_.bytes(), stream_));
    PAGODA_CUDA_CHECK(cudaMemsetAsync(v_pool_.get(), 0, v_pool_.bytes(), stream_));
  }

  PagedKvView kv_view(int64_t layer) const {
    PagedKvView v;
    v.k = static_cast<char*>(k_pool_.get()) + static_cast<size_t>(layer) * layer_kv_bytes_;
    v.v = static_cast<char*>(v_pool_.get()) + static_cast<size_t>(layer) * layer_kv_bytes_;
    v.layout = layout_;
    v.num_pages = num_pages_;
    return v;
  }

  bool fast_attention() const {
#ifdef PAGODA_HAVE_CUDA_ATTENTION
    return (act_ == DType::DTYPE_BF16 || act_ == DType::DTYPE_F16) && (config_.head_dim == 64 || config_.head_dim == 128);
#else
    return false;
#endif
  }

  // ---- one step ---------------------------------------------------------------------------------

  void forward_any(const ForwardBatch& b, float* logits, int32_t* ids, const DeviceSampling* sampling = nullptr) {
    PAGODA_CHECK(b.num_tokens() > 0, "empty batch");
    forward_batch_validate(b, config_.vocab_size, num_pages_, layout_.page_size);
    const int64_t T = b.num_tokens();
    std::vector<int32_t> out_index(b.logit_rows.size());
    std::iota(out_index.begin(), out_index.end(), 0);
    if (T <= gpu_.max_batch_tokens) {
      run_step(b, out_index, logits, ids, sampling);
      return;
    }
    // Larger than the workspaces: run consecutive token ranges as their own steps. Each range sees
    // the K/V its sequences appended in earlier ranges, so the result is the same as one step.
    for (int64_t s0 = 0; s0 < T; s0 += gpu_.max_batch_tokens) {
      const int64_t s1 = std::min<int64_t>(T, s0 + gpu_.max_batch_tokens);
      ForwardBatch sb;
      sb.max_pages_per_seq = b.max_pages_per_seq;
      sb.cu_seqlens_q.push_back(0);
      for (int32_t s = 0; s < b.num_seqs(); ++s) {
        const int64_t q0 = b.cu_seqlens_q[size_t(s)], q1 = b.cu_seqlens_q[size_t(s) + 1];
        const int64_t lo = std::max(q0, s0), hi = std::min(q1, s1);
        if (lo >= hi) continue;
        for (int64_t t = lo; t < hi; ++t) {
          sb.tokens.push_back(b.tokens[size_t(t)]);
          sb.positions.push_back(b.positions[size_t(t)]);
          sb.slot_mapping.push_back(b.slot_mapping[size_t(t)]);
        }
        sb.cu_seqlens_q.push_back(sb.cu_seqlens_q.back() + static_cast<int32_t>(hi - lo));
        sb.kv_lens.push_back(b.kv_lens[size_t(s)] - static_cast<int32_t>(q1 - hi));
        const auto row = b.block_table.begin() + static_cast<ptrdiff_t>(s) * b.max_pages_per_seq;
        sb.block_table.insert(sb.block_table.end(), row, row + b.max_pages_per_seq);
      }
      std::vector<int32_t> idx;
      for (size_t r = 0; r < b.logit_rows.size(); ++r)
        if (b.logit_rows[r] >= s0 && b.logit_rows[r] < s1) {
          sb.logit_rows.push_back(static_cast<int32_t>(b.logit_rows[r] - s0));
          idx.push_back(static_cast<int32_t>(r));
        }
      run_step(sb, idx, logits, ids, sampling);
    }
  }

  StepShape shape_of(const ForwardBatch& b) const {
    StepShape s;
    s.T = b.num_tokens();
    s.B = b.num_seqs();
    s.max_pages = b.max_pages_per_seq;
    s.R = static_cast<int64_t>(b.logit_rows.size());
    for (int32_t i = 0; i < s.B; ++i) {
      const int32_t q = b.cu_seqlens_q[size_t(i) + 1] - b.cu_seqlens_q[size_t(i)], kv = b.kv_lens[size_t(i)];
      s.max_q_len = std::max(s.max_q_len, q);
      s.max_kv_len = std::max(s.max_kv_len, kv);
      s.kv_read_tokens += kv;
      s.attn_pairs += double(q) * (double(kv) - double(q - 1) / 2.0);
    }
    s.decode = s.max_q_len == 1 && s.T == s.B;
    while (s.lead_decode < s.B && b.cu_seqlens_q[size_t(s.lead_decode) + 1] - b.cu_seqlens_q[size_t(s.lead_decode)] == 1)
      s.lead_decode_max_kv = std::max(s.lead_decode_max_kv, b.kv_lens[size_t(s.lead_decode++)]);
    return s;
  }

  // Packs the step's metadata into pinned memory; rows past B (graph padding) become harmless
  // one-token sequences whose K/V are not written (slot -1).
  void pack_meta(const ForwardBatch& b, const MetaLayout& ml, int64_t T_pad, int32_t B_pad, int32_t maxp,
                 int64_t R_pad, void* host) const {
    StepMeta m = ml.bind(host);
    const int64_t T = b.num_tokens();
    const int32_t B = b.num_seqs();
    for (int64_t t = 0; t < T_pad; ++t) {
      const bool real = t < T;
      m.slots[t] = real ? b.slot_mapping[size_t(t)] : -1;
      m.tokens[t] = real ? b.tokens[size_t(t)] : 0;
      m.positions[t] = real ? b.positions[size_t(t)] : 0;
    }
    for (int32_t s = 0; s < B; ++s)
      for (int32_t t = b.cu_seqlens_q[size_t(s)]; t < b.cu_seqlens_q[size_t(s) + 1]; ++t) m.token_seq[t] = s;
    for (int64_t t = T; t < T_pad; ++t) m.token_seq[t] = static_cast<int32_t>(B + (t - T));
    for (int32_t s = 0; s <= B_pad; ++s)
      m.cu[s] = s <= B ? b.cu_seqlens_q[size_t(s)] : static_cast<int32_t>(T + (s - B));
    for (int32_t s = 0; s < B_pad; ++s) m.kv_lens[s] = s < B ? b.kv_lens[size_t(s)] : 1;
    std::memset(m.block_table, 0, sizeof(int32_t) * size_t(B_pad) * size_t(maxp));
    for (int32_t s = 0; s < B; ++s) {
      const int32_t n = std::min(maxp, b.max_pages_per_seq);
      std::memcpy(m.block_table + size_t(s) * size_t(maxp), b.block_table.data() + size_t(s) * size_t(b.max_pages_per_seq),
                  sizeof(int32_t) * size_t(n));
    }
    for (int64_t r = 0; r < R_pad; ++r) m.rows[r] = r < int64_t(b.logit_rows.size()) ? b.logit_rows[size_t(r)] : static_cast<int32_t>(r);
  }

  // A mixed step (prefill chunks after decoding sequences) runs its decode rows through the
  // Flash-Decoding kernel: the prefill kernel's 128-row query tiles would hold one token each.
  bool mixed_split(const StepShape& s) const { return fast_attention() && !s.decode && s.lead_decode > 0 && s.lead_decode < s.B; }

#ifdef PAGODA_HAVE_CUDA_ATTENTION
  cuda::PrefillWorkspace prefill_ws() const { return {prefill_ws_.get(), true}; }
#endif

  size_t decode_workspace_bytes(int32_t B, int32_t max_kv_len) const {
#ifdef PAGODA_HAVE_CUDA_ATTENTION
    if (fast_attention())
      return cuda::decode_plan(B, static_cast<int32_t>(config_.num_heads), layout_, 1, max_kv_len, num_sms_).workspace_bytes;
#endif
    return 0;
  }

  template <typename F>
  void timed(OpFamily f, double bytes, double flops, F&& fn) {
    if (!profiling_) {
      fn();
      return;
    }
    if (prof_next_ + 2 > events_.size()) {
      const size_t old = events_.size();
      events_.resize(old * 2 + 64);
      for (size_t i = old; i < events_.size(); ++i) PAGODA_CUDA_CHECK(cudaEventCreate(&events_[i]));
    }
    PAGODA_CUDA_CHECK(cudaEventRecord(events_[prof_next_], stream_));
    fn();
    PAGODA_CUDA_CHECK(cudaEventRecord(events_[prof_next_ + 1], stream_));
    prof_pending_.push_back({f, prof_next_});
    prof_next_ += 2;
    prof_bytes_[f] += bytes;
    prof_flops_[f] += flops;
  }

  void profile_collect() {
    if (!profiling_) return;
    PAGODA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    for (auto [f, i] : prof_pending_) {
      float ms = 0;
      PAGODA_CUDA_CHECK(cudaEventElapsedTime(&ms, events_[i], events_[i + 1]));
      prof_ms_[f] += ms;
    }
    prof_pending_.clear();
    prof_next_ = 0;
    ++prof_steps_;
  }

  // Whether gate|up runs as the fused GEMV + SwiGLU (where gemm_choose picks the GEMV for it).
  bool gated_gemv(int64_t T, int64_t F, int64_t hidden, const void* w_gu) const {
    return cuda::gemm_choose(T, 2 * F, hidden, act_) == cuda::GemmAlgo::GEMM_ALGO_GEMV &&
           cuda::gemv_supported(h_.get(), w_gu, T, hidden, act_);
  }

  void gemm(OpFamily f, const void* x, const void* w, void* y, int64_t M, int64_t N, int64_t K, DType out) {
    const double bytes = double(N * K + M * K) * double(elem_) + double(M * N) * double(dtype_info(out).block_bytes);
    timed(f, bytes, 2.0 * double(M) * double(N) * double(K), [&] { gemm_->run(x, w, y, M, N, K, act_, out, stream_); });
  }

  // PAGODA_CUDA_DEBUG=1: prints the L2 norm of row 0 of a buffer after each stage (eager steps).
  void debug_norm(const char* what, const void* buf, int64_t n, DType t) {
    static const bool on = std::getenv("PAGODA_CUDA_DEBUG") != nullptr;
    if (!on) return;
    PAGODA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    const size_t eb = dtype_info(t).block_bytes;
    std::vector<uint8_t> raw(size_t(n) * eb);
    PAGODA_CUDA_CHECK(cudaMemcpy(raw.data(), buf, raw.size(), cudaMemcpyDeviceToHost));
    std::vector<float> f(static_cast<size_t>(n));
    cpu::dequantize_row(t, raw.data(), f.data(), n);
    double s = 0;
    for (float v : f) s += double(v) * v;
    fmt::print(stderr, "[debug] {:<12} |row0| = {:.6f}  first {:.6f} {:.6f}\n", what, std::sqrt(s), f[0], f[1]);
  }

  // Embedding and all layers; leaves the residual in x_ and the last MLP output in delta_.
  void launch_layers(const StepShape& s, const StepMeta& m, void* decode_ws, size_t decode_ws_bytes) {
    const ModelConfig& c = config_;
    const int64_t T = s.T, hidden = c.hidden_size, H = c.num_heads, Hkv = c.num_kv_heads, D = c.head_dim;
    const int64_t q_dim = H * D, qkvN = (H + 2 * Hkv) * D, F = c.intermediate_size;
    const float eps = static_cast<float>(c.rms_norm_eps);
    const double e = double(elem_);
    float* x = static_cast<float*>(x_.get());
    timed(OP_EMBED, double(T * hidden) * (e + 4), 0,
          [&] { cuda::embedding_gather(embed_.get(), act_, m.tokens, T, hidden, x, stream_); });
    debug_norm("embedding", x, hidden, DType::DTYPE_F32);
    AttentionBatch ab;
    ab.num_seqs = s.B;
    ab.cu_seqlens_q = m.cu;
    ab.kv_lens = m.kv_lens;
    ab.block_table = m.block_table;
    ab.max_pages_per_seq = s.max_pages;
    ab.causal = true;
    ab.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
#ifdef PAGODA_HAVE_CUDA_ATTENTION
    cuda::DecodePlan plan;
    const bool use_decode = fast_attention() && s.decode, use_mixed = mixed_split(s);
    if (use_decode) {
      plan = cuda::decode_plan(s.B, static_cast<int32_t>(H), layout_, 1, s.max_kv_len, num_sms_);
      PAGODA_ASSERT(plan.workspace_bytes <= decode_ws_bytes);
    }
    // Mixed: sequences [0, lead) decode, [lead, B) prefill; each kernel sees its own slice of the
    // step's arrays (the query offsets in cu stay absolute, so q and out are shared).
    AttentionBatch ab_dec = ab, ab_pre = ab;
    if (use_mixed) {
      plan = cuda::decode_plan(s.lead_decode, static_cast<int32_t>(H), layout_, 1, s.lead_decode_max_kv, num_sms_);
      PAGODA_ASSERT(plan.workspace_bytes <= decode_ws_bytes);
      ab_dec.num_seqs = s.lead_decode;
      ab_pre.num_seqs = s.B - s.lead_decode;
      ab_pre.cu_seqlens_q = m.cu + s.lead_decode;
      ab_pre.kv_lens = m.kv_lens + s.lead_decode;
      ab_pre.block_table = m.block_table + int64_t(s.lead_decode) * s.max_pages;
    }
#endif
    const double norm_bytes = double(T * hidden) * (8 + 2 * e);
    const double attn_bytes = 2 * double(T * q_dim) * e + s.kv_read_tokens * double(2 * Hkv * D) * e;
    const double attn_flops = 4.0 * s.attn_pairs * double(H * D);
    for (int64_t l = 0; l < c.num_layers; ++l) {
      const LayerWeights& w = layers_[size_t(l)];
      const PagedKvView view = kv_view(l);
      timed(OP_NORM, norm_bytes, 0, [&] {
        cuda::add_rmsnorm(x, l == 0 ? nullptr : delta_.get(), static_cast<const float*>(w.attn_norm.get()), T, hidden,
                          eps, h_.get(), act_, stream_);
      });
      debug_norm("attn_norm", h_.get(), hidden, act_);
      gemm(OP_GEMM_QKV, h_.get(), w.w_qkv.get(), qkv_.get(), T, qkvN, hidden, act_);
      debug_norm("qkv", qkv_.get(), qkvN, act_);
      timed(OP_ROPE_APPEND, 2 * double(T * qkvN) * e, 0, [&] {
        cuda::QkvRopeAppendArgs a;
        a.qkv = qkv_.get();
        a.bias = static_cast<const float*>(w.b_qkv.get());
        a.positions = m.positions;
        a.slot_mapping = m.slots;
        a.inv_freq = static_cast<const float*>(inv_freq_.get());
        a.rope_dim = rope_dim_;
        a.interleaved = c.rope_pairing == RopePairing::ROPE_PAIRING_INTERLEAVED;
        a.T = T;
        a.H = static_cast<int32_t>(H);
        a.q_out = q_.get();
        a.cache = view;
        cuda::qkv_rope_append(a, act_, stream_);
      });
      timed(OP_ATTENTION, attn_bytes, attn_flops, [&] {
#ifdef PAGODA_HAVE_CUDA_ATTENTION
        if (use_decode) {
          cuda::attention_decode(plan, q_.get(), view, ab, attn_.get(), nullptr, decode_ws, stream_);
          return;
        }
        if (use_mixed) {
          cuda::attention_decode(plan, q_.get(), view, ab_dec, attn_.get(), nullptr, decode_ws, stream_);
          cuda::attention_prefill(q_.get(), static_cast<int32_t>(H), view, ab_pre, s.max_q_len, attn_.get(), nullptr,
                                  prefill_ws(), stream_);
          return;
        }
        if (fast_attention()) {
          cuda::attention_prefill(q_.get(), static_cast<int32_t>(H), view, ab, s.max_q_len, attn_.get(), nullptr,
                                  prefill_ws(), stream_);
          return;
        }
#endif
        cuda::attention_exact(q_.get(), static_cast<int32_t>(H), view, ab, T, m.token_seq, attn_.get(), act_, stream_);
      });
      debug_norm("q", q_.get(), q_dim, act_);
      debug_norm("attn", attn_.get(), q_dim, act_);
      gemm(OP_GEMM_O, attn_.get(), w.w_o.get(), delta_.get(), T, hidden, q_dim, act_);
      debug_norm("o", delta_.get(), hidden, act_);
      timed(OP_NORM, norm_bytes, 0, [&] {
        cuda::add_rmsnorm(x, delta_.get(), static_cast<const float*>(w.ffn_norm.get()), T, hidden, eps, h_.get(), act_,
                          stream_);
      });
      if (gated_gemv(T, F, hidden, w.w_gu.get())) {
        // Decode's flat GEMM: one GEMV pass writes silu(gate) * up, no gu_ round trip, no extra kernel.
        const double bytes = double(2 * F * hidden + T * hidden) * e + double(T * F) * e;
        timed(OP_GEMM_GATE_UP, bytes, 2.0 * double(T) * double(2 * F) * double(hidden), [&] {
          cuda::gemv_silu_mul(h_.get(), w.w_gu.get(), mlp_.get(), T, F, hidden, act_, stream_);
        });
      } else {
        gemm(OP_GEMM_GATE_UP, h_.get(), w.w_gu.get(), gu_.get(), T, 2 * F, hidden, act_);
        timed(OP_SILU_MUL, 3 * double(T * F) * e, 0, [&] { cuda::silu_mul(gu_.get(), T, F, mlp_.get(), act_, stream_); });
      }
      debug_norm("ffn_norm", h_.get(), hidden, act_);
      debug_norm("silu", mlp_.get(), F, act_);
      gemm(OP_GEMM_DOWN, mlp_.get(), w.w_down.get(), delta_.get(), T, hidden, F, act_);
      debug_norm("down", delta_.get(), hidden, act_);
    }
  }

  // Final norm + LM head (+ argmax) for rows [r0, r0 + n) of the step's logit rows.
  void launch_head(const StepMeta& m, int64_t r0, int64_t n, bool want_argmax) {
    const ModelConfig& c = config_;
    timed(OP_LM_HEAD, double(c.vocab_size * c.hidden_size) * double(elem_) + double(n * c.vocab_size) * 4,
          2.0 * double(n) * double(c.vocab_size * c.hidden_size), [&] {
            cuda::gather_add_rmsnorm(static_cast<const float*>(x_.get()), delta_.get(), m.rows + r0, n,
                                     static_cast<const float*>(out_norm_.get()), c.hidden_size,
                                     static_cast<float>(c.rms_norm_eps), hn_.get(), act_, stream_);
            gemm_->run(hn_.get(), output_weight(), logits_.get(), n, c.vocab_size, c.hidden_size, act_,
                       DType::DTYPE_F32, stream_);
          });
    if (want_argmax)
      timed(OP_SAMPLE, double(n * c.vocab_size) * 4, 0, [&] {
        cuda::argmax_rows(static_cast<const float*>(logits_.get()), n, c.vocab_size, static_cast<int32_t*>(ids_.get()),
                          stream_);
      });
  }

  // Packs the step's per-row sampling inputs in local row order (row r is the caller's row
  // out_index[r]) and uploads them in one copy: SampleRowParams [R], then SamplePenalty entries.
  void upload_sampling(const DeviceSampling& in, const std::vector<int32_t>& out_index) {
    const size_t R = out_index.size();
    size_t P = 0;
    for (int32_t o : out_index) P += size_t(in.penalty_offsets[size_t(o) + 1] - in.penalty_offsets[size_t(o)]);
    const size_t pen_at = (sizeof(cuda::SampleRowParams) * R + 15) / 16 * 16;
    const size_t bytes = pen_at + sizeof(cuda::SamplePenalty) * std::max<size_t>(P, 1);
    char* host = static_cast<char*>(sample_host_.reserve(bytes));
    auto* rows = reinterpret_cast<cuda::SampleRowParams*>(host);
    auto* pens = reinterpret_cast<cuda::SamplePenalty*>(host + pen_at);
    int32_t next = 0;
    for (size_t r = 0; r < R; ++r) {
      const size_t o = size_t(out_index[r]);
      const DeviceSampleRow& p = in.rows[o];
      cuda::SampleRowParams d;
      d.inv_temperature = p.temperature > 0 ? 1.0f / p.temperature : 0.0f;  // the host's rounding
      d.top_k = p.top_k;
      d.top_p = p.top_p;
      d.min_p = p.min_p;
      d.repetition_penalty = p.repetition_penalty;
      d.seed = p.seed;
      d.position = p.position;
      d.penalty_begin = next;
      for (int32_t j = in.penalty_offsets[o]; j < in.penalty_offsets[o + 1]; ++j) {
        const DeviceSamplePenalty& e = in.penalties[size_t(j)];
        pens[next++] = cuda::SamplePenalty{e.token, e.repetition ? 1 : 0, e.subtract};
      }
      d.penalty_end = next;
      rows[r] = d;
    }
    if (sample_dev_.bytes() < bytes) sample_dev_ = DeviceBuffer(bytes * 2);
    PAGODA_CUDA_CHECK(cudaMemcpyAsync(sample_dev_.get(), host, bytes, cudaMemcpyHostToDevice, stream_));
    sample_pen_offset_ = pen_at;
  }

  // Samples rows [r0, r0 + n) of the step's logits (penalties applied in place) into ids_.
  void launch_sample(int64_t r0, int64_t n) {
    const int64_t V = config_.vocab_size;
    char* base = static_cast<char*>(sample_dev_.get());
    timed(OP_SAMPLE, double(n * V) * 4, 0, [&] {
      cuda::sample_rows(static_cast<float*>(logits_.get()), n, V, reinterpret_cast<cuda::SampleRowParams*>(base) + r0,
                        reinterpret_cast<cuda::SamplePenalty*>(base + sample_pen_offset_),
                        static_cast<int32_t*>(ids_.get()), nullptr, stream_);
    });
  }

  // Copies n rows of logits or ids to the caller's arrays at out_index[r0 ..].
  void copy_out(const std::vector<int32_t>& out_index, int64_t r0, int64_t n, float* logits, int32_t* ids) {
    const int64_t V = config_.vocab_size;
    bool consecutive = true;
    for (int64_t r = 1; r < n; ++r) consecutive &= out_index[size_t(r0 + r)] == out_index[size_t(r0)] + r;
    if (logits && consecutive) {
      PAGODA_CUDA_CHECK(cudaMemcpyAsync(logits + int64_t(out_index[size_t(r0)]) * V, logits_.get(), size_t(n * V) * 4,
                                        cudaMemcpyDeviceToHost, stream_));
    } else if (logits) {
      for (int64_t r = 0; r < n; ++r)
        PAGODA_CUDA_CHECK(cudaMemcpyAsync(logits + int64_t(out_index[size_t(r0 + r)]) * V,
                                          static_cast<const float*>(logits_.get()) + r * V, size_t(V) * 4,
                                          cudaMemcpyDeviceToHost, stream_));
    }
    if (ids) {
      std::vector<int32_t> tmp(static_cast<size_t>(n));
      PAGODA_CUDA_CHECK(cudaMemcpyAsync(tmp.data(), ids_.get(), size_t(n) * 4, cudaMemcpyDeviceToHost, stream_));
      PAGODA_CUDA_CHECK(cudaStreamSynchronize(stream_));
      for (int64_t r = 0; r < n; ++r) ids[out_index[size_t(r0 + r)]] = tmp[size_t(r)];
    }
    PAGODA_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  static int64_t pow2_at_least(int64_t v) {
    int64_t p = 1;
    while (p < v) p <<= 1;
    return p;
  }

  void run_step(const ForwardBatch& b, const std::vector<int32_t>& out_index, float* logits, int32_t* ids,
                const DeviceSampling* sampling) {
    const StepShape s = shape_of(b);
    const int64_t Rmax = std::min(gpu_.max_logit_rows, gpu_.max_batch_tokens);
    bool identity_rows = s.R == s.T;
    for (int64_t r = 0; identity_rows && r < s.R; ++r) identity_rows = b.logit_rows[size_t(r)] == r;
    const int64_t bucket = pow2_at_least(s.B);
    if (gpu_.cuda_graphs && !profiling_ && s.decode && identity_rows && bucket <= Rmax && bucket <= gpu_.max_batch_tokens) {
      run_graph(b, s, bucket, out_index, logits, ids, sampling);
      return;
    }
    const MetaLayout ml(s.T, s.B, s.max_pages, s.R);
    void* host = meta_host_.reserve(ml.bytes);
    pack_meta(b, ml, s.T, s.B, s.max_pages, s.R, host);
    if (meta_dev_.bytes() < ml.bytes) meta_dev_ = DeviceBuffer(ml.bytes * 2);
    PAGODA_CUDA_CHECK(cudaMemcpyAsync(meta_dev_.get(), host, ml.bytes, cudaMemcpyHostToDevice, stream_));
    const StepMeta m = ml.bind(meta_dev_.get());
    const size_t ws = s.decode        ? decode_workspace_bytes(s.B, s.max_kv_len)
                      : mixed_split(s) ? decode_workspace_bytes(s.lead_decode, s.lead_decode_max_kv)
                                       : 0;
    if (decode_ws_.bytes() < ws) decode_ws_ = DeviceBuffer(ws);
    if (sampling) upload_sampling(*sampling, out_index);
    launch_layers(s, m, decode_ws_.get(), decode_ws_.bytes());
    for (int64_t r0 = 0; r0 < s.R; r0 += Rmax) {
      const int64_t n = std::min(Rmax, s.R - r0);
      launch_head(m, r0, n, ids != nullptr && !sampling);
      if (sampling) launch_sample(r0, n);
      copy_out(out_index, r0, n, logits, ids);
    }
    if (s.R == 0) PAGODA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    profile_collect();
  }

  // Decode step through a CUDA graph captured for (batch bucket, KV-length bucket, argmax or not).
  // Sampling with parameters runs after the replay, outside the graph: its inputs change size
  // every step, and one graph then serves both the logits and the sampling callers.
  void run_graph(const ForwardBatch& b, StepShape s, int64_t bucket, const std::vector<int32_t>& out_index,
                 float* logits, int32_t* ids, const DeviceSampling* sampling) {
    const bool argmax = ids != nullptr && !sampling;
    const int32_t kv_bucket = static_cast<int32_t>(std::max<int64_t>(256, pow2_at_least(s.max_kv_len)));
    const int32_t maxp = static_cast<int32_t>(
        std::min<int64_t>(num_pages_, (kv_bucket + layout_.page_size - 1) / layout_.page_size));
    const auto key = std::make_tuple(static_cast<int32_t>(bucket), kv_bucket, argmax);
    StepShape gs = s;
    gs.T = bucket;
    gs.B = static_cast<int32_t>(bucket);
    gs.R = bucket;
    gs.max_pages = maxp;
    gs.max_kv_len = std::min<int32_t>(kv_bucket, maxp * layout_.page_size);
    auto it = graphs_.find(key);
    if (it == graphs_.end()) {
      auto g = std::make_unique<GraphEntry>();
      g->layout = MetaLayout(bucket, bucket, maxp, bucket);
      g->meta = DeviceBuffer(g->layout.bytes);
      PAGODA_CUDA_CHECK(cudaMemsetAsync(g->meta.get(), 0, g->layout.bytes, stream_));
      const size_t ws = decode_workspace_bytes(gs.B, gs.max_kv_len);
      g->workspace = DeviceBuffer(ws);
      const StepMeta m = g->layout.bind(g->meta.get());
      // One eager run of this very step first (its K/V writes are repeated identically by the
      // replay): cuBLASLt plans and lazy module loads happen outside the capture.
      void* h = meta_host_.reserve(g->layout.bytes);
      pack_meta(b, g->layout, bucket, static_cast<int32_t>(bucket), maxp, bucket, h);
      PAGODA_CUDA_CHECK(cudaMemcpyAsync(g->meta.get(), h, g->layout.bytes, cudaMemcpyHostToDevice, stream_));
      launch_layers(gs, m, g->workspace.get(), g->workspace.bytes());
      launch_head(m, 0, bucket, argmax);
      PAGODA_CUDA_CHECK(cudaStreamSynchronize(stream_));
      cudaGraph_t graph = nullptr;
      PAGODA_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
      try {
        launch_layers(gs, m, g->workspace.get(), g->workspace.bytes());
        launch_head(m, 0, bucket, argmax);
      } catch (...) {
        cudaStreamEndCapture(stream_, &graph);
        if (graph) cudaGraphDestroy(graph);
        throw;
      }
      PAGODA_CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
      const cudaError_t inst = cudaGraphInstantiate(&g->exec, graph, 0);
      cudaGraphDestroy(graph);
      PAGODA_CUDA_CHECK(inst);
      it = graphs_.emplace(key, std::move(g)).first;
    }
    GraphEntry& g = *it->second;
    void* host = meta_host_.reserve(g.layout.bytes);
    pack_meta(b, g.layout, bucket, static_cast<int32_t>(bucket), maxp, bucket, host);
    PAGODA_CUDA_CHECK(cudaMemcpyAsync(g.meta.get(), host, g.layout.bytes, cudaMemcpyHostToDevice, stream_));
    PAGODA_CUDA_CHECK(cudaGraphLaunch(g.exec, stream_));
    if (sampling) {
      upload_sampling(*sampling, out_index);
      launch_sample(0, s.R);
    }
    copy_out(out_index, 0, s.R, logits, ids);
  }

  size_t prof_next_ = 0;
  std::vector<std::pair<int, size_t>> prof_pending_;

  std::shared_ptr<const ModelSource> source_;
  ModelConfig config_;
  GpuOptions gpu_;
  DType act_;
  size_t elem_ = 2;
  std::string device_name_;
  int num_sms_ = 0;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<cuda::Gemm> gemm_;
  uint64_t weight_bytes_ = 0;
  DeviceBuffer embed_, output_, out_norm_, inv_freq_, staging_;
  std::vector<LayerWeights> layers_;
  int32_t rope_dim_ = 0;
  DeviceBuffer x_, h_, qkv_, q_, attn_, delta_, gu_, mlp_, hn_, logits_, ids_;
  PagedKvLayout layout_;
  int64_t num_pages_ = 0;
  uint64_t layer_kv_bytes_ = 0;
  DeviceBuffer k_pool_, v_pool_;
  DeviceBuffer meta_dev_, decode_ws_;
  DeviceBuffer prefill_ws_;  // the prefill's work counters (cuda::PrefillWorkspace), zeroed once
  cuda::PinnedBuffer meta_host_;
  DeviceBuffer sample_dev_;  // SampleRowParams [R] + SamplePenalty entries of the current step
  cuda::PinnedBuffer sample_host_;
  size_t sample_pen_offset_ = 0;
  std::map<std::tuple<int32_t, int32_t, bool>, std::unique_ptr<GraphEntry>> graphs_;
  bool profiling_ = false;
  std::vector<cudaEvent_t> events_;
  std::array<double, OP_COUNT> prof_ms_{}, prof_bytes_{}, prof_flops_{};
  int64_t prof_steps_ = 0;
};

}  // namespace

bool cuda_available() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

std::unique_ptr<ModelCuda> model_cuda_create(std::shared_ptr<const ModelSource> source, const KvCacheOptions& kv,
                                             const GpuOptions& gpu) {
  const ModelConfig config = source->config();
  return std::make_unique<LlamaCuda>(config, std::move(source), kv, gpu);
}

std::unique_ptr<ModelCuda> model_cuda_create_random(const ModelConfig& config, const KvCacheOptions& kv,
                                                    const GpuOptions& gpu) {
  return std::make_unique<LlamaCuda>(config, nullptr, kv, gpu);
}

}  // namespace pagoda

#else  // !PAGODA_HAVE_CUDA

#include "core/error.hpp"

namespace pagoda {

bool cuda_available() { return false; }

std::unique_ptr<ModelCuda> model_cuda_create(std::shared_ptr<const ModelSource>, const KvCacheOptions&, const GpuOptions&) {
  fail("device 'cuda' is not available: this build has no CUDA backend (configure with -DPAGODA_CUDA=ON)");
}

std::unique_ptr<ModelCuda> model_cuda_create_random(const ModelConfig&, const KvCacheOptions&, const GpuOptions&) {
  fail("device 'cuda' is not available: this build has no CUDA backend (configure with -DPAGODA_CUDA=ON)");
}

}  // namespace pagoda

#endif
