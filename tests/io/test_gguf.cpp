// GGUF reader tests: a hand-built file with every metadata type, hostile variants of it (each must
// throw pagoda::Error naming the file, never crash), and the real SmolLM2 file when it is present.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

#include "common/test_paths.hpp"
#include "core/error.hpp"
#include "io/gguf.hpp"
#include "io/gguf_builder.hpp"

namespace pagoda {
namespace {

using test::ByteWriter;
using test::GgufBuilder;

const std::string kName = "hostile.gguf";

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// A small valid file: every scalar type, strings, nested arrays, and two tensors.
GgufBuilder valid_builder() {
  GgufBuilder g;
  g.kv_str("general.architecture", "llama");
  g.kv_raw("k.u8", ByteWriter().put<uint32_t>(test::T_U8).put<uint8_t>(200).bytes);
  g.kv_raw("k.i8", ByteWriter().put<uint32_t>(test::T_I8).put<int8_t>(-100).bytes);
  g.kv_raw("k.u16", ByteWriter().put<uint32_t>(test::T_U16).put<uint16_t>(60000).bytes);
  g.kv_raw("k.i16", ByteWriter().put<uint32_t>(test::T_I16).put<int16_t>(-30000).bytes);
  g.kv_u32("k.u32", 4000000000u);
  g.kv_i32("k.i32", -2000000000);
  g.kv_f32("k.f32", 0.25f);
  g.kv_raw("k.bool", ByteWriter().put<uint32_t>(test::T_BOOL).put<uint8_t>(1).bytes);
  g.kv_raw("k.u64", ByteWriter().put<uint32_t>(test::T_U64).put<uint64_t>(UINT64_MAX).bytes);
  g.kv_raw("k.i64", ByteWriter().put<uint32_t>(test::T_I64).put<int64_t>(INT64_MIN).bytes);
  g.kv_raw("k.f64", ByteWriter().put<uint32_t>(test::T_F64).put<double>(-1.5e300).bytes);
  g.kv_str_array("k.strings", {"a", "", "héllo"});
  // [[1, 2], [], [3]] as an array of arrays of i32.
  g.kv_raw("k.nested", ByteWriter()
                           .put<uint32_t>(test::T_ARRAY).put<uint32_t>(test::T_ARRAY).put<uint64_t>(3)
                           .put<uint32_t>(test::T_I32).put<uint64_t>(2).put<int32_t>(1).put<int32_t>(2)
                           .put<uint32_t>(test::T_I32).put<uint64_t>(0)
                           .put<uint32_t>(test::T_I32).put<uint64_t>(1).put<int32_t>(3)
                           .bytes);
  g.kv_raw("k.empty", ByteWriter().put<uint32_t>(test::T_ARRAY).put<uint32_t>(test::T_F32).put<uint64_t>(0).bytes);
  // "w" is 2 x 3 float32 (ggml ne = {3, 2}); "q" is one Q8_0 row of 32 (34 bytes) at offset 32.
  g.tensor("w", {3, 2}, test::GGML_F32, 0);
  g.tensor("q", {32, 1}, test::GGML_Q8_0, 32);
  g.data = f32_bytes({1, 2, 3, 4, 5, 6});
  g.data.resize(32, 0xEE);
  for (int i = 0; i < 34; ++i) g.data.push_back(static_cast<uint8_t>(i));
  return g;
}

// Parses `bytes` expecting a pagoda::Error whose message names the file and contains `what`.
void expect_rejected(const std::vector<uint8_t>& bytes, const std::string& what) {
  try {
    GgufFile::parse(bytes, kName);
    ADD_FAILURE() << "accepted a file that should fail with: " << what;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(kName + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << "message: " << msg << "\nexpected to contain: " << what;
  }
}

TEST(Gguf, ParsesEveryValueTypeAndTensors) {
  for (uint32_t version : {2u, 3u}) {
    GgufBuilder g = valid_builder();
    g.version = version;
    auto f = GgufFile::parse(g.build(), kName);
    EXPECT_EQ(f->version(), version);
    EXPECT_EQ(f->alignment(), 32u);
    ASSERT_EQ(f->metadata().size(), 15u);
    EXPECT_EQ(f->metadata()[0].first, "general.architecture");  // file order is kept
    EXPECT_EQ(f->get_string("general.architecture"), "llama");
    EXPECT_EQ(f->get_int("k.u8"), 200);
    EXPECT_EQ(f->get_int("k.i8"), -100);
    EXPECT_EQ(f->get_int("k.u16"), 60000);
    EXPECT_EQ(f->get_int("k.i16"), -30000);
    EXPECT_EQ(f->get_int("k.u32"), 4000000000LL);
    EXPECT_EQ(f->get_int("k.i32"), -2000000000);
    EXPECT_EQ(f->get_float("k.f32"), 0.25);
    EXPECT_EQ(f->get_float("k.u32"), 4e9);  // integers read as floats too
    EXPECT_EQ(f->get_bool("k.bool"), true);
    EXPECT_EQ(std::get<uint64_t>(f->find("k.u64")->value), UINT64_MAX);
    EXPECT_THROW(f->get_int("k.u64"), Error);  // does not fit int64
    EXPECT_EQ(f->get_int("k.i64"), INT64_MIN);
    EXPECT_EQ(f->get_float("k.f64"), -1.5e300);
    EXPECT_EQ(f->find("k.f64")->type, GgufType::GGUF_TYPE_FLOAT64);
    const GgufArray* s = f->get_array("k.strings");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->elem_type, GgufType::GGUF_TYPE_STRING);
    ASSERT_EQ(s->items.size(), 3u);
    EXPECT_EQ(std::get<std::string>(s->items[2].value), "héllo");
    EXPECT_EQ(std::get<std::string>(s->items[1].value), "");
    const GgufArray* n = f->get_array("k.nested");
    ASSERT_NE(n, nullptr);
    ASSERT_EQ(n->items.size(), 3u);
    const auto& a0 = std::get<GgufArray>(n->items[0].value);
    ASSERT_EQ(a0.items.size(), 2u);
    EXPECT_EQ(std::get<int64_t>(a0.items[1].value), 2);
    EXPECT_TRUE(std::get<GgufArray>(n->items[1].value).items.empty());
    EXPECT_EQ(std::get<int64_t>(std::get<GgufArray>(n->items[2].value).items[0].value), 3);
    EXPECT_EQ(f->get_array("k.empty")->items.size(), 0u);
    EXPECT_EQ(f->get_int("absent"), std::nullopt);
    EXPECT_EQ(f->get_array("absent"), nullptr);

    // Wrong-type lookups name the file and the key.
    try {
      f->get_int("general.architecture");
      ADD_FAILURE();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("hostile.gguf: metadata general.architecture"), std::string::npos) << e.what();
    }
    EXPECT_THROW(f->get_string("k.u8"), Error);
    EXPECT_THROW(f->get_bool("k.u8"), Error);
    EXPECT_THROW(f->get_array("k.u8"), Error);
    EXPECT_THROW(f->get_float("k.strings"), Error);

    ASSERT_EQ(f->tensors().size(), 2u);
    const TensorDesc& w = f->tensors()[0];
    EXPECT_EQ(w.name, "w");
    EXPECT_EQ(w.dtype, DType::DTYPE_F32);
    EXPECT_EQ(w.shape, (std::vector<int64_t>{2, 3}));  // ne {3, 2} reversed
    ASSERT_EQ(w.data.size(), 24u);
    float vals[6];
    std::memcpy(vals, w.data.data(), 24);
    EXPECT_EQ(vals[0], 1.0f);
    EXPECT_EQ(vals[5], 6.0f);
    const TensorDesc& q = f->tensors()[1];
    EXPECT_EQ(q.dtype, DType::DTYPE_Q8_0);
    EXPECT_EQ(q.shape, (std::vector<int64_t>{1, 32}));
    ASSERT_EQ(q.data.size(), 34u);
    EXPECT_EQ(q.data[0], 0);
    EXPECT_EQ(q.data[33], 33);
  }
}

TEST(Gguf, MapsEveryGgmlTypeAndBlockSizes) {
  struct Case {
    uint32_t id;
    DType dtype;
    uint64_t ne0, bytes;  // bytes of one row of ne0 elements, from ggml's block tables
  };
  const Case cases[] = {{0, DType::DTYPE_F32, 3, 12},     {1, DType::DTYPE_F16, 3, 6},
                        {2, DType::DTYPE_Q4_0, 64, 36},   {3, DType::DTYPE_Q4_1, 64, 40},
                        {8, DType::DTYPE_Q8_0, 64, 68},   {12, DType::DTYPE_Q4_K, 256, 144},
                        {14, DType::DTYPE_Q6_K, 512, 420}, {30, DType::DTYPE_BF16, 5, 10}};
  for (const Case& c : cases) {
    GgufBuilder g;
    g.tensor("t", {c.ne0, 2}, c.id, 0);
    g.data.assign(2 * c.bytes, 7);
    auto f = GgufFile::parse(g.build(), kName);
    ASSERT_EQ(f->tensors().size(), 1u);
    EXPECT_EQ(f->tensors()[0].dtype, c.dtype) << c.id;
    EXPECT_EQ(f->tensors()[0].data.size(), 2 * c.bytes) << c.id;
  }
}

TEST(Gguf, CustomAlignmentAndDataStart) {
  GgufBuilder g;
  g.alignment = 64;
  g.kv_u32("general.alignment", 64);
  g.tensor("a", {4}, test::GGML_F32, 0);
  g.tensor("b", {4}, test::GGML_F32, 64);
  g.data = f32_bytes({1, 2, 3, 4});
  g.data.resize(64, 0);
  auto b = f32_bytes({5, 6, 7, 8});
  g.data.insert(g.data.end(), b.begin(), b.end());
  std::vector<uint8_t> bytes = g.build();
  auto f = GgufFile::parse(bytes, kName);
  EXPECT_EQ(f->alignment(), 64u);
  const size_t data_start = bytes.size() - g.data.size();
  EXPECT_EQ(data_start % 64, 0u);
  EXPECT_EQ(f->tensors()[0].data.data(), bytes.data() + data_start);
  EXPECT_EQ(f->tensors()[1].data.data(), bytes.data() + data_start + 64);
  // Offsets that are multiples of 32 but not of the declared 64 are rejected.
  GgufBuilder m;
  m.alignment = 64;
  m.kv_u32("general.alignment", 64);
  m.tensor("a", {4}, test::GGML_F32, 32);
  m.data.assign(64, 0);
  expect_rejected(m.build(), "not a multiple of the alignment 64");
}

TEST(Gguf, OpenNamesThePath) {
  test::TempDir dir("gguf_open");
  const auto path = dir.path / "valid.gguf";
  test::write_file(path, valid_builder().build());
  auto f = GgufFile::open(path.string());
  EXPECT_EQ(f->name(), path.string());
  EXPECT_EQ(f->tensors().size(), 2u);
  try {
    GgufFile::open((dir.path / "absent.gguf").string());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("absent.gguf"), std::string::npos);
  }
  const auto bad = dir.path / "bad.gguf";
  test::write_file(bad, std::string("GGUF\x01\0\0\0", 8));
  try {
    GgufFile::open(bad.string());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(bad.string() + ": ", 0), 0u) << e.what();
  }
}

TEST(GgufHostile, EveryTruncationIsRejected) {
  const std::vector<uint8_t> full = valid_builder().build();
  ASSERT_NO_THROW(GgufFile::parse(full, kName));
  for (size_t cut = 0; cut < full.size(); ++cut) {
    std::vector<uint8_t> part(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut));
    try {
      GgufFile::parse(part, kName);
      ADD_FAILURE() << "prefix of " << cut << " bytes accepted";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(kName + ": ", 0), 0u) << e.what();
    }
  }
}

TEST(GgufHostile, HeaderProblems) {
  GgufBuilder g = valid_builder();
  g.magic = 0x46554746;
  expect_rejected(g.build(), "bad magic");
  g = valid_builder();
  g.version = 1;
  expect_rejected(g.build(), "version 1 is not supported");
  g.version = 4;
  expect_rejected(g.build(), "unsupported GGUF version 4");
  g.version = 0x03000000;
  expect_rejected(g.build(), "big-endian");
  g = valid_builder();
  g.tensor_count_override = uint64_t{1} << 40;
  expect_rejected(g.build(), "tensor count");
  g = valid_builder();
  g.kv_count_override = UINT64_MAX;
  expect_rejected(g.build(), "metadata count");
  g = valid_builder();
  g.kv_count_override = 16;  // one more than present: the parser runs into the tensor infos
  expect_rejected(g.build(), "");
  expect_rejected({}, "too small");
}

TEST(GgufHostile, HugeLengthsAreRejectedWithoutAllocating) {
  // A key length of 2^60: rejected by comparing with the bytes left (allocating would abort).
  GgufBuilder g;
  g.kv_raw("", {});  // placeholder key "" followed by raw bytes below
  std::vector<uint8_t> bytes = g.build();
  bytes.resize(24);  // header only, kv count 1
  ByteWriter w;
  w.bytes = bytes;
  w.put<uint64_t>(uint64_t{1} << 60).put<uint32_t>(0).put<uint64_t>(0);  // enough bytes for one kv pair
  expect_rejected(w.bytes, "length 1152921504606846976 exceeds");

  GgufBuilder s;
  s.kv_raw("k", ByteWriter().put<uint32_t>(test::T_STRING).put<uint64_t>(uint64_t{1} << 60).bytes);
  expect_rejected(s.build(), "length 1152921504606846976 exceeds");

  GgufBuilder a;
  a.kv_raw("k", ByteWriter().put<uint32_t>(test::T_ARRAY).put<uint32_t>(test::T_U8).put<uint64_t>(uint64_t{1} << 40).bytes);
  expect_rejected(a.build(), "array of 1099511627776 u8");
  GgufBuilder as;
  as.kv_raw("k", ByteWriter().put<uint32_t>(test::T_ARRAY).put<uint32_t>(test::T_STRING).put<uint64_t>(UINT64_MAX).bytes);
  expect_rejected(as.build(), "array of");

  // Elements that are all present but exceed the total cap (2^23) are refused before parsing.
  GgufBuilder cap;
  const uint64_t n = (uint64_t{1} << 23) + 1;
  test::ByteWriter big;
  big.put<uint32_t>(test::T_ARRAY).put<uint32_t>(test::T_U8).put<uint64_t>(n);
  big.bytes.resize(big.bytes.size() + n, 0);
  cap.kv_raw("big", big.bytes);
  expect_rejected(cap.build(), "more than 8388608 array elements");

  GgufBuilder tn;
  tn.tensor_raw(ByteWriter().put<uint64_t>(uint64_t{1} << 62).bytes);
  tn.data.assign(64, 0);
  expect_rejected(tn.build(), "tensor name length");
}

TEST(GgufHostile, DeepNestingIsCapped) {
  const int depth = 100;
  // Each level is: element type ARRAY, count 1, then the child's (type, count) header.
  ByteWriter nested;
  nested.put<uint32_t>(test::T_ARRAY);
  for (int i = 0; i < depth; ++i) nested.put<uint32_t>(test::T_ARRAY).put<uint64_t>(1);
  nested.put<uint32_t>(test::T_U8).put<uint64_t>(0);
  GgufBuilder g;
  g.kv_raw("deep", nested.bytes);
  expect_rejected(g.build(), "nested deeper than");
}

TEST(GgufHostile, BadValues) {
  GgufBuilder g;
  g.kv_raw("k", ByteWriter().put<uint32_t>(13).put<uint32_t>(0).bytes);
  expect_rejected(g.build(), "invalid metadata value type 13");
  g = GgufBuilder();
  g.kv_raw("k", ByteWriter().put<uint32_t>(test::T_ARRAY).put<uint32_t>(99).put<uint64_t>(0).bytes);
  expect_rejected(g.build(), "invalid metadata value type 99");
  g = GgufBuilder();
  g.kv_raw("k", ByteWriter().put<uint32_t>(test::T_BOOL).put<uint8_t>(2).bytes);
  expect_rejected(g.build(), "neither 0 nor 1");
  g = GgufBuilder();
  g.kv_u32("k", 1).kv_u32("k", 2);
  expect_rejected(g.build(), "duplicate metadata key 'k'");
}

TEST(GgufHostile, BadAlignment) {
  for (uint32_t a : {0u, 3u, 48u, 100u}) {
    GgufBuilder g;
    g.kv_u32("general.alignment", a);
    expect_rejected(g.build(), "not a power of two");
  }
  GgufBuilder g;
  g.kv_str("general.alignment", "32");
  expect_rejected(g.build(), "general.alignment must be an unsigned integer");
  GgufBuilder n;
  n.kv_i32("general.alignment", -32);
  expect_rejected(n.build(), "general.alignment must be an unsigned integer");
}

TEST(GgufHostile, BadTensorInfos) {
  auto one = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data_bytes) {
    GgufBuilder g;
    g.tensor("t", std::move(ne), type, offset);
    g.data.assign(data_bytes, 0);
    return g.build();
  };
  expect_rejected(one({1, 1, 1, 1, 1}, test::GGML_F32, 0, 32), "t has 5 dimensions");
  expect_rejected(one({}, test::GGML_F32, 0, 32), "t has 0 dimensions");
  expect_rejected(one({uint64_t{1} << 32, uint64_t{1} << 32, uint64_t{1} << 32}, test::GGML_F32, 0, 32), "overflows");
  expect_rejected(one({uint64_t{1} << 62, 4}, test::GGML_F32, 0, 32), "overflows");
  expect_rejected(one({UINT64_MAX}, test::GGML_F32, 0, 32), "too large");
  expect_rejected(one({4}, test::GGML_F32, 4, 64), "offset 4 is not a multiple of the alignment 32");
  expect_rejected(one({4}, test::GGML_F32, 1 << 20, 64), "lies outside the file");
  expect_rejected(one({4}, test::GGML_F32, UINT64_MAX - 31, 64), "lies outside the file");
  expect_rejected(one({64}, test::GGML_F32, 0, 255), "lies outside the file");  // one byte short
  expect_rejected(one({4}, test::GGML_Q5_0, 0, 64), "unsupported tensor type 6 (t)");
  expect_rejected(one({4}, 1000, 0, 64), "unsupported tensor type 1000 (t)");
  expect_rejected(one({33}, test::GGML_Q8_0, 0, 64), "not a whole number of Q8_0 blocks");
  expect_rejected(one({128}, test::GGML_Q4_K, 0, 256), "not a whole number of Q4_K blocks");

  GgufBuilder overlap;
  overlap.tensor("a", {16}, test::GGML_F32, 0).tensor("b", {16}, test::GGML_F32, 32);  // a is 64 bytes
  overlap.data.assign(128, 0);
  expect_rejected(overlap.build(), "tensors a and b overlap");
  GgufBuilder same;
  same.tensor("a", {8}, test::GGML_F32, 0).tensor("b", {8}, test::GGML_F32, 0);
  same.data.assign(64, 0);
  expect_rejected(same.build(), "overlap");
  GgufBuilder dup;
  dup.tensor("a", {8}, test::GGML_F32, 0).tensor("a", {8}, test::GGML_F32, 32);
  dup.data.assign(64, 0);
  expect_rejected(dup.build(), "duplicate tensor name 'a'");
}

TEST(GgufHostile, RandomCorruptionNeverCrashes) {
  // Deterministic byte flips over the valid file: each result either parses or is a pagoda::Error.
  const std::vector<uint8_t> full = valid_builder().build();
  std::mt19937 rng(1234);
  int rejected = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> b = full;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    try {
      GgufFile::parse(b, kName);
    } catch (const Error& e) {
      ++rejected;
      ASSERT_EQ(std::string(e.what()).rfind(kName + ": ", 0), 0u) << e.what();
    }
  }
  EXPECT_GT(rejected, 1000);
}

// Files written by llama.cpp's own Python writer (gguf-py, via fuzz/make_seeds.py); the expected
// values are what make_seeds.py wrote and what gguf.GGUFReader reports (kv count, offsets).
TEST(GgufReference, WrittenByGgufPy) {
  for (const char* file : {"llama_small.gguf", "aligned_64.gguf"}) {
    const bool aligned = std::string(file) == "aligned_64.gguf";
    auto f = GgufFile::open(std::string(PAGODA_FUZZ_CORPUS_DIR) + "/gguf/" + file);
    const std::string a = aligned ? "qwen2." : "llama.";
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->alignment(), aligned ? 64u : 32u);
    EXPECT_EQ(f->metadata().size(), aligned ? 19u : 18u);
    EXPECT_EQ(f->get_int(a + "block_count"), 1);
    EXPECT_EQ(f->get_int(a + "feed_forward_length"), 12);
    EXPECT_EQ(f->get_float(a + "attention.layer_norm_rms_epsilon"), static_cast<double>(1e-5f));
    EXPECT_EQ(f->get_bool("test.flag"), true);
    EXPECT_EQ(f->get_int("test.i8"), -3);
    EXPECT_EQ(f->find("test.i8")->type, GgufType::GGUF_TYPE_INT8);
    EXPECT_EQ(f->get_int("test.u16"), 7);
    EXPECT_EQ(f->get_int("test.i64"), -9);
    EXPECT_EQ(f->get_float("test.f64"), 0.5);
    const GgufArray* tokens = f->get_array("tokenizer.ggml.tokens");
    ASSERT_NE(tokens, nullptr);
    ASSERT_EQ(tokens->items.size(), 4u);
    EXPECT_EQ(std::get<std::string>(tokens->items[3].value), "ab");
    EXPECT_EQ(std::get<int64_t>(f->get_array("tokenizer.ggml.token_type")->items[0].value), 3);
    const GgufArray* nested = f->get_array("test.nested");  // [[1, 2], [3]]
    ASSERT_NE(nested, nullptr);
    ASSERT_EQ(nested->items.size(), 2u);
    const auto& n0 = std::get<GgufArray>(nested->items[0].value);
    ASSERT_EQ(n0.items.size(), 2u);
    EXPECT_EQ(std::get<int64_t>(n0.items[1].value), 2);
    EXPECT_EQ(std::get<int64_t>(std::get<GgufArray>(nested->items[1].value).items[0].value), 3);

    ASSERT_EQ(f->tensors().size(), 3u);
    const TensorDesc& e = f->tensors()[0];
    EXPECT_EQ(e.name, "token_embd.weight");
    EXPECT_EQ(e.shape, (std::vector<int64_t>{4, 8}));  // numpy (4, 8); gguf-py ne [8, 4]
    ASSERT_EQ(e.data.size(), 128u);
    for (int i = 0; i < 32; ++i) {
      float v;
      std::memcpy(&v, e.data.data() + 4 * i, 4);
      EXPECT_EQ(v, static_cast<float>(i));  // np.arange(32)
    }
    const TensorDesc& n = f->tensors()[1];
    EXPECT_EQ(n.dtype, DType::DTYPE_F16);
    ASSERT_EQ(n.data.size(), 16u);
    EXPECT_EQ(n.data[0], 0x00);
    EXPECT_EQ(n.data[1], 0x3c);  // half 1.0
    const TensorDesc& q = f->tensors()[2];
    EXPECT_EQ(q.dtype, DType::DTYPE_Q8_0);
    EXPECT_EQ(q.shape, (std::vector<int64_t>{1, 32}));
    EXPECT_EQ(q.data.size(), 34u);
    // Relative data offsets per gguf-py: 0, 128, then 160 (alignment 32) or 192 (alignment 64).
    EXPECT_EQ(n.data.data() - e.data.data(), 128);
    EXPECT_EQ(q.data.data() - e.data.data(), aligned ? 192 : 160);
  }
}

// The real default model. Expected values were read with the Python `gguf` package
// (gguf.GGUFReader on the same file): field list, tensor types/shapes, data_offset, first bytes.
TEST(GgufReal, SmolLM2) {
  const std::string path = test::smollm2_path();
  if (path.empty()) GTEST_SKIP() << "SmolLM2 GGUF not downloaded (scripts/setup.sh fetches it)";
  auto f = GgufFile::open(path);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->metadata().size(), 33u);
  EXPECT_EQ(f->tensors().size(), 272u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_int("llama.block_count"), 30);
  EXPECT_EQ(f->get_int("llama.context_length"), 8192);
  EXPECT_EQ(f->get_int("llama.embedding_length"), 576);
  EXPECT_EQ(f->get_int("llama.feed_forward_length"), 1536);
  EXPECT_EQ(f->get_int("llama.attention.head_count"), 9);
  EXPECT_EQ(f->get_int("llama.attention.head_count_kv"), 3);
  EXPECT_EQ(f->get_int("llama.vocab_size"), 49152);
  EXPECT_EQ(f->get_int("llama.rope.dimension_count"), 64);
  EXPECT_EQ(f->get_float("llama.rope.freq_base"), 100000.0);
  EXPECT_EQ(f->get_float("llama.attention.layer_norm_rms_epsilon"), static_cast<double>(1e-5f));
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "smollm");
  EXPECT_EQ(f->get_bool("tokenizer.ggml.add_bos_token"), false);
  EXPECT_EQ(f->get_int("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(f->get_int("tokenizer.ggml.eos_token_id"), 2);
  EXPECT_EQ(f->get_array("tokenizer.ggml.tokens")->items.size(), 49152u);
  EXPECT_EQ(f->get_array("tokenizer.ggml.token_type")->elem_type, GgufType::GGUF_TYPE_INT32);
  EXPECT_EQ(f->get_array("tokenizer.ggml.merges")->items.size(), 48900u);
  EXPECT_EQ(std::get<std::string>(f->get_array("general.languages")->items.at(0).value), "en");
  EXPECT_EQ(f->get_string("tokenizer.chat_template")->rfind("{% for message in messages %}", 0), 0u);

  int q41 = 0, f32 = 0, q80 = 0;
  uint64_t total = 0;
  for (const TensorDesc& t : f->tensors()) {
    q41 += t.dtype == DType::DTYPE_Q4_1;
    f32 += t.dtype == DType::DTYPE_F32;
    q80 += t.dtype == DType::DTYPE_Q8_0;
    total += t.data.size();
  }
  EXPECT_EQ(q41, 210);
  EXPECT_EQ(f32, 61);
  EXPECT_EQ(q80, 1);
  EXPECT_EQ(total, 96576768u);

  auto hex8 = [](const TensorDesc& t) {
    std::string s;
    for (int i = 0; i < 8; ++i) s += fmt::format("{:02x}", t.data[static_cast<size_t>(i)]);
    return s;
  };
  const TensorDesc& embd = f->tensors().front();
  EXPECT_EQ(embd.name, "token_embd.weight");
  EXPECT_EQ(embd.dtype, DType::DTYPE_Q8_0);
  EXPECT_EQ(embd.shape, (std::vector<int64_t>{49152, 576}));
  EXPECT_EQ(embd.data.size(), 30081024u);
  EXPECT_EQ(hex8(embd), "3219d60d13f7e5ee");
  // gguf-py reports token_embd's data at absolute file offset 1785664; check it independently.
  std::ifstream in(path, std::ios::binary);
  in.seekg(1785664);
  uint8_t head[8];
  in.read(reinterpret_cast<char*>(head), 8);
  EXPECT_EQ(std::memcmp(head, embd.data.data(), 8), 0);

  for (const TensorDesc& t : f->tensors()) {
    if (t.name == "blk.29.ffn_down.weight") {
      EXPECT_EQ(t.dtype, DType::DTYPE_Q4_1);
      EXPECT_EQ(t.shape, (std::vector<int64_t>{576, 1536}));
      EXPECT_EQ(t.data.size(), 552960u);
      EXPECT_EQ(hex8(t), "e229d8b5f29c4cd9");
    }
    if (t.name == "output_norm.weight") {
      ASSERT_EQ(t.shape, (std::vector<int64_t>{576}));
      std::vector<float> v(576);
      std::memcpy(v.data(), t.data.data(), 576 * 4);
      EXPECT_EQ(v[0], 1.7578125f);
      EXPECT_EQ(v[1], 1.8203125f);
      EXPECT_EQ(v[575], 1.984375f);
      double sum = 0;
      for (float x : v) sum += x;
      EXPECT_NEAR(sum, 1038.33203125, 1e-9);
    }
  }
}

}  // namespace
}  // namespace pagoda
