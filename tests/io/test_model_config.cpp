// ModelConfig tests: the fixture's config.json, real-world config.json spellings (old rope_theta +
// rope_scaling, new rope_parameters, llama3 and linear scaling, qwen2, mistral), GGUF metadata,
// and validation errors (each naming the file).
#include <gtest/gtest.h>

#include "common/test_paths.hpp"
#include "core/error.hpp"
#include "io/gguf.hpp"
#include "io/gguf_builder.hpp"
#include "io/model_config.hpp"

namespace pagoda {
namespace {

ModelConfig from_json(const test::TempDir& dir, const std::string& text) {
  const auto path = dir.path / "config.json";
  test::write_file(path, text);
  return model_config_from_hf_json(path.string());
}

void expect_json_rejected(const std::string& text, const std::string& what) {
  test::TempDir dir("cfg_bad");
  const std::string path = (dir.path / "config.json").string();
  test::write_file(path, text);
  try {
    model_config_from_hf_json(path);
    ADD_FAILURE() << "accepted: " << text;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << "message: " << msg << "\nexpected to contain: " << what;
  }
}

// A minimal llama config with one field replaced or added (JSON text spliced in before the end).
std::string llama_json(const std::string& extra = "") {
  return R"({"model_type":"llama","vocab_size":1000,"hidden_size":256,"intermediate_size":512,)"
         R"("num_hidden_layers":2,"num_attention_heads":8)" +
         (extra.empty() ? std::string() : "," + extra) + "}";
}

TEST(ModelConfig, TinyLlamaFixture) {
  // Values from tests/fixtures/tiny-llama-gqa/config.json (new rope_parameters spelling).
  ModelConfig c = model_config_from_hf_json(test::fixtures_dir() + "/tiny-llama-gqa/config.json");
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.vocab_size, 1024);
  EXPECT_EQ(c.hidden_size, 256);
  EXPECT_EQ(c.intermediate_size, 688);
  EXPECT_EQ(c.num_layers, 4);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.rope_dim, 32);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.rope_scaling.type, "default");
  EXPECT_EQ(c.rope_pairing, RopePairing::ROPE_PAIRING_HALF);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_id, 2);
  EXPECT_EQ(c.sliding_window, 0);
}

TEST(ModelConfig, Llama32OldRopeSpelling) {
  // Abridged from meta-llama/Llama-3.2-1B's config.json (transformers 4.x spelling).
  test::TempDir dir("cfg_l32");
  ModelConfig c = from_json(dir, R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 128000,
    "eos_token_id": [128001, 128008, 128009], "head_dim": 64, "hidden_size": 2048,
    "intermediate_size": 8192, "max_position_embeddings": 131072, "model_type": "llama",
    "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0,
    "low_freq_factor": 1.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "vocab_size": 128256})");
  EXPECT_EQ(c.num_layers, 16);
  EXPECT_EQ(c.num_kv_heads, 8);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.vocab_size, 128256);
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 32.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.high_freq_factor, 4.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.original_max_position_embeddings, 8192.0);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 128000);
  EXPECT_EQ(c.eos_token_id, 128001);  // first of the list
}

TEST(ModelConfig, NewRopeParametersSpelling) {
  // transformers >= 5 writes theta and scaling together in rope_parameters.
  test::TempDir dir("cfg_rp");
  ModelConfig c = from_json(dir, llama_json(R"("rope_parameters":{"rope_theta":500000.0,"rope_type":"llama3",)"
                                            R"("factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,)"
                                            R"("original_max_position_embeddings":8192})"));
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.original_max_position_embeddings, 8192.0);
}

TEST(ModelConfig, LinearScalingOldTypeKeyAndDefaults) {
  test::TempDir dir("cfg_lin");
  ModelConfig c = from_json(dir, llama_json(R"("rope_scaling":{"type":"linear","factor":2.0},"rope_theta":20000)"));
  EXPECT_EQ(c.rope_scaling.type, "linear");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 2.0);
  EXPECT_DOUBLE_EQ(c.rope_theta, 20000.0);  // an integer theta is fine
  // Absent optional fields take transformers' defaults.
  EXPECT_EQ(c.num_kv_heads, 8);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.max_position_embeddings, 2048);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, -1);
  // rope_scaling: null and num_key_value_heads: null mean "absent".
  ModelConfig n = from_json(dir, llama_json(R"("rope_scaling":null,"num_key_value_heads":null,"head_dim":null)"));
  EXPECT_EQ(n.rope_scaling.type, "default");
  EXPECT_EQ(n.num_kv_heads, 8);
}

TEST(ModelConfig, Qwen2) {
  // Abridged from Qwen/Qwen2.5-0.5B-Instruct's config.json.
  test::TempDir dir("cfg_qwen");
  ModelConfig c = from_json(dir, R"({
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
    "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 21,
    "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": true,
    "torch_dtype": "bfloat16", "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})");
  EXPECT_EQ(c.architecture, "qwen2");
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_TRUE(c.attention_bias);  // implicit for qwen2
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.sliding_window, 0);  // use_sliding_window is false
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.rope_pairing, RopePairing::ROPE_PAIRING_HALF);
}

TEST(ModelConfig, Mistral) {
  test::TempDir dir("cfg_mis");
  ModelConfig c = from_json(dir, R"({"model_type":"mistral","vocab_size":32000,"hidden_size":4096,
    "intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,
    "sliding_window":4096,"rope_theta":10000.0,"max_position_embeddings":32768})");
  EXPECT_EQ(c.sliding_window, 4096);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.head_dim, 128);
  ModelConfig n = from_json(dir, R"({"model_type":"mistral","vocab_size":32000,"hidden_size":4096,
    "intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,"sliding_window":null})");
  EXPECT_EQ(n.sliding_window, 0);
}

TEST(ModelConfig, JsonErrors) {
  expect_json_rejected("{", "invalid JSON");
  expect_json_rejected("[]", "not a JSON object");
  expect_json_rejected(R"({"vocab_size":1})", "missing model_type");
  expect_json_rejected(R"({"model_type":"gpt2"})", "unsupported model_type 'gpt2'");
  expect_json_rejected(R"({"model_type":"llama","hidden_size":256,"intermediate_size":512,"num_hidden_layers":2,)"
                       R"("num_attention_heads":8})",
                       "missing vocab_size");
  expect_json_rejected(llama_json(R"("hidden_size":"256")"), "hidden_size must be an integer");
  expect_json_rejected(llama_json(R"("rms_norm_eps":"small")"), "rms_norm_eps must be a number");
  expect_json_rejected(llama_json(R"("tie_word_embeddings":1)"), "tie_word_embeddings must be true or false");
  expect_json_rejected(llama_json(R"("rope_scaling":"llama3")"), "rope_scaling must be an object");
  expect_json_rejected(llama_json(R"("rope_scaling":{"rope_type":"yarn","factor":4.0})"),
                       "unsupported rope scaling type 'yarn'");
  expect_json_rejected(llama_json(R"("rope_scaling":{"rope_type":"linear","factor":0})"), "factor 0 must be positive");
  expect_json_rejected(llama_json(R"("rope_scaling":{"rope_type":"llama3","factor":8,"low_freq_factor":4,"high_freq_factor":1})"),
                       "low_freq_factor");
  expect_json_rejected(llama_json(R"("num_key_value_heads":3)"), "8 attention heads are not a multiple of 3");
  expect_json_rejected(R"({"model_type":"llama","vocab_size":1000,"hidden_size":250,"intermediate_size":512,)"
                       R"("num_hidden_layers":2,"num_attention_heads":8})",
                       "does not divide hidden_size 250");
  expect_json_rejected(R"({"model_type":"llama","vocab_size":1000,"hidden_size":256,"intermediate_size":512,)"
                       R"("num_hidden_layers":0,"num_attention_heads":8})",
                       "number of layers is 0");
  expect_json_rejected(R"({"model_type":"llama","vocab_size":1000,"hidden_size":256,"intermediate_size":512,)"
                       R"("num_hidden_layers":2000000,"num_attention_heads":8})",
                       "larger than any supported model");
  expect_json_rejected(R"({"model_type":"llama","vocab_size":-5,"hidden_size":256,"intermediate_size":512,)"
                       R"("num_hidden_layers":2,"num_attention_heads":8})",
                       "vocabulary size is -5");
  expect_json_rejected(R"({"model_type":"llama","vocab_size":1000,"hidden_size":256,"intermediate_size":512,)"
                       R"("num_hidden_layers":2,"num_attention_heads":0})",
                       "num_attention_heads 0 does not divide");
  expect_json_rejected(llama_json(R"("num_key_value_heads":0)"), "number of key/value heads is 0");
  expect_json_rejected(llama_json(R"("head_dim":0)"), "head dimension is 0");
  expect_json_rejected(llama_json(R"("head_dim":31)"), "rope dimension 31 must be even");
  expect_json_rejected(llama_json(R"("rms_norm_eps":-1)"), "rms_norm_eps -1 is not in (0, 1)");
  expect_json_rejected(llama_json(R"("vocab_size":18446744073709551615)"), "vocab_size is too large");
  test::TempDir dir("cfg_missing");
  EXPECT_THROW(model_config_from_hf_json((dir.path / "absent.json").string()), Error);
}

// GGUF metadata: the llama keys llama.cpp writes, built with the test's byte-level writer.
TEST(ModelConfig, FromGgufMetadata) {
  test::GgufBuilder g;
  g.kv_str("general.architecture", "llama").kv_str("general.name", "tiny");
  g.kv_u32("llama.block_count", 2).kv_u32("llama.context_length", 4096).kv_u32("llama.embedding_length", 128);
  g.kv_u32("llama.feed_forward_length", 344).kv_u32("llama.attention.head_count", 4);
  g.kv_u32("llama.attention.head_count_kv", 2).kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-6f);
  g.kv_f32("llama.rope.freq_base", 500000.0f).kv_u32("llama.rope.dimension_count", 32);
  g.kv_str("llama.rope.scaling.type", "linear").kv_f32("llama.rope.scaling.factor", 4.0f);
  g.kv_str_array("tokenizer.ggml.tokens", {"a", "b", "c", "d", "e"});
  g.kv_u32("tokenizer.ggml.bos_token_id", 3).kv_u32("tokenizer.ggml.eos_token_id", 4);
  g.tensor("token_embd.weight", {128, 5}, test::GGML_F32, 0);
  g.data.assign(128 * 5 * 4, 0);
  auto f = GgufFile::parse(g.build(), "cfg.gguf");
  ModelConfig c = model_config_from_gguf(*f);
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.name, "tiny");
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.max_position_embeddings, 4096);
  EXPECT_EQ(c.hidden_size, 128);
  EXPECT_EQ(c.intermediate_size, 344);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.rope_dim, 32);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, static_cast<double>(1e-6f));
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, "linear");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 4.0);
  EXPECT_EQ(c.vocab_size, 5);  // from the token list: no llama.vocab_size key
  EXPECT_EQ(c.bos_token_id, 3);
  EXPECT_EQ(c.eos_token_id, 4);
  EXPECT_TRUE(c.tie_word_embeddings);  // no output.weight
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.rope_pairing, RopePairing::ROPE_PAIRING_INTERLEAVED);
}

TEST(ModelConfig, FromGgufQwen2AndErrors) {
  auto base = [](const std::string& arch) {
    test::GgufBuilder g;
    g.kv_str("general.architecture", arch);
    g.kv_u32(arch + ".block_count", 1).kv_u32(arch + ".context_length", 32768).kv_u32(arch + ".embedding_length", 64);
    g.kv_u32(arch + ".feed_forward_length", 128).kv_u32(arch + ".attention.head_count", 4);
    g.kv_u32(arch + ".vocab_size", 10);
    return g;
  };
  test::GgufBuilder q = base("qwen2");
  q.tensor("blk.0.attn_q.bias", {64}, test::GGML_F32, 0).tensor("output.weight", {64, 10}, test::GGML_F32, 256);
  q.data.assign(256 + 64 * 10 * 4, 0);
  ModelConfig c = model_config_from_gguf(*GgufFile::parse(q.build(), "q.gguf"));
  EXPECT_EQ(c.rope_pairing, RopePairing::ROPE_PAIRING_HALF);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.vocab_size, 10);

  auto expect_rejected = [](const test::GgufBuilder& g, const std::string& what) {
    auto f = GgufFile::parse(g.build(), "bad.gguf");
    try {
      model_config_from_gguf(*f);
      ADD_FAILURE() << "accepted; expected " << what;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("bad.gguf: ", 0), 0u) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_rejected(base("gpt2"), "unsupported architecture 'gpt2'");
  expect_rejected(test::GgufBuilder(), "missing metadata general.architecture");
  test::GgufBuilder no_layers;
  no_layers.kv_str("general.architecture", "llama");
  expect_rejected(no_layers, "missing metadata llama.block_count");
  test::GgufBuilder kv = base("llama");
  kv.kv_u32("llama.attention.head_count_kv", 3);
  expect_rejected(kv, "4 attention heads are not a multiple of 3");
  test::GgufBuilder wrong = base("llama");
  wrong.kv_str("llama.rope.freq_base", "big");
  expect_rejected(wrong, "llama.rope.freq_base should be a number");
}

TEST(ModelConfig, SmolLM2Gguf) {
  const std::string path = test::smollm2_path();
  if (path.empty()) GTEST_SKIP() << "SmolLM2 GGUF not downloaded";
  ModelConfig c = model_config_from_gguf(*GgufFile::open(path));
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.num_layers, 30);
  EXPECT_EQ(c.hidden_size, 576);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.num_heads, 9);
  EXPECT_EQ(c.num_kv_heads, 3);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.rope_dim, 64);
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_EQ(c.max_position_embeddings, 8192);
  EXPECT_DOUBLE_EQ(c.rope_theta, 100000.0);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, static_cast<double>(1e-5f));
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.rope_pairing, RopePairing::ROPE_PAIRING_INTERLEAVED);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_id, 2);
}

}  // namespace
}  // namespace pagoda
