// A byte-level GGUF writer for tests: it writes exactly what it is told (including wrong counts,
// bad offsets and broken values), so tests can build both valid files and hostile ones.
// It follows the GGUF spec independently of src/io/gguf.cpp; it does not validate anything.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

namespace pagoda::test {

struct ByteWriter {
  std::vector<uint8_t> bytes;
  template <typename T>
  ByteWriter& put(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));  // the test hosts are little-endian, as GGUF is
    bytes.insert(bytes.end(), tmp, tmp + sizeof(T));
    return *this;
  }
  ByteWriter& str(const std::string& s) {
    put<uint64_t>(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  ByteWriter& raw(const std::vector<uint8_t>& b) {
    bytes.insert(bytes.end(), b.begin(), b.end());
    return *this;
  }
};

// GGUF metadata value type ids and ggml tensor type ids, from the GGUF spec / ggml.h.
enum : uint32_t { T_U8 = 0, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STRING, T_ARRAY, T_U64, T_I64, T_F64 };
enum : uint32_t { GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q4_1 = 3, GGML_Q5_0 = 6, GGML_Q8_0 = 8, GGML_Q4_K = 12,
                  GGML_Q6_K = 14, GGML_BF16 = 30 };

class GgufBuilder {
 public:
  uint32_t magic = 0x46554747;
  uint32_t version = 3;
  std::optional<uint64_t> tensor_count_override, kv_count_override;
  uint64_t alignment = 32;  // only used for padding before the data section

  GgufBuilder& kv_u32(const std::string& k, uint32_t v) { return key(k, T_U32).put(v), ++n_kv_, *this; }
  GgufBuilder& kv_i32(const std::string& k, int32_t v) { return key(k, T_I32).put(v), ++n_kv_, *this; }
  GgufBuilder& kv_f32(const std::string& k, float v) { return key(k, T_F32).put(v), ++n_kv_, *this; }
  GgufBuilder& kv_str(const std::string& k, const std::string& v) { return key(k, T_STRING).str(v), ++n_kv_, *this; }
  GgufBuilder& kv_str_array(const std::string& k, const std::vector<std::string>& v) {
    key(k, T_ARRAY).put<uint32_t>(T_STRING).put<uint64_t>(v.size());
    for (const auto& s : v) kv_.str(s);
    ++n_kv_;
    return *this;
  }
  // Any key with hand-written value bytes (type id first), for the exotic and the broken.
  GgufBuilder& kv_raw(const std::string& k, const std::vector<uint8_t>& type_and_value) {
    kv_.str(k).raw(type_and_value);
    ++n_kv_;
    return *this;
  }
  // ne is ggml order (innermost first).
  GgufBuilder& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    info_.str(name).put<uint32_t>(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) info_.put(d);
    info_.put(type).put(offset);
    ++n_tensors_;
    return *this;
  }
  GgufBuilder& tensor_raw(const std::vector<uint8_t>& info_bytes) {
    info_.raw(info_bytes);
    ++n_tensors_;
    return *this;
  }
  // Bytes of the data section (placed after padding to `alignment`).
  std::vector<uint8_t> data;

  std::vector<uint8_t> build() const {
    ByteWriter w;
    w.put(magic).put(version).put<uint64_t>(tensor_count_override.value_or(n_tensors_));
    w.put<uint64_t>(kv_count_override.value_or(n_kv_));
    w.raw(kv_.bytes).raw(info_.bytes);
    while (w.bytes.size() % alignment != 0) w.bytes.push_back(0);
    w.raw(data);
    return w.bytes;
  }

 private:
  ByteWriter& key(const std::string& k, uint32_t type) { return kv_.str(k).put(type); }
  ByteWriter kv_, info_;
  uint64_t n_kv_ = 0, n_tensors_ = 0;
};

inline void write_file(const std::filesystem::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

// A fresh empty folder under the system temp dir, removed when the object dies.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag) {
    path = std::filesystem::temp_directory_path() /
           ("pagoda_io_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace pagoda::test
