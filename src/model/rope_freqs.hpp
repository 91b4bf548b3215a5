// RoPE inverse frequencies for a model config, with llama3-style and linear scaling applied.
// The result feeds cpu::rope_apply and the CUDA RoPE kernels alike.
#pragma once

#include <vector>

#include "io/model_config.hpp"

namespace pagoda {

// inv_freq [rope_dim / 2]: theta^(-2i / rope_dim), rescaled as the config's rope_scaling says.
std::vector<float> rope_inv_freq(const ModelConfig& config);

class ModelSource;
// As above, then divided by the file's per-dimension frequency factors when it carries them
// (llama.cpp stores Llama 3.1+ scaling as a `rope_freqs.weight` tensor instead of metadata).
std::vector<float> rope_inv_freq_for(const ModelSource& source);

}  // namespace pagoda
