// GGUF v2/v3 parser. Promises: no allocation is sized from a count before that count is checked
// against the bytes left, every product and offset is overflow-checked, and each failure throws
// pagoda::Error "<file>: <problem>". Does not read tensor data; descriptors point into the bytes.
#include "io/gguf.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/checked_math.hpp"
#include "core/error.hpp"

namespace pagoda {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr int kMaxDepth = 8;             // nested arrays deeper than this are not metadata
constexpr uint32_t kMaxDims = 4;
// Every array element becomes a GgufValue (48 bytes); capping the total keeps a hostile file from
// asking for ~50x its size. Real tokenizer arrays (tokens + types + merges/scores) stay below ~1M.
constexpr uint64_t kMaxArrayElements = uint64_t{1} << 23;
// Vectors grow with what was actually parsed; the count only bounds the loop.
constexpr uint64_t kMaxReserve = 4096;

// ggml type ids (ggml.h) for the types Pagoda computes with.
std::optional<DType> dtype_from_ggml(uint32_t id) {
  switch (id) {
    case 0: return DType::DTYPE_F32;
    case 1: return DType::DTYPE_F16;
    case 2: return DType::DTYPE_Q4_0;
    case 3: return DType::DTYPE_Q4_1;
    case 8: return DType::DTYPE_Q8_0;
    case 12: return DType::DTYPE_Q4_K;
    case 14: return DType::DTYPE_Q6_K;
    case 30: return DType::DTYPE_BF16;
    default: return std::nullopt;
  }
}

// Smallest encoding of one value of `t`, used to bound counts before allocating.
uint64_t min_encoded_bytes(GgufType t) {
  switch (t) {
    case GgufType::GGUF_TYPE_UINT8:
    case GgufType::GGUF_TYPE_INT8:
    case GgufType::GGUF_TYPE_BOOL: return 1;
    case GgufType::GGUF_TYPE_UINT16:
    case GgufType::GGUF_TYPE_INT16: return 2;
    case GgufType::GGUF_TYPE_UINT32:
    case GgufType::GGUF_TYPE_INT32:
    case GgufType::GGUF_TYPE_FLOAT32: return 4;
    case GgufType::GGUF_TYPE_STRING: return 8;  // the length prefix
    case GgufType::GGUF_TYPE_ARRAY: return 12;  // element type + count
    case GgufType::GGUF_TYPE_UINT64:
    case GgufType::GGUF_TYPE_INT64:
    case GgufType::GGUF_TYPE_FLOAT64: return 8;
  }
  return 1;
}

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::GGUF_TYPE_FLOAT64); }

// A cursor over untrusted bytes; every read checks the remaining length first.
class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  template <typename... Args>
  [[noreturn]] void bad(fmt::format_string<Args...> format, Args&&... args) const {
    throw Error(name_ + ": " + fmt::format(format, std::forward<Args>(args)...));
  }

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  template <typename T>
  T read(const char* what) {
    if (remaining() < sizeof(T)) bad("truncated at byte {} reading {}", pos_, what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const char* what) {
    const uint64_t len = read<uint64_t>(what);
    if (len > remaining()) bad("{} length {} exceeds the {} bytes left in the file", what, len, remaining());
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

  GgufType read_type(const char* what) {
    const uint32_t t = read<uint32_t>(what);
    if (!valid_type(t)) bad("invalid metadata value type {} for {}", t, what);
    return static_cast<GgufType>(t);
  }

  GgufValue read_value(GgufType type, const std::string& key, int depth, uint64_t* elements) {
    GgufValue v;
    v.type = type;
    switch (type) {
      case GgufType::GGUF_TYPE_UINT8: v.value = uint64_t{read<uint8_t>(key.c_str())}; break;
      case GgufType::GGUF_TYPE_UINT16: v.value = uint64_t{read<uint16_t>(key.c_str())}; break;
      case GgufType::GGUF_TYPE_UINT32: v.value = uint64_t{read<uint32_t>(key.c_str())}; break;
      case GgufType::GGUF_TYPE_UINT64: v.value = read<uint64_t>(key.c_str()); break;
      case GgufType::GGUF_TYPE_INT8: v.value = int64_t{read<int8_t>(key.c_str())}; break;
      case GgufType::GGUF_TYPE_INT16: v.value = int64_t{read<int16_t>(key.c_str())}; break;
      case GgufType::GGUF_TYPE_INT32: v.value = int64_t{read<int32_t>(key.c_str())}; break;
      case GgufType::GGUF_TYPE_INT64: v.value = read<int64_t>(key.c_str()); break;
      case GgufType::GGUF_TYPE_FLOAT32: v.value = double{read<float>(key.c_str())}; break;
      case GgufType::GGUF_TYPE_FLOAT64: v.value = read<double>(key.c_str()); break;
      case GgufType::GGUF_TYPE_BOOL: {
        const uint8_t b = read<uint8_t>(key.c_str());
        if (b > 1) bad("metadata {}: bool value {} is neither 0 nor 1", key, b);
        v.value = b == 1;
        break;
      }
      case GgufType::GGUF_TYPE_STRING: v.value = read_string(key.c_str()); break;
      case GgufType::GGUF_TYPE_ARRAY: {
        if (depth >= kMaxDepth) bad("metadata {}: arrays nested deeper than {}", key, kMaxDepth);
        GgufArray arr;
        arr.elem_type = read_type(key.c_str());
        const uint64_t count = read<uint64_t>(key.c_str());
        // Bound the count by the bytes present before reserving anything.
        const uint64_t unit = min_encoded_bytes(arr.elem_type);
        if (count > remaining() / unit)
          bad("metadata {}: array of {} {} needs more than the {} bytes left", key, count,
              gguf_type_name(arr.elem_type), remaining());
        *elements += count;
        if (*elements > kMaxArrayElements)
          bad("metadata holds more than {} array elements in total", kMaxArrayElements);
        arr.items.reserve(static_cast<size_t>(std::min(count, kMaxReserve)));
        for (uint64_t i = 0; i < count; ++i) arr.items.push_back(read_value(arr.elem_type, key, depth + 1, elements));
        v.value = std::move(arr);
        break;
      }
    }
    return v;
  }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& name_;
  uint64_t pos_ = 0;
};

}  // namespace

std::string gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::GGUF_TYPE_UINT8: return "u8";
    case GgufType::GGUF_TYPE_INT8: return "i8";
    case GgufType::GGUF_TYPE_UINT16: return "u16";
    case GgufType::GGUF_TYPE_INT16: return "i16";
    case GgufType::GGUF_TYPE_UINT32: return "u32";
    case GgufType::GGUF_TYPE_INT32: return "i32";
    case GgufType::GGUF_TYPE_FLOAT32: return "f32";
    case GgufType::GGUF_TYPE_BOOL: return "bool";
    case GgufType::GGUF_TYPE_STRING: return "string";
    case GgufType::GGUF_TYPE_ARRAY: return "array";
    case GgufType::GGUF_TYPE_UINT64: return "u64";
    case GgufType::GGUF_TYPE_INT64: return "i64";
    case GgufType::GGUF_TYPE_FLOAT64: return "f64";
  }
  return fmt::format("type{}", static_cast<uint32_t>(t));
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  auto map = std::make_unique<MappedFile>(path);
  auto file = parse(map->bytes(), path);
  file->map_ = std::move(map);
  return file;
}

std::unique_ptr<GgufFile> GgufFile::parse(std::span<const uint8_t> bytes, const std::string& name) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->name_ = name;
  Reader r(bytes, f->name_);

  if (bytes.size() < 4) r.bad("too small to be a GGUF file ({} bytes)", bytes.size());
  const uint32_t magic = r.read<uint32_t>("magic");
  if (magic != kMagic) r.bad("not a GGUF file (bad magic)");
  const uint32_t version = r.read<uint32_t>("version");
  if (version == 1) r.bad("GGUF version 1 is not supported (re-convert the model with a current llama.cpp)");
  if (version == 0x02000000u || version == 0x03000000u) r.bad("big-endian GGUF files are not supported");
  if (version != 2 && version != 3) r.bad("unsupported GGUF version {}", version);
  f->version_ = version;

  const uint64_t n_tensors = r.read<uint64_t>("tensor count");
  const uint64_t n_kv = r.read<uint64_t>("metadata count");
  // A key-value pair takes at least 13 bytes (key length, value type, one byte of value), a tensor
  // info at least 32; counts beyond what fits are rejected before reserving.
  if (n_kv > r.remaining() / 13) r.bad("metadata count {} is larger than the file can hold", n_kv);
  if (n_tensors > r.remaining() / 32) r.bad("tensor count {} is larger than the file can hold", n_tensors);

  f->metadata_.reserve(static_cast<size_t>(std::min(n_kv, kMaxReserve)));
  uint64_t elements = 0;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.read_string("metadata key");
    if (f->index_.count(key)) r.bad("duplicate metadata key '{}'", key);
    const GgufType type = r.read_type(key.c_str());
    GgufValue value = r.read_value(type, key, 0, &elements);
    f->index_.emplace(key, f->metadata_.size());
    f->metadata_.emplace_back(std::move(key), std::move(value));
  }

  if (const GgufValue* a = f->find("general.alignment")) {
    const uint64_t* v = std::get_if<uint64_t>(&a->value);
    if (!v) r.bad("general.alignment must be an unsigned integer, got {}", gguf_type_name(a->type));
    if (*v == 0 || (*v & (*v - 1)) != 0) r.bad("general.alignment {} is not a power of two", *v);
    f->alignment_ = *v;
  }

  struct RawInfo {
    uint64_t offset, size;
  };
  std::vector<RawInfo> raw;
  raw.reserve(static_cast<size_t>(std::min(n_tensors, kMaxReserve)));
  f->tensors_.reserve(static_cast<size_t>(std::min(n_tensors, kMaxReserve)));
  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorDesc t;
    t.name = r.read_string("tensor name");
    if (!names.insert(t.name).second) r.bad("duplicate tensor name '{}'", t.name);
    const uint32_t n_dims = r.read<uint32_t>("tensor dimension count");
    if (n_dims == 0 || n_dims > kMaxDims) r.bad("tensor {} has {} dimensions (1 to {} supported)", t.name, n_dims, kMaxDims);
    uint64_t ne[kMaxDims];
    for (uint32_t d = 0; d < n_dims; ++d) {
      ne[d] = r.read<uint64_t>("tensor dimension");
      if (ne[d] > static_cast<uint64_t>(INT64_MAX)) r.bad("tensor {} dimension {} is {}, too large", t.name, d, ne[d]);
    }
    const uint32_t type_id = r.read<uint32_t>("tensor type");
    const std::optional<DType> dtype = dtype_from_ggml(type_id);
    if (!dtype) r.bad("unsupported tensor type {} ({})", type_id, t.name);
    t.dtype = *dtype;
    const uint64_t offset = r.read<uint64_t>("tensor offset");
    if (offset % f->alignment_ != 0)
      r.bad("tensor {} offset {} is not a multiple of the alignment {}", t.name, offset, f->alignment_);

    // ggml's ne[0] is the innermost (row) dimension; shapes here are outermost first.
    for (uint32_t d = n_dims; d-- > 0;) t.shape.push_back(static_cast<int64_t>(ne[d]));
    if (ne[0] % dtype_info(t.dtype).block_size != 0)
      r.bad("tensor {}: row of {} elements is not a whole number of {} blocks ({} elements each)", t.name, ne[0],
            dtype_info(t.dtype).name, dtype_info(t.dtype).block_size);
    const std::optional<uint64_t> row_bytes = dtype_row_bytes(t.dtype, ne[0]);
    if (!row_bytes) r.bad("tensor {}: size of its dimensions overflows", t.name);
    uint64_t size = *row_bytes, elems = ne[0];
    for (uint32_t d = 1; d < n_dims; ++d) {
      if (!checked_mul(size, ne[d], &size) || !checked_mul(elems, ne[d], &elems) || elems > static_cast<uint64_t>(INT64_MAX))
        r.bad("tensor {}: size of its dimensions overflows", t.name);
    }
    raw.push_back({offset, size});
    f->tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment after the tensor infos.
  uint64_t data_start;
  if (!checked_add(r.pos(), f->alignment_ - 1, &data_start)) r.bad("data section offset overflows");
  data_start -= data_start % f->alignment_;
  const uint64_t data_size = data_start <= bytes.size() ? bytes.size() - data_start : 0;

  for (size_t i = 0; i < raw.size(); ++i) {
    uint64_t end;
    if (raw[i].size == 0) {
      // An empty tensor has no bytes to bound; it still must not point past the data section.
      if (raw[i].offset > data_size) r.bad("tensor {} offset {} lies outside the file", f->tensors_[i].name, raw[i].offset);
      f->tensors_[i].data = {};
      continue;
    }
    if (!checked_add(raw[i].offset, raw[i].size, &end) || data_start > bytes.size() || end > data_size)
      r.bad("tensor {} data (offset {}, {} bytes) lies outside the file ({} bytes of tensor data)", f->tensors_[i].name,
            raw[i].offset, raw[i].size, data_size);
    f->tensors_[i].data = bytes.subspan(static_cast<size_t>(data_start + raw[i].offset), static_cast<size_t>(raw[i].size));
  }

  // Overlapping tensors would let one write alias another; sort by offset and compare neighbours.
  std::vector<size_t> order;
  for (size_t i = 0; i < raw.size(); ++i)
    if (raw[i].size > 0) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return raw[a].offset < raw[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const RawInfo& prev = raw[order[k - 1]];
    if (prev.offset + prev.size > raw[order[k]].offset)
      r.bad("tensors {} and {} overlap", f->tensors_[order[k - 1]].name, f->tensors_[order[k]].name);
  }
  return f;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &metadata_[it->second].second;
}

std::optional<std::string> GgufFile::get_string(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (const std::string* s = std::get_if<std::string>(&v->value)) return *s;
  fail("{}: metadata {} should be a string, is {}", name_, key, gguf_type_name(v->type));
}

std::optional<int64_t> GgufFile::get_int(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (const int64_t* i = std::get_if<int64_t>(&v->value)) return *i;
  if (const uint64_t* u = std::get_if<uint64_t>(&v->value)) {
    if (*u > static_cast<uint64_t>(INT64_MAX)) fail("{}: metadata {} value {} is too large", name_, key, *u);
    return static_cast<int64_t>(*u);
  }
  fail("{}: metadata {} should be an integer, is {}", name_, key, gguf_type_name(v->type));
}

std::optional<double> GgufFile::get_float(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (const double* d = std::get_if<double>(&v->value)) return *d;
  if (const int64_t* i = std::get_if<int64_t>(&v->value)) return static_cast<double>(*i);
  if (const uint64_t* u = std::get_if<uint64_t>(&v->value)) return static_cast<double>(*u);
  fail("{}: metadata {} should be a number, is {}", name_, key, gguf_type_name(v->type));
}

std::optional<bool> GgufFile::get_bool(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (const bool* b = std::get_if<bool>(&v->value)) return *b;
  fail("{}: metadata {} should be a bool, is {}", name_, key, gguf_type_name(v->type));
}

const GgufArray* GgufFile::get_array(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return nullptr;
  if (const GgufArray* a = std::get_if<GgufArray>(&v->value)) return a;
  fail("{}: metadata {} should be an array, is {}", name_, key, gguf_type_name(v->type));
}

}  // namespace pagoda
