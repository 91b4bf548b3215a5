// safetensors reader (single file) and Hugging Face folder loader (config.json plus one file or a
// sharded model.safetensors.index.json). Header JSON is validated like any hostile input: offsets
// in range, ordered, non-overlapping, sizes equal to dtype × shape, no duplicate names.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.hpp"
#include "io/tensor_desc.hpp"

namespace pagoda {

class SafetensorsFile {
 public:
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);
  static std::unique_ptr<SafetensorsFile> parse(std::span<const uint8_t> bytes, const std::string& name);

  const std::vector<TensorDesc>& tensors() const { return tensors_; }
  const TensorDesc* find(const std::string& tensor_name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }  // "__metadata__"

 private:
  SafetensorsFile() = default;
  std::unique_ptr<MappedFile> map_;
  std::vector<TensorDesc> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Writes float32 tensors (row-major) to a safetensors file; used by `pagoda logits`.
struct F32TensorOut {
  std::string name;
  std::vector<int64_t> shape;
  const float* data;
};
void safetensors_write_f32(const std::string& path, const std::vector<F32TensorOut>& tensors);

}  // namespace pagoda
