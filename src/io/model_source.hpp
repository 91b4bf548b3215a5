// A model on disk, whatever its format: a .gguf file or a Hugging Face folder. Tensors are
// exposed under GGUF's canonical names (token_embd.weight, blk.N.attn_q.weight, output_norm.weight,
// ...) so the model layer never sees format differences; the data stays memory-mapped.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "io/gguf.hpp"
#include "io/model_config.hpp"
#include "io/safetensors.hpp"

namespace pagoda {

enum class ModelFormat : uint8_t { MODEL_FORMAT_GGUF, MODEL_FORMAT_HF };

class ModelSource {
 public:
  static std::unique_ptr<ModelSource> open(const std::string& path);  // file or folder

  ModelFormat format() const { return format_; }
  const std::string& path() const { return path_; }
  const ModelConfig& config() const { return config_; }
  const TensorDesc* find(const std::string& canonical_name) const;
  const TensorDesc& require(const std::string& canonical_name) const;  // throws naming the tensor
  const std::map<std::string, const TensorDesc*>& tensors() const { return by_name_; }
  const GgufFile* gguf() const { return gguf_.get(); }           // null for HF folders
  std::string tokenizer_json_path() const;                        // "" when absent (HF folders)
  uint64_t total_bytes() const;                                   // bytes of tensor data

 private:
  ModelSource() = default;
  ModelFormat format_ = ModelFormat::MODEL_FORMAT_GGUF;
  std::string path_;
  ModelConfig config_;
  std::unique_ptr<GgufFile> gguf_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const TensorDesc*> by_name_;
};

}  // namespace pagoda
