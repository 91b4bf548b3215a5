// Binding checks every shape against the config before any kernel touches the data.
#include "model/llama_weights.hpp"

#include <fmt/ranges.h>

#include "core/error.hpp"

namespace pagoda {

cpu::WeightView weight_view(const TensorDesc& t, int64_t rows, int64_t cols) {
  PAGODA_CHECK(t.shape.size() == 2 && t.shape[0] == rows && t.shape[1] == cols,
               "tensor {} has shape [{}], expected [{}, {}]", t.name, fmt::join(t.shape, ", "), rows, cols);
  auto row_bytes = dtype_row_bytes(t.dtype, static_cast<uint64_t>(cols));
  PAGODA_CHECK(row_bytes.has_value(), "tensor {}: {} columns are not whole {} blocks", t.name, cols,
               dtype_info(t.dtype).name);
  PAGODA_CHECK(*row_bytes * static_cast<uint64_t>(rows) == t.data.size(), "tensor {}: data size {} does not match its shape",
               t.name, t.data.size());
  cpu::WeightView w;
  w.dtype = t.dtype;
  w.rows = rows;
  w.cols = cols;
  w.data = t.data.data();
  w.row_bytes = *row_bytes;
  return w;
}

namespace {

std::vector<float> vector_f32(const TensorDesc& t, int64_t n) {
  PAGODA_CHECK(t.numel() == n && t.shape.size() <= 2, "tensor {} has {} elements, expected {}", t.name, t.numel(), n);
  PAGODA_CHECK(!dtype_info(t.dtype).quantized || dtype_row_bytes(t.dtype, n).has_value(),
               "tensor {}: unsupported layout", t.name);
  auto bytes = dtype_row_bytes(t.dtype, static_cast<uint64_t>(n));
  PAGODA_CHECK(bytes && *bytes == t.data.size(), "tensor {}: data size does not match", t.name);
  std::vector<float> out(static_cast<size_t>(n));
  cpu::dequantize_row(t.dtype, t.data.data(), out.data(), n);
  return out;
}

}  // namespace

LlamaWeights llama_weights_bind(const ModelSource& src) {
  const ModelConfig& c = src.config();
  const int64_t hidden = c.hidden_size, q_dim = c.num_heads * c.head_dim, kv_dim = c.num_kv_heads * c.head_dim;
  LlamaWeights w;
  w.token_embd = weight_view(src.require("token_embd.weight"), c.vocab_size, hidden);
  const TensorDesc* out = src.find("output.weight");
  w.output = (out && !c.tie_word_embeddings) ? weight_view(*out, c.vocab_size, hidden) : w.token_embd;
  w.output_norm = vector_f32(src.require("output_norm.weight"), hidden);
  w.layers.resize(static_cast<size_t>(c.num_layers));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    auto name = [i](const char* suffix) { return fmt::format("blk.{}.{}", i, suffix); };
    LlamaLayerWeights& l = w.layers[static_cast<size_t>(i)];
    l.attn_norm = vector_f32(src.require(name("attn_norm.weight")), hidden);
    l.ffn_norm = vector_f32(src.require(name("ffn_norm.weight")), hidden);
    l.wq = weight_view(src.require(name("attn_q.weight")), q_dim, hidden);
    l.wk = weight_view(src.require(name("attn_k.weight")), kv_dim, hidden);
    l.wv = weight_view(src.require(name("attn_v.weight")), kv_dim, hidden);
    l.wo = weight_view(src.require(name("attn_output.weight")), hidden, q_dim);
    l.w_gate = weight_view(src.require(name("ffn_gate.weight")), c.intermediate_size, hidden);
    l.w_up = weight_view(src.require(name("ffn_up.weight")), c.intermediate_size, hidden);
    l.w_down = weight_view(src.require(name("ffn_down.weight")), hidden, c.intermediate_size);
    if (c.attention_bias) {
      l.bq = vector_f32(src.require(name("attn_q.bias")), q_dim);
      l.bk = vector_f32(src.require(name("attn_k.bias")), kv_dim);
      l.bv = vector_f32(src.require(name("attn_v.bias")), kv_dim);
    }
  }
  return w;
}

}  // namespace pagoda
