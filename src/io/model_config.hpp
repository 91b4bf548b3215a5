// The hyper-parameters of a Llama-family model, read from GGUF metadata or a Hugging Face
// config.json (older `rope_theta`/`rope_scaling` and newer `rope_parameters` spellings alike).
#pragma once

#include <cstdint>
#include <string>

namespace pagoda {

class GgufFile;

// How RoPE pairs dimensions: INTERLEAVED rotates (2i, 2i+1) — what llama.cpp's converter leaves in
// GGUF llama q/k weights; HALF rotates (i, i + D/2) — Hugging Face's rotate_half, and GGUF qwen2.
enum class RopePairing : uint8_t { ROPE_PAIRING_INTERLEAVED, ROPE_PAIRING_HALF };

struct RopeScaling {
  std::string type = "default";  // "default" | "llama3" | "linear"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  double original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string architecture;  // "llama" | "mistral" | "qwen2"
  std::string name;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  int64_t rope_dim = 0;  // rotated dims per head (= head_dim for these models)
  RopeScaling rope_scaling;
  RopePairing rope_pairing = RopePairing::ROPE_PAIRING_HALF;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v bias (qwen2)
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;
  int64_t sliding_window = 0;  // 0 = none

  void validate(const std::string& source) const;  // throws pagoda::Error on impossible values
};

ModelConfig model_config_from_gguf(const GgufFile& gguf);
ModelConfig model_config_from_hf_json(const std::string& config_json_path);

}  // namespace pagoda
