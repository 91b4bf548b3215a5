// safetensors reader/writer tests: the committed tiny-llama-gqa fixture against values read by
// Python's safetensors, a write/read round trip, and hostile headers (each a pagoda::Error naming
// the file).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/test_paths.hpp"
#include "core/error.hpp"
#include "io/gguf_builder.hpp"
#include "io/safetensors.hpp"

namespace pagoda {
namespace {

const std::string kName = "hostile.safetensors";

std::vector<uint8_t> make_file(const std::string& header, size_t data_bytes, uint64_t length_override = 0) {
  test::ByteWriter w;
  w.put<uint64_t>(length_override ? length_override : header.size());
  w.bytes.insert(w.bytes.end(), header.begin(), header.end());
  w.bytes.resize(w.bytes.size() + data_bytes, 0x11);
  return w.bytes;
}

void expect_rejected(const std::vector<uint8_t>& bytes, const std::string& what) {
  try {
    SafetensorsFile::parse(bytes, kName);
    ADD_FAILURE() << "accepted a file that should fail with: " << what;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(kName + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << "message: " << msg << "\nexpected to contain: " << what;
  }
}

float f32_at(const TensorDesc& t, size_t i) {
  float v;
  std::memcpy(&v, t.data.data() + 4 * i, 4);
  return v;
}
double f64_sum(const TensorDesc& t) {
  double s = 0;
  for (size_t i = 0; i < t.data.size() / 4; ++i) s += f32_at(t, i);
  return s;
}

// Expected values from Python:
//   d = safetensors.numpy.load_file("tests/fixtures/tiny-llama-gqa/model.safetensors")
//   a = d[name]; a.shape, a.flat[0], a.flat[1], a.flat[-1], a.astype(np.float64).sum()
// and the header length from struct.unpack('<Q', first 8 bytes) (4152; file 13186112 bytes).
TEST(Safetensors, TinyLlamaFixture) {
  const std::string path = test::fixtures_dir() + "/tiny-llama-gqa/model.safetensors";
  auto f = SafetensorsFile::open(path);
  EXPECT_EQ(f->tensors().size(), 39u);
  ASSERT_EQ(f->metadata().size(), 1u);
  EXPECT_EQ(f->metadata().at("format"), "pt");
  struct Expect {
    const char* name;
    std::vector<int64_t> shape;
    float first, second, last;
    double sum;
  };
  const Expect cases[] = {
      {"model.embed_tokens.weight", {1024, 256}, -0.235892f, -0.15945074f, 0.11809646f, 12.698365729505326},
      {"lm_head.weight", {1024, 256}, 0.08811421f, 0.12088698f, 0.11500534f, -9.849965296952334},
      {"model.norm.weight", {256}, 1.0283225f, 1.0178648f, 0.8607813f, 256.244711458683},
      {"model.layers.0.self_attn.k_proj.weight", {64, 256}, -0.03414097f, 0.13443358f, -0.017877037f, 5.887489246279529},
      {"model.layers.3.mlp.down_proj.weight", {256, 688}, -0.045183744f, -0.020023398f, -0.13501155f, 15.270809500008568},
      {"model.layers.1.input_layernorm.weight", {256}, 0.90934914f, 0.9718793f, 0.90210915f, 257.4368566274643},
  };
  uint64_t total = 0;
  for (const TensorDesc& t : f->tensors()) total += t.data.size();
  EXPECT_EQ(total, 13186112u - 8u - 4152u);  // the tensors cover the whole data section
  for (const Expect& c : cases) {
    const TensorDesc* t = f->find(c.name);
    ASSERT_NE(t, nullptr) << c.name;
    EXPECT_EQ(t->dtype, DType::DTYPE_F32);
    EXPECT_EQ(t->shape, c.shape) << c.name;
    ASSERT_EQ(t->data.size(), static_cast<size_t>(t->numel()) * 4);
    EXPECT_EQ(f32_at(*t, 0), c.first) << c.name;
    EXPECT_EQ(f32_at(*t, 1), c.second) << c.name;
    EXPECT_EQ(f32_at(*t, static_cast<size_t>(t->numel()) - 1), c.last) << c.name;
    EXPECT_NEAR(f64_sum(*t), c.sum, 1e-9 * (1 + std::fabs(c.sum))) << c.name;
  }
  EXPECT_EQ(f->find("absent"), nullptr);
  // Listed in file order: offsets increase.
  for (size_t i = 1; i < f->tensors().size(); ++i)
    EXPECT_LT(f->tensors()[i - 1].data.data(), f->tensors()[i].data.data());
}

TEST(Safetensors, WriteReadRoundTrip) {
  test::TempDir dir("st_write");
  const std::string path = (dir.path / "out.safetensors").string();
  std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f};
  std::vector<float> b = {42.0f};
  safetensors_write_f32(path, {{"logits", {2, 3}, a.data()}, {"scalar", {}, b.data()}, {"empty", {0, 5}, nullptr}});
  auto f = SafetensorsFile::open(path);
  ASSERT_EQ(f->tensors().size(), 3u);
  const TensorDesc* t = f->find("logits");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dtype, DType::DTYPE_F32);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(t->data.size(), 24u);
  EXPECT_EQ(std::memcmp(t->data.data(), a.data(), 24), 0);
  const TensorDesc* s = f->find("scalar");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->shape.empty());
  EXPECT_EQ(f32_at(*s, 0), 42.0f);
  EXPECT_EQ(f->find("empty")->data.size(), 0u);

  // The layout the format asks for: u64 little-endian header length, the header padded so the
  // data section starts 8-byte aligned, then the data.
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<size_t>(i)];
  EXPECT_EQ((8 + n) % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 28);
  EXPECT_EQ(bytes[8], '{');

  EXPECT_THROW(safetensors_write_f32(path, {{"x", {1}, b.data()}, {"x", {1}, b.data()}}), Error);
  EXPECT_THROW(safetensors_write_f32(path, {{"x", {-1}, b.data()}}), Error);
  EXPECT_THROW(safetensors_write_f32((dir.path / "no/such/dir/x.safetensors").string(), {{"x", {1}, b.data()}}), Error);
}

TEST(Safetensors, OtherDtypes) {
  const std::string h =
      R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},)"
      R"("c":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},"d":{"dtype":"I64","shape":[1],"data_offsets":[16,24]},)"
      R"("e":{"dtype":"I32","shape":[1],"data_offsets":[24,28]},"f":{"dtype":"I8","shape":[2],"data_offsets":[28,30]},)"
      R"("g":{"dtype":"U8","shape":[2],"data_offsets":[30,32]},"__metadata__":{"k":"v"}})";
  auto f = SafetensorsFile::parse(make_file(h, 32), kName);
  ASSERT_EQ(f->tensors().size(), 7u);
  EXPECT_EQ(f->find("a")->dtype, DType::DTYPE_F16);
  EXPECT_EQ(f->find("b")->dtype, DType::DTYPE_BF16);
  EXPECT_EQ(f->find("c")->dtype, DType::DTYPE_F64);
  EXPECT_EQ(f->find("d")->dtype, DType::DTYPE_I64);
  EXPECT_EQ(f->find("e")->dtype, DType::DTYPE_I32);
  EXPECT_EQ(f->find("f")->dtype, DType::DTYPE_I8);
  EXPECT_EQ(f->find("g")->dtype, DType::DTYPE_U8);
  EXPECT_EQ(f->metadata().at("k"), "v");
}

const std::string kValidHeader =
    R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F16","shape":[4],"data_offsets":[16,24]}})";

TEST(SafetensorsHostile, EveryTruncationIsRejected) {
  const std::vector<uint8_t> full = make_file(kValidHeader, 24);
  ASSERT_NO_THROW(SafetensorsFile::parse(full, kName));
  for (size_t cut = 0; cut < full.size(); ++cut) {
    std::vector<uint8_t> part(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut));
    try {
      SafetensorsFile::parse(part, kName);
      ADD_FAILURE() << "prefix of " << cut << " bytes accepted";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(kName + ": ", 0), 0u) << e.what();
    }
  }
}

TEST(SafetensorsHostile, HeaderLength) {
  expect_rejected({1, 2, 3}, "too small");
  expect_rejected(make_file(kValidHeader, 24, uint64_t{1} << 62), "exceeds the 100000000 byte limit");
  expect_rejected(make_file(kValidHeader, 24, UINT64_MAX), "exceeds the 100000000 byte limit");
  expect_rejected(make_file(kValidHeader, 24, 5000), "exceeds the");
  expect_rejected(make_file(kValidHeader, 0, kValidHeader.size() - 1), "invalid JSON");
}

TEST(SafetensorsHostile, BadJson) {
  expect_rejected(make_file("{\"a\":", 0), "invalid JSON");
  expect_rejected(make_file("\xff\xfe", 0), "invalid JSON");
  expect_rejected(make_file("", 0), "invalid JSON");
  expect_rejected(make_file("[1,2]", 0), "not a JSON object");
  expect_rejected(make_file("{\"a\":[]}", 0), "entry for tensor 'a' is not an object");
  expect_rejected(make_file(R"({"a":{"dtype":5,"shape":[1],"data_offsets":[0,4]}})", 4), "no string dtype");
  expect_rejected(make_file(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4), "no string dtype");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":{},"data_offsets":[0,4]}})", 4), "no shape array");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", 8), "data_offsets");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":"0-4"}})", 8), "data_offsets");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4), "not a non-negative integer");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4), "not a non-negative integer");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}})", 4), "not a non-negative integer");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,-4]}})", 4), "not non-negative integers");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,1e30]}})", 4), "not non-negative integers");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999999]}})", 4),
                  "not non-negative integers");
  expect_rejected(make_file(R"({"__metadata__":{"k":1}})", 0), "__metadata__ value for 'k' is not a string");
  expect_rejected(make_file(R"({"__metadata__":[]})", 0), "__metadata__ is not an object");
  // Deep nesting must not overflow a stack.
  expect_rejected(make_file(std::string(100000, '[') + std::string(100000, ']'), 0), "not a JSON object");
}

TEST(SafetensorsHostile, BadTensors) {
  expect_rejected(make_file(R"({"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", 1), "unsupported dtype F8_E4M3");
  expect_rejected(make_file(R"({"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})", 1), "unsupported dtype BOOL");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,0]}})", 8), "run backwards");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 7), "lie outside the 7 byte data section");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 8), "holds 4 bytes");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}})", 12), "holds 12 bytes");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})", 4),
                  "element count overflows");
  expect_rejected(make_file(R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}})", 8), "holds 8 bytes");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                            12),
                  "tensors 'a' and 'b' overlap");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                            16),
                  "duplicate tensor name 'a'");
  // Empty tensors take no bytes and may share an offset with anything.
  auto ok = SafetensorsFile::parse(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                             R"("z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
                                             8),
                                   kName);
  EXPECT_EQ(ok->find("z")->data.size(), 0u);
}

TEST(SafetensorsHostile, RandomCorruptionNeverCrashes) {
  const std::vector<uint8_t> full = make_file(kValidHeader, 24);
  std::mt19937 rng(99);
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> b = full;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    try {
      SafetensorsFile::parse(b, kName);
    } catch (const Error& e) {
      ASSERT_EQ(std::string(e.what()).rfind(kName + ": ", 0), 0u) << e.what();
    }
  }
}

}  // namespace
}  // namespace pagoda
