// Writes a small random Llama-family model as a Hugging Face folder (config.json + bf16
// model.safetensors) so the CPU oracle and the CUDA model load the very same weights.
#pragma once

#include <cstdint>
#include <string>

namespace pagoda::test {

struct RandomModelShape {
  std::string name;
  std::string arch;  // llama | qwen2 (qwen2 carries q/k/v biases)
  int64_t hidden, intermediate, layers, heads, kv_heads, head_dim, vocab;
  bool tied;
};

// Returns the folder path (under the system temp dir, named after shape.name and seed).
std::string write_random_hf_model(const RandomModelShape& shape, uint64_t seed);

}  // namespace pagoda::test
