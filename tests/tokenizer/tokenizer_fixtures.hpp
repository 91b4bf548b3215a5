// Shared helpers for the tokenizer tests: where the vocabularies are, loading them once per
// process (building a 150k-token tokenizer takes a moment), and reading fixture files.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "common/test_paths.hpp"
#include "io/gguf.hpp"
#include "tokenizer/tokenizer.hpp"

namespace pagoda::test {

inline std::string tokenizer_fixture(const std::string& name) { return fixtures_dir() + "/tokenizer/" + name; }

inline std::string read_file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// vocab: "llama-spm" | "llama-bpe" | "qwen2" | "gpt-2" | "smollm2"; source: "gguf" | "json".
// Returns nullptr when the file is not available (only the SmolLM2 GGUF may be missing).
inline const Tokenizer* load_test_tokenizer(const std::string& vocab, const std::string& source) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  const std::string key = vocab + "/" + source;
  if (auto it = cache.find(key); it != cache.end()) return it->second.get();
  std::unique_ptr<Tokenizer> tok;
  if (source == "json") {
    tok = Tokenizer::from_tokenizer_json(std::string(PAGODA_TOKENIZER_VOCAB_DIR) + "/" + vocab + ".tokenizer.json");
  } else {
    const std::string path = vocab == "smollm2" ? smollm2_path()
                                                : std::string(PAGODA_TOKENIZER_VOCAB_DIR) + "/ggml-vocab-" + vocab + ".gguf";
    if (path.empty()) return nullptr;
    tok = Tokenizer::from_gguf(*GgufFile::open(path));
  }
  return (cache[key] = std::move(tok)).get();
}

}  // namespace pagoda::test
