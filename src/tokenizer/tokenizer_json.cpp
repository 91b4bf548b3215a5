// Tokenizer::from_tokenizer_json: reads a Hugging Face tokenizer.json (model BPE) into a
// TokenizerSpec, plus bos/eos/chat template from a tokenizer_config.json next to it when present.
// Supported pieces are listed in README.md; anything else is refused by name rather than guessed,
// except normalizers NFC/NFKC which are accepted and not applied (documented difference).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/error.hpp"
#include "tokenizer/bpe_tokenizer.hpp"
#include "tokenizer/pre_tokenizer.hpp"

namespace pagoda {
namespace {

using nlohmann::json;

constexpr const char* SPM_SPACE = "\xE2\x96\x81";

json read_json(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  PAGODA_CHECK(f, "cannot open {}", path);
  std::stringstream ss;
  ss << f.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  PAGODA_CHECK(!j.is_discarded(), "{} is not valid JSON", path);
  return j;
}

std::string str_or(const json& j, const char* key, const std::string& fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

bool bool_or(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// "\Q...\E" quoting for a literal Split pattern; \E inside the literal is spelled out.
std::string regex_quote(const std::string& s) {
  std::string out = "\\Q";
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, 2, "\\E") == 0) {
      out += "\\E\\\\E\\Q";
      ++i;
    } else {
      out += s[i];
    }
  }
  out += "\\E";
  return out;
}

// A token id: an integer that fits (nlohmann's own conversion of a float or huge unsigned is UB).
int64_t json_id(const json& v, const std::string& path) {
  PAGODA_CHECK(v.is_number_integer(), "{}: token id {} is not an integer", path, v.dump());
  if (v.is_number_unsigned()) {
    PAGODA_CHECK(v.get<uint64_t>() < (uint64_t{1} << 31), "{}: token id {} out of range", path, v.dump());
    return static_cast<int64_t>(v.get<uint64_t>());
  }
  return v.get<int64_t>();
}

struct JsonLoader {
  const std::string& path;
  TokenizerSpec& spec;
  bool byte_level = false;
  bool sentencepiece = false;

  void normalizer(const json& n) {
    if (n.is_null()) return;
    const std::string type = str_or(n, "type", "");
    if (type == "Sequence") {
      for (const json& c : n.at("normalizers")) normalizer(c);
    } else if (type == "Prepend") {
      PAGODA_CHECK(str_or(n, "prepend", "") == SPM_SPACE, "{}: Prepend normalizer with other than \"▁\"", path);
      spec.add_space_prefix = true;
      sentencepiece = true;
    } else if (type == "Replace") {
      const json& pat = n.at("pattern");
      PAGODA_CHECK(pat.contains("String") && pat["String"] == " " && str_or(n, "content", "") == SPM_SPACE,
                   "{}: only the Replace(\" \" -> \"▁\") normalizer is supported", path);
      sentencepiece = true;
    } else if (type == "NFC" || type == "NFKC") {
      // Accepted but not applied: text already in NFC (nearly all text) tokenizes identically.
    } else {
      fail("{}: unsupported normalizer '{}'", path, type);
    }
  }

  void pre_tokenizer(const json& p) {
    if (p.is_null()) return;
    const std::string type = str_or(p, "type", "");
    if (type == "Sequence") {
      for (const json& c : p.at("pretokenizers")) pre_tokenizer(c);
    } else if (type == "ByteLevel") {
      byte_level = true;
      if (bool_or(p, "add_prefix_space", false)) {
        PAGODA_CHECK(spec.split_patterns.empty(), "{}: ByteLevel add_prefix_space after other splits", path);
        spec.add_prefix_space = true;
      }
      if (bool_or(p, "use_regex", true)) spec.split_patterns.push_back(PRE_TOKENIZER_GPT2_REGEX);
    } else if (type == "Split") {
      PAGODA_CHECK(str_or(p, "behavior", "") == "Isolated" && !bool_or(p, "invert", false),
                   "{}: only Split(behavior=Isolated, invert=false) is supported", path);
      const json& pat = p.at("pattern");
      if (pat.contains("Regex"))
        spec.split_patterns.push_back(pat["Regex"].get<std::string>());
      else
        spec.split_patterns.push_back(regex_quote(pat.at("String").get<std::string>()));
    } else if (type == "Digits") {
      spec.split_patterns.push_back(bool_or(p, "individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)");
    } else if (type == "Metaspace") {
      PAGODA_CHECK(str_or(p, "replacement", SPM_SPACE) == SPM_SPACE, "{}: Metaspace replacement must be \"▁\"", path);
      sentencepiece = true;
      const std::string scheme = str_or(p, "prepend_scheme", bool_or(p, "add_prefix_space", true) ? "always" : "never");
      spec.add_space_prefix = scheme != "never";
      spec.space_prefix_first_only = scheme == "first";
      spec.space_prefix_unless_space = true;
      spec.split_on_space = bool_or(p, "split", true);
    } else {
      fail("{}: unsupported pre-tokenizer '{}'", path, type);
    }
  }

  void post_processor(const json& p, const std::vector<std::string>& tokens) {
    if (p.is_null()) return;
    const std::string type = str_or(p, "type", "");
    if (type == "Sequence") {
      for (const json& c : p.at("processors")) post_processor(c, tokens);
    } else if (type == "TemplateProcessing") {
      const json& single = p.at("single");
      if (!single.is_array() || single.empty() || !single[0].contains("SpecialToken")) return;
      const std::string name = single[0]["SpecialToken"].at("id").get<std::string>();
      const json& st = p.at("special_tokens");
      PAGODA_CHECK(st.contains(name) && st[name].at("ids").size() == 1,
                   "{}: post-processor special token '{}' is not a single id", path, name);
      const int64_t id = json_id(st[name]["ids"][0], path);
      PAGODA_CHECK(id >= 0 && id < static_cast<int64_t>(tokens.size()), "{}: BOS id {} out of range", path, id);
      spec.bos_id = static_cast<int32_t>(id);
      spec.add_bos = true;
    }
    // ByteLevel (offset trimming only), Roberta/Bert processors: no BOS of the kind modelled here.
  }
};

std::string config_token(const json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) return str_or(*it, "content", "");
  return "";
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_tokenizer_json(const std::string& path) {
  const json j = read_json(path);
  TokenizerSpec spec;
  JsonLoader loader{path, spec};
  try {
    const json& model = j.at("model");
    PAGODA_CHECK(str_or(model, "type", "BPE") == "BPE", "{}: unsupported model type '{}' (only BPE)", path,
                 str_or(model, "type", ""));
    PAGODA_CHECK(str_or(model, "continuing_subword_prefix", "").empty() &&
                     str_or(model, "end_of_word_suffix", "").empty(),
                 "{}: BPE with subword prefixes/suffixes is not supported", path);
    PAGODA_CHECK(!model.contains("dropout") || model["dropout"].is_null() || model["dropout"].get<double>() == 0.0,
                 "{}: BPE dropout is not supported", path);

    // Tokens by id: the model's vocabulary, then added tokens (which may extend it).
    const json& vocab = model.at("vocab");
    int64_t max_id = -1;
    for (const auto& [text, id] : vocab.items()) max_id = std::max<int64_t>(max_id, json_id(id, path));
    const json added = j.value("added_tokens", json::array());
    for (const json& a : added) max_id = std::max<int64_t>(max_id, json_id(a.at("id"), path));
    PAGODA_CHECK(max_id >= 0 && max_id < (int64_t{1} << 24), "{}: vocabulary ids out of range", path);
    spec.tokens.assign(static_cast<size_t>(max_id) + 1, "");
    spec.types.assign(spec.tokens.size(), TokenType::TOKEN_TYPE_UNUSED);
    spec.byte_fallback = bool_or(model, "byte_fallback", false);
    for (const auto& [text, id] : vocab.items()) {
      const int64_t i = json_id(id, path);
      PAGODA_CHECK(i >= 0, "{}: negative token id", path);
      spec.tokens[i] = text;
      const bool byte = spec.byte_fallback && text.size() == 6 && text.rfind("<0x", 0) == 0 && text[5] == '>';
      spec.types[i] = byte ? TokenType::TOKEN_TYPE_BYTE : TokenType::TOKEN_TYPE_NORMAL;
    }
    for (const json& a : added) {
      const int64_t i = json_id(a.at("id"), path);
      PAGODA_CHECK(i >= 0, "{}: negative added token id", path);
      spec.tokens[i] = a.at("content").get<std::string>();
      spec.types[i] = bool_or(a, "special", false) ? TokenType::TOKEN_TYPE_CONTROL : TokenType::TOKEN_TYPE_USER_DEFINED;
    }
    for (const json& m : model.at("merges")) {
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t sp = s.find(' ', 1);
        PAGODA_CHECK(sp != std::string::npos, "{}: malformed merge '{}'", path, s);
        spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else {
        PAGODA_CHECK(m.is_array() && m.size() == 2, "{}: malformed merge {}", path, m.dump());
        spec.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      }
    }
    spec.ignore_merges = bool_or(model, "ignore_merges", false);
    const std::string unk = str_or(model, "unk_token", "");

    loader.normalizer(j.value("normalizer", json()));
    loader.pre_tokenizer(j.value("pre_tokenizer", json()));
    PAGODA_CHECK(!(loader.byte_level && loader.sentencepiece), "{}: mixes ByteLevel and \"▁\" space handling", path);
    PAGODA_CHECK(loader.byte_level || loader.sentencepiece || spec.byte_fallback,
                 "{}: neither a ByteLevel pre-tokenizer nor SentencePiece-style spaces: unsupported", path);
    spec.kind = loader.byte_level ? TokenizerKind::TOKENIZER_KIND_BYTE_LEVEL
                                  : TokenizerKind::TOKENIZER_KIND_SENTENCEPIECE;
    PAGODA_CHECK(spec.kind == TokenizerKind::TOKENIZER_KIND_BYTE_LEVEL || spec.split_patterns.empty(),
                 "{}: regex splits with SentencePiece-style spaces are not supported", path);
    loader.post_processor(j.value("post_processor", json()), spec.tokens);

    auto find_id = [&](const std::string& text) -> int32_t {
      if (text.empty()) return -1;
      for (size_t i = 0; i < spec.tokens.size(); ++i)
        if (spec.tokens[i] == text) return static_cast<int32_t>(i);
      return -1;
    };
    spec.unk_id = find_id(unk);

    const std::filesystem::path cfg_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
    if (std::filesystem::exists(cfg_path)) {
      const json cfg = read_json(cfg_path.string());
      if (const int32_t b = find_id(config_token(cfg, "bos_token")); b >= 0) spec.bos_id = b;
      spec.eos_id = find_id(config_token(cfg, "eos_token"));
      spec.pad_id = find_id(config_token(cfg, "pad_token"));
      if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean())
        spec.add_bos = cfg["add_bos_token"].get<bool>() && spec.bos_id >= 0;
      spec.chat_template = str_or(cfg, "chat_template", "");
    }
    if (spec.eos_id < 0) {
      // No config: the conventional end-of-sequence token of the families this file format covers.
      for (const char* name : {"</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>"})
        if ((spec.eos_id = find_id(name)) >= 0) break;
    }
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed tokenizer.json: {}", path, e.what());
  }
  return make_bpe_tokenizer(std::move(spec));
}

}  // namespace pagoda
