// Llama-family forward pass on the CPU backend: embedding, then per layer RMSNorm -> q/k/v (+bias)
// -> RoPE -> KV append -> paged attention -> o-proj + residual -> RMSNorm -> SwiGLU MLP + residual,
// then the final norm and LM head only for the rows that need logits. Scratch buffers are sized
// once per batch size and reused.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "io/model_source.hpp"
#include "model/kv_cache_cpu.hpp"
#include "model/llama_weights.hpp"
#include "model/model.hpp"
#include "model/rope_freqs.hpp"

namespace pagoda {

namespace {

DType kv_dtype_from_name(const std::string& name) {
  if (name == "f32") return DType::DTYPE_F32;
  if (name == "f16") return DType::DTYPE_F16;
  if (name == "bf16") return DType::DTYPE_BF16;
  fail("unknown KV cache dtype '{}' (use f32, f16 or bf16)", name);
}

class LlamaCpu final : public Model {
 public:
  LlamaCpu(std::shared_ptr<const ModelSource> source, const KvCacheOptions& kv)
      : source_(std::move(source)),
        config_(source_->config()),
        weights_(llama_weights_bind(*source_)),
        inv_freq_(rope_inv_freq_for(*source_)),
        cache_(config_.num_layers, std::max<int64_t>(1, (kv.max_tokens + kv.page_size - 1) / kv.page_size),
               PagedKvLayout{kv.page_size, static_cast<int32_t>(config_.num_kv_heads),
                             static_cast<int32_t>(config_.head_dim), kv_dtype_from_name(kv.dtype)}) {
    PAGODA_CHECK(kv.page_size > 0 && kv.page_size <= 4096, "page size {} out of range", kv.page_size);
  }

  const ModelConfig& config() const override { return config_; }
  int32_t page_size() const override { return cache_.layout().page_size; }
  int64_t num_pages() const override { return cache_.num_pages(); }
  uint64_t kv_cache_bytes() const override { return cache_.bytes(); }
  void kv_copy_page(int32_t src, int32_t dst) override { cache_.copy_page(src, dst); }
  std::string describe() const override {
    return fmt::format("{} ({} layers, hidden {}, {} heads / {} kv heads, head dim {}, vocab {}) on cpu, KV {} x {} tokens {}",
                       config_.architecture, config_.num_layers, config_.hidden_size, config_.num_heads,
                       config_.num_kv_heads, config_.head_dim, config_.vocab_size, cache_.num_pages(),
                       cache_.layout().page_size, dtype_info(cache_.layout().dtype).name);
  }

  void forward(const ForwardBatch& b, float* logits) override {
    const int64_t T = b.num_tokens();
    PAGODA_CHECK(T > 0, "empty batch");
    forward_batch_validate(b, config_.vocab_size, cache_.num_pages(), cache_.layout().page_size);
    resize_scratch(T);
    const ModelConfig& c = config_;
    const int64_t hidden = c.hidden_size, H = c.num_heads, Hkv = c.num_kv_heads, D = c.head_dim;
    const int64_t F = c.intermediate_size;
    const bool interleaved = c.rope_pairing == RopePairing::ROPE_PAIRING_INTERLEAVED;
    const int64_t rope_dim = c.rope_dim > 0 ? c.rope_dim : D;

    AttentionBatch ab;
    ab.num_seqs = b.num_seqs();
    ab.cu_seqlens_q = b.cu_seqlens_q.data();
    ab.kv_lens = b.kv_lens.data();
    ab.block_table = b.block_table.data();
    ab.max_pages_per_seq = b.max_pages_per_seq;
    ab.causal = true;
    ab.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));

    float* x = x_.data();
    cpu::embedding_lookup(weights_.token_embd, b.tokens.data(), T, x);
    for (int64_t l = 0; l < c.num_layers; ++l) {
      const LlamaLayerWeights& w = weights_.layers[static_cast<size_t>(l)];
      cpu::rmsnorm(x, w.attn_norm.data(), T, hidden, static_cast<float>(c.rms_norm_eps), h_.data());
      cpu::matmul(w.wq, h_.data(), T, q_.data(), w.bq.empty() ? nullptr : w.bq.data());
      cpu::matmul(w.wk, h_.data(), T, k_.data(), w.bk.empty() ? nullptr : w.bk.data());
      cpu::matmul(w.wv, h_.data(), T, v_.data(), w.bv.empty() ? nullptr : w.bv.data());
      cpu::rope_apply(q_.data(), T, H, D, rope_dim, b.positions.data(), inv_freq_.data(), interleaved);
      cpu::rope_apply(k_.data(), T, Hkv, D, rope_dim, b.positions.data(), inv_freq_.data(), interleaved);
      PagedKvView view = cache_.view(l);
      cpu::kv_append(view, k_.data(), v_.data(), T, b.slot_mapping.data());
      cpu::attention_paged(q_.data(), H, view, ab, attn_.data());
      cpu::matmul(w.wo, attn_.data(), T, h_.data());
      cpu::add_inplace(x, h_.data(), T * hidden);
      cpu::rmsnorm(x, w.ffn_norm.data(), T, hidden, static_cast<float>(c.rms_norm_eps), h_.data());
      cpu::matmul(w.w_gate, h_.data(), T, gate_.data());
      cpu::matmul(w.w_up, h_.data(), T, up_.data());
      cpu::silu_mul(gate_.data(), up_.data(), T * F, gate_.data());
      cpu::matmul(w.w_down, gate_.data(), T, h_.data());
      cpu::add_inplace(x, h_.data(), T * hidden);
    }
    const int64_t R = static_cast<int64_t>(b.logit_rows.size());
    if (R == 0) return;
    for (int64_t r = 0; r < R; ++r) {
      const int32_t row = b.logit_rows[static_cast<size_t>(r)];
      std::copy_n(x + row * hidden, hidden, h_.data() + r * hidden);
    }
    cpu::rmsnorm(h_.data(), weights_.output_norm.data(), R, hidden, static_cast<float>(c.rms_norm_eps), h_.data());
    cpu::matmul(weights_.output, h_.data(), R, logits);
  }

 private:

  void resize_scratch(int64_t T) {
    if (T <= scratch_tokens_) return;
    const ModelConfig& c = config_;
    const auto n = [T](int64_t width) { return static_cast<size_t>(T * width); };
    x_.resize(n(c.hidden_size));
    h_.resize(n(std::max(c.hidden_size, c.num_heads * c.head_dim)));
    q_.resize(n(c.num_heads * c.head_dim));
    k_.resize(n(c.num_kv_heads * c.head_dim));
    v_.resize(n(c.num_kv_heads * c.head_dim));
    attn_.resize(n(c.num_heads * c.head_dim));
    gate_.resize(n(c.intermediate_size));
    up_.resize(n(c.intermediate_size));
    scratch_tokens_ = T;
  }

  std::shared_ptr<const ModelSource> source_;
  ModelConfig config_;
  LlamaWeights weights_;
  std::vector<float> inv_freq_;
  CpuKvCache cache_;
  int64_t scratch_tokens_ = 0;
  std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_;
};

}  // namespace

std::unique_ptr<Model> model_cpu_create(std::shared_ptr<const ModelSource> source, const KvCacheOptions& kv) {
  const std::string& arch = source->config().architecture;
  PAGODA_CHECK(arch == "llama" || arch == "mistral" || arch == "qwen2", "{}: unsupported architecture '{}'",
               source->path(), arch);
  return std::make_unique<LlamaCpu>(std::move(source), kv);
}

}  // namespace pagoda
