// safetensors reader and float32 writer. Promises: the header length is bounded before it is read,
// JSON errors become pagoda::Error "<file>: <problem>", and every tensor's byte range is checked
// (inside the data section, size = dtype x shape, no overlaps). Tensor data is not copied.
#include "io/safetensors.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>

#include "core/checked_math.hpp"
#include "core/error.hpp"

namespace pagoda {

namespace {

using json = nlohmann::json;

// The Rust reference implementation caps headers at 100 MB; a real header is a few hundred kB.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

std::optional<DType> dtype_from_safetensors(const std::string& s) {
  if (s == "F32") return DType::DTYPE_F32;
  if (s == "F16") return DType::DTYPE_F16;
  if (s == "BF16") return DType::DTYPE_BF16;
  if (s == "F64") return DType::DTYPE_F64;
  if (s == "I32") return DType::DTYPE_I32;
  if (s == "I64") return DType::DTYPE_I64;
  if (s == "I8") return DType::DTYPE_I8;
  if (s == "U8") return DType::DTYPE_U8;
  return std::nullopt;
}

// A JSON number that is a non-negative integer (nlohmann keeps integers and floats apart).
bool as_u64(const json& j, uint64_t* out) {
  if (j.is_number_unsigned()) {
    *out = j.get<uint64_t>();
    return true;
  }
  if (j.is_number_integer() && j.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(j.get<int64_t>());
    return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  auto map = std::make_unique<MappedFile>(path);
  auto file = parse(map->bytes(), path);
  file->map_ = std::move(map);
  return file;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::parse(std::span<const uint8_t> bytes, const std::string& name) {
  auto bad = [&name]<typename... Args>(fmt::format_string<Args...> format, Args&&... args) {
    throw Error(name + ": " + fmt::format(format, std::forward<Args>(args)...));
  };
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  if (bytes.size() < 8) bad("too small to be a safetensors file ({} bytes)", bytes.size());
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[static_cast<size_t>(i)];
  if (header_len > kMaxHeaderBytes) bad("header length {} exceeds the {} byte limit", header_len, kMaxHeaderBytes);
  if (header_len > bytes.size() - 8) bad("header length {} exceeds the {} bytes after it", header_len, bytes.size() - 8);
  const uint8_t* header_begin = bytes.data() + 8;
  const std::span<const uint8_t> data = bytes.subspan(static_cast<size_t>(8 + header_len));

  // nlohmann silently keeps the last of duplicate keys; the callback sees every top-level key first.
  std::set<std::string> seen;
  std::string duplicate;
  json header;
  try {
    header = json::parse(header_begin, header_begin + header_len,
                         [&](int depth, json::parse_event_t event, json& parsed) {
                           if (event == json::parse_event_t::key && depth == 1 && parsed.is_string() &&
                               !seen.insert(parsed.get<std::string>()).second && duplicate.empty())
                             duplicate = parsed.get<std::string>();
                           return true;
                         });
  } catch (const json::exception& e) {
    bad("invalid JSON header: {}", e.what());
  }
  if (!duplicate.empty()) bad("duplicate tensor name '{}' in the header", duplicate);
  if (!header.is_object()) bad("header is not a JSON object");

  struct Range {
    uint64_t begin, end;
    size_t tensor;
  };
  std::vector<Range> ranges;
  for (const auto& [key, entry] : header.items()) {
    if (key == "__metadata__") {
      if (!entry.is_object()) bad("__metadata__ is not an object");
      for (const auto& [mk, mv] : entry.items()) {
        if (!mv.is_string()) bad("__metadata__ value for '{}' is not a string", mk);
        f->metadata_[mk] = mv.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object()) bad("entry for tensor '{}' is not an object", key);
    const auto dt = entry.find("dtype");
    const auto sh = entry.find("shape");
    const auto off = entry.find("data_offsets");
    if (dt == entry.end() || !dt->is_string()) bad("tensor '{}' has no string dtype", key);
    if (sh == entry.end() || !sh->is_array()) bad("tensor '{}' has no shape array", key);
    if (off == entry.end() || !off->is_array() || off->size() != 2) bad("tensor '{}' has no [begin, end] data_offsets", key);

    TensorDesc t;
    t.name = key;
    const std::optional<DType> dtype = dtype_from_safetensors(dt->get<std::string>());
    if (!dtype) bad("tensor '{}' has unsupported dtype {}", key, dt->get<std::string>());
    t.dtype = *dtype;
    uint64_t count = 1;
    for (const json& d : *sh) {
      uint64_t v;
      if (!as_u64(d, &v) || v > static_cast<uint64_t>(INT64_MAX)) bad("tensor '{}' has a dimension that is not a non-negative integer", key);
      if (!checked_mul(count, v, &count) || count > static_cast<uint64_t>(INT64_MAX)) bad("tensor '{}': element count overflows", key);
      t.shape.push_back(static_cast<int64_t>(v));
    }
    uint64_t begin, end, nbytes;
    if (!as_u64((*off)[0], &begin) || !as_u64((*off)[1], &end)) bad("tensor '{}' data_offsets are not non-negative integers", key);
    if (begin > end) bad("tensor '{}' data_offsets [{}, {}] run backwards", key, begin, end);
    if (end > data.size()) bad("tensor '{}' data_offsets [{}, {}] lie outside the {} byte data section", key, begin, end, data.size());
    if (!checked_mul(count, dtype_info(t.dtype).block_bytes, &nbytes) || end - begin != nbytes)
      bad("tensor '{}' holds {} bytes but {} x {} elements need {}", key, end - begin, dt->get<std::string>(), count,
          count * dtype_info(t.dtype).block_bytes);
    t.data = data.subspan(static_cast<size_t>(begin), static_cast<size_t>(end - begin));
    ranges.push_back({begin, end, f->tensors_.size()});
    f->tensors_.push_back(std::move(t));
  }

  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  const Range* prev = nullptr;
  for (const Range& r : ranges) {
    if (r.begin == r.end) continue;  // empty tensors occupy no bytes
    if (prev && prev->end > r.begin)
      bad("tensors '{}' and '{}' overlap", f->tensors_[prev->tensor].name, f->tensors_[r.tensor].name);
    prev = &r;
  }

  // File order (by offset) is the order a reader of the file would list them in.
  std::vector<TensorDesc> ordered;
  ordered.reserve(f->tensors_.size());
  for (const Range& r : ranges) ordered.push_back(std::move(f->tensors_[r.tensor]));
  f->tensors_ = std::move(ordered);
  for (size_t i = 0; i < f->tensors_.size(); ++i) f->index_[f->tensors_[i].name] = i;
  return f;
}

const TensorDesc* SafetensorsFile::find(const std::string& tensor_name) const {
  auto it = index_.find(tensor_name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void safetensors_write_f32(const std::string& path, const std::vector<F32TensorOut>& tensors) {
  json header = json::object();
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const F32TensorOut& t : tensors) {
    PAGODA_CHECK(t.name != "__metadata__" && names.insert(t.name).second, "{}: duplicate or reserved tensor name '{}'", path,
                 t.name);
    const uint64_t bytes = mul_or_fail(element_count_or_fail(t.shape, "tensor shape"), 4, "tensor size");
    PAGODA_CHECK(bytes == 0 || t.data != nullptr, "{}: tensor '{}' has no data", path, t.name);
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset = add_or_fail(offset, bytes, "safetensors data size");
  }
  std::string text = header.dump();
  // Pad the header with spaces so the data section starts 8-byte aligned, as the reference writer does.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (!out) fail("{}: cannot open for writing: {}", path, std::strerror(errno));
  uint8_t len_le[8];
  for (int i = 0; i < 8; ++i) len_le[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  bool ok = std::fwrite(len_le, 1, 8, out) == 8 && std::fwrite(text.data(), 1, text.size(), out) == text.size();
  // Tensors go in the order their offsets were assigned; float32 is written in host (little-endian) order.
  for (const F32TensorOut& t : tensors) {
    const size_t n = static_cast<size_t>(element_count_or_fail(t.shape, "tensor shape"));
    if (ok && n > 0) ok = std::fwrite(t.data, sizeof(float), n, out) == n;
  }
  ok = (std::fclose(out) == 0) && ok;
  if (!ok) fail("{}: write failed: {}", path, std::strerror(errno));
}

}  // namespace pagoda
