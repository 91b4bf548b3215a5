// The weights of a Llama-family model (llama, mistral, qwen2), bound to a ModelSource's mapped
// tensors without copying matrices. Shapes are checked against the config when binding, so a
// file that lies about its shapes fails here with the tensor's name, not later in a kernel.
#pragma once

#include <vector>

#include "backend/cpu/ops.hpp"
#include "io/model_source.hpp"

namespace pagoda {

struct LlamaLayerWeights {
  std::vector<float> attn_norm;  // [hidden]
  cpu::WeightView wq, wk, wv, wo;
  std::vector<float> bq, bk, bv;  // empty when the model has no q/k/v bias
  std::vector<float> ffn_norm;    // [hidden]
  cpu::WeightView w_gate, w_up, w_down;
};

struct LlamaWeights {
  cpu::WeightView token_embd;  // [V, hidden]
  cpu::WeightView output;      // [V, hidden]; the embedding table when tied
  std::vector<float> output_norm;
  std::vector<LlamaLayerWeights> layers;
};

LlamaWeights llama_weights_bind(const ModelSource& source);

// A tensor as a matrix view; throws naming the tensor if it is not 2-D [rows, cols].
cpu::WeightView weight_view(const TensorDesc& t, int64_t rows, int64_t cols);

}  // namespace pagoda
