// RoPE inverse frequencies for a model config, with llama3-style and linear scaling applied.
// The result feeds cpu::rope_apply and the CUDA RoPE kernels alike.
#pragma once

#include <vector>

#include "io/model_config.hpp"

namespace pagoda {

// inv_freq [rope_dim / 2]: theta^(-2i / rope_dim), rescaled as the config's rope_scaling says.
std::vector<float> rope_inv_freq(const ModelConfig& config);

}  // namespace pagoda
