// GGUF v2/v3 reader: metadata (every value type, nested arrays) and tensor descriptors whose data
// stays in the memory map. Input is hostile: every count, length and offset is checked against the
// bytes present before anything is allocated; failures throw pagoda::Error naming the file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/mapped_file.hpp"
#include "io/tensor_desc.hpp"

namespace pagoda {

enum class GgufType : uint32_t {
  GGUF_TYPE_UINT8 = 0,
  GGUF_TYPE_INT8 = 1,
  GGUF_TYPE_UINT16 = 2,
  GGUF_TYPE_INT16 = 3,
  GGUF_TYPE_UINT32 = 4,
  GGUF_TYPE_INT32 = 5,
  GGUF_TYPE_FLOAT32 = 6,
  GGUF_TYPE_BOOL = 7,
  GGUF_TYPE_STRING = 8,
  GGUF_TYPE_ARRAY = 9,
  GGUF_TYPE_UINT64 = 10,
  GGUF_TYPE_INT64 = 11,
  GGUF_TYPE_FLOAT64 = 12,
};

struct GgufValue;
struct GgufArray {
  GgufType elem_type;
  std::vector<GgufValue> items;
};

// A metadata value: integers widen to int64/uint64, floats to double.
struct GgufValue {
  GgufType type;
  std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> value;
};

class GgufFile {
 public:
  static std::unique_ptr<GgufFile> open(const std::string& path);  // maps and parses
  // Parses bytes owned by the caller (used by the fuzzer); `name` appears in messages.
  static std::unique_ptr<GgufFile> parse(std::span<const uint8_t> bytes, const std::string& name);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find(const std::string& key) const;

  // Typed getters: nullopt when absent; throw pagoda::Error when present with the wrong type.
  std::optional<std::string> get_string(const std::string& key) const;
  std::optional<int64_t> get_int(const std::string& key) const;  // any integer type
  std::optional<double> get_float(const std::string& key) const;  // any float or integer type
  std::optional<bool> get_bool(const std::string& key) const;
  const GgufArray* get_array(const std::string& key) const;

  const std::vector<TensorDesc>& tensors() const { return tensors_; }
  const std::string& name() const { return name_; }

 private:
  GgufFile() = default;
  std::unique_ptr<MappedFile> map_;
  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t> index_;
  std::vector<TensorDesc> tensors_;
};

std::string gguf_type_name(GgufType t);

}  // namespace pagoda
