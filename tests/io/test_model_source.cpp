// ModelSource tests: the fixture folder under canonical names, a sharded folder built here (with
// missing and hostile shards), tied embeddings, GGUF files, and the require() message.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/test_paths.hpp"
#include "core/error.hpp"
#include "io/gguf_builder.hpp"
#include "io/model_source.hpp"

namespace pagoda {
namespace {

namespace fs = std::filesystem;

void expect_open_fails(const std::string& path, const std::string& what) {
  try {
    ModelSource::open(path);
    ADD_FAILURE() << "opened " << path << "; expected " << what;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(ModelSource, TinyLlamaFolder) {
  const std::string dir = test::fixtures_dir() + "/tiny-llama-gqa";
  auto src = ModelSource::open(dir);
  EXPECT_EQ(src->format(), ModelFormat::MODEL_FORMAT_HF);
  EXPECT_EQ(src->gguf(), nullptr);
  EXPECT_EQ(src->config().num_layers, 4);
  EXPECT_FALSE(src->config().tie_word_embeddings);  // lm_head.weight is present
  EXPECT_EQ(src->tensors().size(), 39u);  // 4 layers x 9 + embed, norm, lm_head
  EXPECT_EQ(src->require("token_embd.weight").shape, (std::vector<int64_t>{1024, 256}));
  EXPECT_EQ(src->require("token_embd.weight").name, "model.embed_tokens.weight");  // the file's own name
  EXPECT_EQ(src->require("output.weight").shape, (std::vector<int64_t>{1024, 256}));
  EXPECT_EQ(src->require("output_norm.weight").shape, (std::vector<int64_t>{256}));
  for (int i = 0; i < 4; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    EXPECT_EQ(src->require(b + "attn_norm.weight").shape, (std::vector<int64_t>{256}));
    EXPECT_EQ(src->require(b + "ffn_norm.weight").shape, (std::vector<int64_t>{256}));
    EXPECT_EQ(src->require(b + "attn_q.weight").shape, (std::vector<int64_t>{256, 256}));
    EXPECT_EQ(src->require(b + "attn_k.weight").shape, (std::vector<int64_t>{64, 256}));
    EXPECT_EQ(src->require(b + "attn_v.weight").shape, (std::vector<int64_t>{64, 256}));
    EXPECT_EQ(src->require(b + "attn_output.weight").shape, (std::vector<int64_t>{256, 256}));
    EXPECT_EQ(src->require(b + "ffn_gate.weight").shape, (std::vector<int64_t>{688, 256}));
    EXPECT_EQ(src->require(b + "ffn_up.weight").shape, (std::vector<int64_t>{688, 256}));
    EXPECT_EQ(src->require(b + "ffn_down.weight").shape, (std::vector<int64_t>{256, 688}));
  }
  // First value of model.layers.0.self_attn.k_proj.weight per Python safetensors (see test_safetensors).
  float k0;
  std::memcpy(&k0, src->require("blk.0.attn_k.weight").data.data(), 4);
  EXPECT_EQ(k0, -0.03414097f);
  EXPECT_EQ(src->total_bytes(), 13186112u - 8u - 4152u);
  EXPECT_EQ(src->find("blk.4.attn_q.weight"), nullptr);
  try {
    src->require("blk.4.attn_q.weight");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir + ": missing tensor blk.4.attn_q.weight");
  }
  EXPECT_EQ(src->tokenizer_json_path(), "");  // the fixture ships no tokenizer.json
}

// A two-layer, tiny-shaped HF folder written with safetensors_write_f32 across two shards.
struct ShardedFolder {
  test::TempDir dir{"sharded"};
  std::vector<float> zeros = std::vector<float>(64 * 64, 0.0f);
  std::vector<float> embed = std::vector<float>(16 * 8);

  ShardedFolder(bool with_lm_head, const std::string& tie = "false") {
    for (size_t i = 0; i < embed.size(); ++i) embed[i] = static_cast<float>(i) * 0.5f;
    test::write_file(dir.path / "config.json",
                     R"({"model_type":"llama","vocab_size":16,"hidden_size":8,"intermediate_size":12,)"
                     R"("num_hidden_layers":2,"num_attention_heads":2,"num_key_value_heads":1,"tie_word_embeddings":)" +
                         tie + "}");
    std::vector<F32TensorOut> a = {{"model.embed_tokens.weight", {16, 8}, embed.data()},
                                   {"model.layers.0.input_layernorm.weight", {8}, zeros.data()},
                                   {"model.layers.0.self_attn.q_proj.weight", {8, 8}, zeros.data()},
                                   {"model.layers.0.self_attn.q_proj.bias", {8}, zeros.data()},
                                   {"model.layers.0.mlp.gate_proj.weight", {12, 8}, zeros.data()}};
    std::vector<F32TensorOut> b = {{"model.norm.weight", {8}, zeros.data()},
                                   {"model.layers.1.post_attention_layernorm.weight", {8}, zeros.data()},
                                   {"model.layers.1.self_attn.o_proj.weight", {8, 8}, zeros.data()},
                                   {"model.layers.1.mlp.down_proj.weight", {8, 12}, zeros.data()},
                                   {"model.rotary_emb.inv_freq", {2}, zeros.data()}};
    if (with_lm_head) b.push_back({"lm_head.weight", {16, 8}, zeros.data()});
    safetensors_write_f32((dir.path / "model-00001-of-00002.safetensors").string(), a);
    safetensors_write_f32((dir.path / "model-00002-of-00002.safetensors").string(), b);
    std::string map;
    for (const auto& t : a) map += "\"" + t.name + "\":\"model-00001-of-00002.safetensors\",";
    for (const auto& t : b) map += "\"" + t.name + "\":\"model-00002-of-00002.safetensors\",";
    map.pop_back();
    write_index("{\"metadata\":{\"total_size\":1},\"weight_map\":{" + map + "}}");
  }
  void write_index(const std::string& text) { test::write_file(dir.path / "model.safetensors.index.json", text); }
  std::string path() const { return dir.path.string(); }
};

TEST(ModelSource, ShardedFolderMapsNames) {
  ShardedFolder f(/*with_lm_head=*/true);
  test::write_file(f.dir.path / "tokenizer.json", "{}");
  auto src = ModelSource::open(f.path());
  EXPECT_EQ(src->tensors().size(), 11u);
  EXPECT_FALSE(src->config().tie_word_embeddings);
  EXPECT_EQ(src->require("token_embd.weight").shape, (std::vector<int64_t>{16, 8}));
  float e5;
  std::memcpy(&e5, src->require("token_embd.weight").data.data() + 5 * 4, 4);
  EXPECT_EQ(e5, 2.5f);
  for (const char* n : {"blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.attn_q.bias", "blk.0.ffn_gate.weight",
                        "output_norm.weight", "blk.1.ffn_norm.weight", "blk.1.attn_output.weight",
                        "blk.1.ffn_down.weight", "output.weight"})
    EXPECT_NE(src->find(n), nullptr) << n;
  EXPECT_NE(src->find("model.rotary_emb.inv_freq"), nullptr);  // unknown names keep their own name
  EXPECT_EQ(src->require("blk.1.ffn_down.weight").shape, (std::vector<int64_t>{8, 12}));
  EXPECT_EQ(src->tokenizer_json_path(), (f.dir.path / "tokenizer.json").string());
}

TEST(ModelSource, TiedEmbeddings) {
  ShardedFolder no_head(/*with_lm_head=*/false);
  EXPECT_TRUE(ModelSource::open(no_head.path())->config().tie_word_embeddings);  // no lm_head at all
  ShardedFolder said(/*with_lm_head=*/true, "true");
  EXPECT_TRUE(ModelSource::open(said.path())->config().tie_word_embeddings);  // the config says so
}

TEST(ModelSource, ShardProblems) {
  {
    ShardedFolder f(true);
    fs::remove(f.dir.path / "model-00002-of-00002.safetensors");
    expect_open_fails(f.path(), "missing shard model-00002-of-00002.safetensors");
  }
  {
    ShardedFolder f(true);
    f.write_index(R"({"weight_map":{"model.norm.weight":"model-00001-of-00002.safetensors"}})");
    expect_open_fails(f.path(), "tensor model.norm.weight is listed in the index but not in the shard");
  }
  {
    ShardedFolder f(true);
    f.write_index(R"({"weight_map":{"model.norm.weight":"../model-00002-of-00002.safetensors"}})");
    expect_open_fails(f.path(), "is not a plain file name");
  }
  {
    ShardedFolder f(true);
    f.write_index(R"({"weight_map":{"model.norm.weight":"/etc/passwd"}})");
    expect_open_fails(f.path(), "is not a plain file name");
  }
  {
    ShardedFolder f(true);
    f.write_index(R"({"weight_map":{"model.norm.weight":7}})");
    expect_open_fails(f.path(), "is not a file name");
  }
  {
    ShardedFolder f(true);
    f.write_index(R"({"weight_map":[]})");
    expect_open_fails(f.path(), "no weight_map object");
  }
  {
    ShardedFolder f(true);
    f.write_index("{not json");
    expect_open_fails(f.path(), "model.safetensors.index.json: invalid JSON");
  }
  {
    // Both shards provide model.norm.weight: two sources for one tensor.
    ShardedFolder f(true);
    std::vector<float> z(8, 0.0f);
    safetensors_write_f32((f.dir.path / "model-00001-of-00002.safetensors").string(),
                          {{"model.embed_tokens.weight", {16, 8}, f.embed.data()}, {"model.norm.weight", {8}, z.data()}});
    f.write_index(R"({"weight_map":{"model.norm.weight":"model-00001-of-00002.safetensors",)"
                  R"("model.embed_tokens.weight":"model-00002-of-00002.safetensors"}})");
    expect_open_fails(f.path(), "");  // either the listed-not-present or the provided-twice error
  }
  {
    // An HF name and a GGUF-style name that both become output_norm.weight.
    test::TempDir d("dupcanon");
    test::write_file(d.path / "config.json", R"({"model_type":"llama","vocab_size":16,"hidden_size":8,)"
                                             R"("intermediate_size":12,"num_hidden_layers":1,"num_attention_heads":2})");
    std::vector<float> z(8, 0.0f);
    safetensors_write_f32((d.path / "model.safetensors").string(),
                          {{"model.norm.weight", {8}, z.data()}, {"output_norm.weight", {8}, z.data()}});
    expect_open_fails(d.path.string(), "is provided twice");
  }
}

TEST(ModelSource, FolderProblems) {
  test::TempDir d("folder");
  expect_open_fails(d.path.string(), "no config.json");
  test::write_file(d.path / "config.json", R"({"model_type":"llama","vocab_size":16,"hidden_size":8,)"
                                           R"("intermediate_size":12,"num_hidden_layers":1,"num_attention_heads":2})");
  expect_open_fails(d.path.string(), "no model.safetensors or model.safetensors.index.json");
  test::write_file(d.path / "model.safetensors", std::string("garbage!garbage"));
  expect_open_fails(d.path.string(), (d.path / "model.safetensors").string() + ": ");
  expect_open_fails((d.path / "absent").string(), "no such file or folder");
}

TEST(ModelSource, GgufFile) {
  test::TempDir d("gguf_src");
  test::GgufBuilder g;
  g.kv_str("general.architecture", "qwen2");
  g.kv_u32("qwen2.block_count", 1).kv_u32("qwen2.context_length", 128).kv_u32("qwen2.embedding_length", 8);
  g.kv_u32("qwen2.feed_forward_length", 12).kv_u32("qwen2.attention.head_count", 2).kv_u32("qwen2.vocab_size", 16);
  g.tensor("token_embd.weight", {8, 16}, test::GGML_F32, 0).tensor("blk.0.attn_q.bias", {8}, test::GGML_F32, 512);
  g.data.assign(512 + 32, 0);
  const std::string path = (d.path / "m.gguf").string();
  test::write_file(path, g.build());
  auto src = ModelSource::open(path);
  EXPECT_EQ(src->format(), ModelFormat::MODEL_FORMAT_GGUF);
  ASSERT_NE(src->gguf(), nullptr);
  EXPECT_EQ(src->tensors().size(), 2u);
  EXPECT_EQ(src->require("token_embd.weight").shape, (std::vector<int64_t>{16, 8}));
  EXPECT_TRUE(src->config().tie_word_embeddings);
  EXPECT_TRUE(src->config().attention_bias);
  EXPECT_EQ(src->config().rope_pairing, RopePairing::ROPE_PAIRING_HALF);
  EXPECT_EQ(src->total_bytes(), 512u + 32u);
  EXPECT_EQ(src->tokenizer_json_path(), "");
  try {
    src->require("output_norm.weight");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), path + ": missing tensor output_norm.weight");
  }
}

TEST(ModelSource, SmolLM2) {
  const std::string path = test::smollm2_path();
  if (path.empty()) GTEST_SKIP() << "SmolLM2 GGUF not downloaded";
  auto src = ModelSource::open(path);
  EXPECT_EQ(src->tensors().size(), 272u);
  EXPECT_EQ(src->find("output.weight"), nullptr);
  EXPECT_TRUE(src->config().tie_word_embeddings);
  EXPECT_EQ(src->require("blk.0.attn_q.weight").shape, (std::vector<int64_t>{576, 576}));
  EXPECT_EQ(src->require("blk.0.attn_k.weight").shape, (std::vector<int64_t>{192, 576}));
  EXPECT_EQ(src->total_bytes(), 96576768u);  // sum of n_bytes per gguf-py
}

}  // namespace
}  // namespace pagoda
