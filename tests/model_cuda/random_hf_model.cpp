// Random weights scaled like a trained model's activations (unit-RMS residual, 1/sqrt(K) matrices)
// so logits are spread enough that top-1 comparisons mean something; bf16 on disk so both
// backends start from identical values.
#include "random_hf_model.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "core/dtype.hpp"

namespace pagoda::test {

std::string write_random_hf_model(const RandomModelShape& s, uint64_t seed) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / fmt::format("pagoda-rand-{}-{}", s.name, seed);
  fs::create_directories(dir);
  std::mt19937_64 rng(seed);
  struct T {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<uint16_t> data;
  };
  std::vector<T> ts;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float mean, float sd) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::normal_distribution<float> nd(mean, sd);
    T t{name, shape, std::vector<uint16_t>(static_cast<size_t>(n))};
    for (auto& v : t.data) v = f32_to_bf16(sd == 0 ? mean : nd(rng));
    ts.push_back(std::move(t));
  };
  const int64_t q = s.heads * s.head_dim, kv = s.kv_heads * s.head_dim;
  const float in_sd = 1.0f / std::sqrt(float(s.hidden));
  add("model.embed_tokens.weight", {s.vocab, s.hidden}, 0, 1.0f);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    add(p + "input_layernorm.weight", {s.hidden}, 1.0f, 0.1f);
    add(p + "post_attention_layernorm.weight", {s.hidden}, 1.0f, 0.1f);
    add(p + "self_attn.q_proj.weight", {q, s.hidden}, 0, in_sd);
    add(p + "self_attn.k_proj.weight", {kv, s.hidden}, 0, in_sd);
    add(p + "self_attn.v_proj.weight", {kv, s.hidden}, 0, in_sd);
    if (s.arch == "qwen2") {
      add(p + "self_attn.q_proj.bias", {q}, 0, 0.5f);
      add(p + "self_attn.k_proj.bias", {kv}, 0, 0.5f);
      add(p + "self_attn.v_proj.bias", {kv}, 0, 0.5f);
    }
    add(p + "self_attn.o_proj.weight", {s.hidden, q}, 0, 1.0f / std::sqrt(float(q)));
    add(p + "mlp.gate_proj.weight", {s.intermediate, s.hidden}, 0, in_sd);
    add(p + "mlp.up_proj.weight", {s.intermediate, s.hidden}, 0, in_sd);
    add(p + "mlp.down_proj.weight", {s.hidden, s.intermediate}, 0, 1.0f / std::sqrt(float(s.intermediate)));
  }
  add("model.norm.weight", {s.hidden}, 1.0f, 0.1f);
  if (!s.tied) add("lm_head.weight", {s.vocab, s.hidden}, 0, 3.0f * in_sd);

  nlohmann::json header = nlohmann::json::object();
  uint64_t off = 0;
  for (const T& t : ts) {
    const uint64_t bytes = t.data.size() * 2;
    header[t.name] = {{"dtype", "BF16"}, {"shape", t.shape}, {"data_offsets", {off, off + bytes}}};
    off += bytes;
  }
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';
  std::ofstream f(dir / "model.safetensors", std::ios::binary);
  const uint64_t hlen = h.size();
  f.write(reinterpret_cast<const char*>(&hlen), 8);
  f.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const T& t : ts) f.write(reinterpret_cast<const char*>(t.data.data()), static_cast<std::streamsize>(t.data.size() * 2));
  f.close();

  nlohmann::json cfg = {{"architectures", {s.arch == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"}},
                        {"model_type", s.arch},
                        {"hidden_size", s.hidden},
                        {"intermediate_size", s.intermediate},
                        {"num_hidden_layers", s.layers},
                        {"num_attention_heads", s.heads},
                        {"num_key_value_heads", s.kv_heads},
                        {"head_dim", s.head_dim},
                        {"vocab_size", s.vocab},
                        {"rms_norm_eps", 1e-6},
                        {"rope_theta", 10000.0},
                        {"max_position_embeddings", 4096},
                        {"tie_word_embeddings", s.tied},
                        {"attention_bias", s.arch == "qwen2"},
                        {"hidden_act", "silu"},
                        {"torch_dtype", "bfloat16"}};
  std::ofstream(dir / "config.json") << cfg.dump(2);
  return dir.string();
}

}  // namespace pagoda::test
