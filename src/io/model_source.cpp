// ModelSource: opens a .gguf file or a Hugging Face folder (config.json + one safetensors file or a
// sharded index) and names every tensor the GGUF way. Promises: each shard is mapped once, shard
// names cannot escape the folder, two files never provide the same tensor. Does not check shapes.
#include "io/model_source.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/error.hpp"

namespace pagoda {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Hugging Face Llama-family names -> GGUF canonical names; unknown names pass through unchanged.
std::string canonical_name(const std::string& hf) {
  static const std::map<std::string, std::string> kTop = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  static const std::map<std::string, std::string> kLayer = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.o_proj.bias", "attn_output.bias"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  if (auto it = kTop.find(hf); it != kTop.end()) return it->second;
  static const std::regex kLayerName(R"(model\.layers\.(0|[1-9][0-9]{0,8})\.(.+))");
  std::smatch m;
  if (std::regex_match(hf, m, kLayerName)) {
    if (auto it = kLayer.find(m[2].str()); it != kLayer.end()) return "blk." + m[1].str() + "." + it->second;
  }
  return hf;
}

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path);
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
}

}  // namespace

std::unique_ptr<ModelSource> ModelSource::open(const std::string& path) {
  std::unique_ptr<ModelSource> s(new ModelSource());
  s->path_ = path;
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("{}: no such file or folder", path);

  if (!fs::is_directory(path, ec)) {
    s->format_ = ModelFormat::MODEL_FORMAT_GGUF;
    s->gguf_ = GgufFile::open(path);
    s->config_ = model_config_from_gguf(*s->gguf_);
    for (const TensorDesc& t : s->gguf_->tensors()) s->by_name_[t.name] = &t;
    return s;
  }

  s->format_ = ModelFormat::MODEL_FORMAT_HF;
  const fs::path dir(path);
  const fs::path config = dir / "config.json";
  if (!fs::is_regular_file(config, ec)) fail("{}: no config.json (expected a .gguf file or a Hugging Face folder)", path);
  s->config_ = model_config_from_hf_json(config.string());

  // Shard file name -> the tensors the index says it holds (empty list for a single-file model).
  std::map<std::string, std::vector<std::string>> shards;
  const fs::path index = dir / "model.safetensors.index.json";
  if (fs::is_regular_file(index, ec)) {
    const std::string index_path = index.string();
    json j = read_json(index_path);
    auto wm = j.is_object() ? j.find("weight_map") : j.end();
    if (wm == j.end() || !wm->is_object()) fail("{}: no weight_map object", index_path);
    for (const auto& [tensor, shard] : wm->items()) {
      if (!shard.is_string()) fail("{}: weight_map entry for {} is not a file name", index_path, tensor);
      const std::string file = shard.get<std::string>();
      // Shards live in the folder itself; a path could read any file on the machine.
      if (file.empty() || file.find('/') != std::string::npos || file.find('\\') != std::string::npos || file == "." ||
          file == "..")
        fail("{}: shard name '{}' is not a plain file name", index_path, file);
      shards[file].push_back(tensor);
    }
    if (shards.empty()) fail("{}: weight_map is empty", index_path);
  } else if (fs::is_regular_file(dir / "model.safetensors", ec)) {
    shards["model.safetensors"] = {};
  } else {
    fail("{}: no model.safetensors or model.safetensors.index.json", path);
  }

  for (const auto& [file, listed] : shards) {
    const fs::path shard_path = dir / file;
    if (!fs::is_regular_file(shard_path, ec)) fail("{}: missing shard {}", path, file);
    s->shards_.push_back(SafetensorsFile::open(shard_path.string()));
    const SafetensorsFile& shard = *s->shards_.back();
    for (const std::string& name : listed)
      if (!shard.find(name)) fail("{}: tensor {} is listed in the index but not in the shard", shard_path.string(), name);
    for (const TensorDesc& t : shard.tensors()) {
      const std::string canon = canonical_name(t.name);
      if (!s->by_name_.emplace(canon, &t).second)
        fail("{}: tensor {} ({}) is provided twice", shard_path.string(), t.name, canon);
    }
  }
  // Tied models either say so or simply ship no lm_head.
  if (!s->by_name_.count("output.weight")) s->config_.tie_word_embeddings = true;
  return s;
}

const TensorDesc* ModelSource::find(const std::string& canonical_name) const {
  auto it = by_name_.find(canonical_name);
  return it == by_name_.end() ? nullptr : it->second;
}

const TensorDesc& ModelSource::require(const std::string& canonical_name) const {
  const TensorDesc* t = find(canonical_name);
  if (!t) fail("{}: missing tensor {}", path_, canonical_name);
  return *t;
}

std::string ModelSource::tokenizer_json_path() const {
  if (format_ != ModelFormat::MODEL_FORMAT_HF) return "";
  const fs::path p = fs::path(path_) / "tokenizer.json";
  std::error_code ec;
  return fs::is_regular_file(p, ec) ? p.string() : std::string();
}

uint64_t ModelSource::total_bytes() const {
  uint64_t n = 0;
  for (const auto& [name, t] : by_name_) n += t->data.size();
  return n;
}

}  // namespace pagoda
