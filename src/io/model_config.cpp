// ModelConfig from GGUF metadata or a Hugging Face config.json, and its validation. Promises: a
// missing required field or a field of the wrong JSON type is a pagoda::Error naming the file and
// the key; `validate` rejects sizes no real model has. Does not check tensors (the model layer does).
#include "io/model_config.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "io/gguf.hpp"

namespace pagoda {

namespace {

using json = nlohmann::json;

bool supported_architecture(const std::string& a) { return a == "llama" || a == "mistral" || a == "qwen2"; }

// --- GGUF ---

int64_t gguf_required_int(const GgufFile& g, const std::string& key) {
  std::optional<int64_t> v = g.get_int(key);
  if (!v) fail("{}: missing metadata {}", g.name(), key);
  return *v;
}

bool gguf_has_tensor(const GgufFile& g, const std::string& name) {
  for (const TensorDesc& t : g.tensors())
    if (t.name == name) return true;
  return false;
}

// --- config.json ---

struct JsonConfig {
  const json& j;
  const std::string& path;

  const json* get(const char* key) const {
    auto it = j.find(key);
    return (it == j.end() || it->is_null()) ? nullptr : &*it;
  }
  std::optional<int64_t> int_opt(const char* key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) fail("{}: {} must be an integer", path, key);
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) fail("{}: {} is too large", path, key);
    return v->get<int64_t>();
  }
  int64_t int_req(const char* key) const {
    std::optional<int64_t> v = int_opt(key);
    if (!v) fail("{}: missing {}", path, key);
    return *v;
  }
  std::optional<double> num_opt(const char* key) const { return number_in(j, key); }
  std::optional<double> number_in(const json& obj, const char* key) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_number()) fail("{}: {} must be a number", path, key);
    return it->get<double>();
  }
  std::optional<bool> bool_opt(const char* key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) fail("{}: {} must be true or false", path, key);
    return v->get<bool>();
  }
  std::optional<std::string> string_opt(const char* key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) fail("{}: {} must be a string", path, key);
    return v->get<std::string>();
  }
  // bos/eos ids are an integer or a list of them (the first is the one to prepend / stop on).
  int64_t token_id(const char* key) const {
    const json* v = get(key);
    if (!v) return -1;
    const json* first = v;
    if (v->is_array()) {
      if (v->empty()) return -1;
      first = &(*v)[0];
    }
    if (!first->is_number_integer()) fail("{}: {} must be an integer or a list of integers", path, key);
    return first->get<int64_t>();
  }

  // Reads the scaling fields of an old `rope_scaling` or a new `rope_parameters` object.
  void read_scaling(const json& s, const char* what, RopeScaling* out) const {
    if (!s.is_object()) fail("{}: {} must be an object", path, what);
    std::string type = "default";
    for (const char* key : {"rope_type", "type"}) {
      auto it = s.find(key);
      if (it != s.end() && !it->is_null()) {
        if (!it->is_string()) fail("{}: {}.{} must be a string", path, what, key);
        type = it->get<std::string>();
        break;
      }
    }
    out->type = type;
    if (auto v = number_in(s, "factor")) out->factor = *v;
    if (auto v = number_in(s, "low_freq_factor")) out->low_freq_factor = *v;
    if (auto v = number_in(s, "high_freq_factor")) out->high_freq_factor = *v;
    if (auto v = number_in(s, "original_max_position_embeddings")) out->original_max_position_embeddings = *v;
  }
};

}  // namespace

ModelConfig model_config_from_gguf(const GgufFile& g) {
  ModelConfig c;
  std::optional<std::string> arch = g.get_string("general.architecture");
  if (!arch) fail("{}: missing metadata general.architecture", g.name());
  c.architecture = *arch;
  if (!supported_architecture(c.architecture))
    fail("{}: unsupported architecture '{}' (supported: llama, mistral, qwen2)", g.name(), c.architecture);
  const std::string a = c.architecture + ".";
  c.name = g.get_string("general.name").value_or("");
  c.num_layers = gguf_required_int(g, a + "block_count");
  c.hidden_size = gguf_required_int(g, a + "embedding_length");
  c.intermediate_size = gguf_required_int(g, a + "feed_forward_length");
  c.num_heads = gguf_required_int(g, a + "attention.head_count");
  c.num_kv_heads = g.get_int(a + "attention.head_count_kv").value_or(c.num_heads);
  c.max_position_embeddings = gguf_required_int(g, a + "context_length");
  c.rms_norm_eps = g.get_float(a + "attention.layer_norm_rms_epsilon").value_or(1e-5);
  c.rope_theta = g.get_float(a + "rope.freq_base").value_or(10000.0);
  if (std::optional<int64_t> kl = g.get_int(a + "attention.key_length")) {
    c.head_dim = *kl;
  } else {
    if (c.num_heads <= 0 || c.hidden_size % c.num_heads != 0)
      fail("{}: {} heads do not divide the hidden size {}", g.name(), c.num_heads, c.hidden_size);
    c.head_dim = c.hidden_size / c.num_heads;
  }
  c.rope_dim = g.get_int(a + "rope.dimension_count").value_or(c.head_dim);

  // llama.cpp spells scaling as rope.scaling.{type,factor,original_context_length}.
  if (std::optional<std::string> st = g.get_string(a + "rope.scaling.type")) {
    c.rope_scaling.type = (*st == "none") ? "default" : *st;
  }
  if (std::optional<double> f = g.get_float(a + "rope.scaling.factor")) {
    c.rope_scaling.factor = *f;
    if (c.rope_scaling.type == "default" && *f != 1.0 && !g.find(a + "rope.scaling.type")) c.rope_scaling.type = "linear";
  }
  if (std::optional<double> o = g.get_float(a + "rope.scaling.original_context_length"))
    c.rope_scaling.original_max_position_embeddings = *o;

  if (std::optional<int64_t> v = g.get_int(a + "vocab_size")) {
    c.vocab_size = *v;
  } else if (const GgufArray* tokens = g.get_array("tokenizer.ggml.tokens")) {
    c.vocab_size = static_cast<int64_t>(tokens->items.size());
  } else {
    for (const TensorDesc& t : g.tensors())
      if (t.name == "token_embd.weight" && !t.shape.empty()) c.vocab_size = t.shape[0];
  }
  c.bos_token_id = g.get_int("tokenizer.ggml.bos_token_id").value_or(-1);
  c.eos_token_id = g.get_int("tokenizer.ggml.eos_token_id").value_or(-1);
  c.sliding_window = g.get_int(a + "attention.sliding_window").value_or(0);

  c.tie_word_embeddings = !gguf_has_tensor(g, "output.weight");
  c.attention_bias = gguf_has_tensor(g, "blk.0.attn_q.bias");
  // llama.cpp's converter permutes llama/mistral q and k so that pairs are adjacent; qwen2 is not permuted.
  c.rope_pairing = (c.architecture == "qwen2") ? RopePairing::ROPE_PAIRING_HALF : RopePairing::ROPE_PAIRING_INTERLEAVED;
  c.validate(g.name());
  return c;
}

ModelConfig model_config_from_hf_json(const std::string& config_json_path) {
  const std::string& path = config_json_path;
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path);
  std::stringstream ss;
  ss << in.rdbuf();
  json j;
  try {
    j = json::parse(ss.str());
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
  if (!j.is_object()) fail("{}: not a JSON object", path);
  JsonConfig cfg{j, path};

  ModelConfig c;
  std::optional<std::string> model_type = cfg.string_opt("model_type");
  if (!model_type) fail("{}: missing model_type", path);
  c.architecture = *model_type;
  if (!supported_architecture(c.architecture))
    fail("{}: unsupported model_type '{}' (supported: llama, mistral, qwen2)", path, c.architecture);
  c.name = cfg.string_opt("_name_or_path").value_or("");
  c.vocab_size = cfg.int_req("vocab_size");
  c.hidden_size = cfg.int_req("hidden_size");
  c.intermediate_size = cfg.int_req("intermediate_size");
  c.num_layers = cfg.int_req("num_hidden_layers");
  c.num_heads = cfg.int_req("num_attention_heads");
  c.num_kv_heads = cfg.int_opt("num_key_value_heads").value_or(c.num_heads);
  if (std::optional<int64_t> hd = cfg.int_opt("head_dim")) {
    c.head_dim = *hd;
  } else {
    if (c.num_heads <= 0 || c.hidden_size % c.num_heads != 0)
      fail("{}: num_attention_heads {} does not divide hidden_size {} (and no head_dim is given)", path, c.num_heads,
           c.hidden_size);
    c.head_dim = c.hidden_size / c.num_heads;
  }
  // Defaults are those of the transformers config classes.
  const int64_t default_max_pos = c.architecture == "llama" ? 2048 : c.architecture == "qwen2" ? 32768 : 4096 * 32;
  c.max_position_embeddings = cfg.int_opt("max_position_embeddings").value_or(default_max_pos);
  c.rms_norm_eps = cfg.num_opt("rms_norm_eps").value_or(1e-6);
  c.rope_theta = cfg.num_opt("rope_theta").value_or(10000.0);
  if (const json* s = cfg.get("rope_scaling")) cfg.read_scaling(*s, "rope_scaling", &c.rope_scaling);
  // transformers >= 5 moves theta and scaling into one `rope_parameters` object.
  if (const json* p = cfg.get("rope_parameters")) {
    cfg.read_scaling(*p, "rope_parameters", &c.rope_scaling);
    if (auto t = cfg.number_in(*p, "rope_theta")) c.rope_theta = *t;
  }
  c.rope_dim = c.head_dim;
  if (std::optional<double> prf = cfg.num_opt("partial_rotary_factor")) {
    if (!(*prf > 0.0 && *prf <= 1.0)) fail("{}: partial_rotary_factor {} is not in (0, 1]", path, *prf);
    c.rope_dim = static_cast<int64_t>(static_cast<double>(c.head_dim) * *prf);
  }
  c.tie_word_embeddings = cfg.bool_opt("tie_word_embeddings").value_or(false);
  // Qwen2 always has q/k/v biases; Llama says so in `attention_bias`; Mistral never has them.
  c.attention_bias = c.architecture == "qwen2" ? true : cfg.bool_opt("attention_bias").value_or(false);
  c.bos_token_id = cfg.token_id("bos_token_id");
  c.eos_token_id = cfg.token_id("eos_token_id");
  if (c.architecture == "qwen2") {
    if (cfg.bool_opt("use_sliding_window").value_or(false)) c.sliding_window = cfg.int_opt("sliding_window").value_or(0);
  } else if (c.architecture == "mistral") {
    c.sliding_window = cfg.int_opt("sliding_window").value_or(0);
  }
  c.rope_pairing = RopePairing::ROPE_PAIRING_HALF;  // transformers' rotate_half
  c.validate(path);
  return c;
}

void ModelConfig::validate(const std::string& source) const {
  auto in_range = [&](const char* what, int64_t v, int64_t hi) {
    if (v <= 0) fail("{}: {} is {}, must be positive", source, what, v);
    if (v > hi) fail("{}: {} is {}, larger than any supported model ({} at most)", source, what, v, hi);
  };
  if (!supported_architecture(architecture))
    fail("{}: unsupported architecture '{}' (supported: llama, mistral, qwen2)", source, architecture);
  in_range("number of layers", num_layers, 100'000);
  in_range("hidden size", hidden_size, int64_t{1} << 20);
  in_range("intermediate size", intermediate_size, int64_t{1} << 22);
  in_range("number of attention heads", num_heads, int64_t{1} << 14);
  in_range("number of key/value heads", num_kv_heads, int64_t{1} << 14);
  in_range("head dimension", head_dim, int64_t{1} << 14);
  in_range("vocabulary size", vocab_size, int64_t{1} << 24);
  in_range("context length", max_position_embeddings, int64_t{1} << 30);
  if (num_heads % num_kv_heads != 0)
    fail("{}: {} attention heads are not a multiple of {} key/value heads", source, num_heads, num_kv_heads);
  if (rope_dim <= 0 || rope_dim > head_dim || rope_dim % 2 != 0)
    fail("{}: rope dimension {} must be even and between 2 and the head dimension {}", source, rope_dim, head_dim);
  if (!(std::isfinite(rms_norm_eps) && rms_norm_eps > 0.0 && rms_norm_eps < 1.0))
    fail("{}: rms_norm_eps {} is not in (0, 1)", source, rms_norm_eps);
  if (!(std::isfinite(rope_theta) && rope_theta > 0.0)) fail("{}: rope theta {} must be positive", source, rope_theta);
  if (sliding_window < 0) fail("{}: sliding window {} is negative", source, sliding_window);
  const RopeScaling& s = rope_scaling;
  if (s.type != "default" && s.type != "linear" && s.type != "llama3")
    fail("{}: unsupported rope scaling type '{}' (supported: default, linear, llama3)", source, s.type);
  if (s.type != "default" && !(std::isfinite(s.factor) && s.factor > 0.0))
    fail("{}: rope scaling factor {} must be positive", source, s.factor);
  if (s.type == "llama3" &&
      !(std::isfinite(s.low_freq_factor) && std::isfinite(s.high_freq_factor) && s.low_freq_factor > 0.0 &&
        s.high_freq_factor > s.low_freq_factor && std::isfinite(s.original_max_position_embeddings) &&
        s.original_max_position_embeddings > 0.0))
    fail("{}: llama3 rope scaling needs 0 < low_freq_factor ({}) < high_freq_factor ({}) and a positive "
         "original_max_position_embeddings ({})",
         source, s.low_freq_factor, s.high_freq_factor, s.original_max_position_embeddings);
}

}  // namespace pagoda
