// Tokenizer: byte-level BPE (GPT-2 style: SmolLM2, Llama 3, Qwen2) and SentencePiece-style BPE
// (Llama 2), built from GGUF metadata (tokenizer.ggml.*) or a Hugging Face tokenizer.json.
// Special and added tokens are matched before pre-tokenization when parse_special is set.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pagoda {

class GgufFile;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  static std::unique_ptr<Tokenizer> from_gguf(const GgufFile& gguf);
  static std::unique_ptr<Tokenizer> from_tokenizer_json(const std::string& path);

  // add_bos: prepend BOS when the model's metadata asks for it (tokenizer.ggml.add_bos_token /
  // the post-processor); parse_special: recognise special-token strings such as <|im_start|>.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const = 0;
  // The raw bytes of one token (byte tokens and byte-level mapping already undone).
  virtual std::string token_bytes(int32_t id) const = 0;
  std::string decode(std::span<const int32_t> ids) const;

  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 when none
  virtual int32_t eos_id() const = 0;
  virtual bool is_end_of_generation(int32_t id) const = 0;  // eos, eot, <|im_end|>, ...
  virtual bool is_special(int32_t id) const = 0;
  virtual int32_t token_id(std::string_view piece) const = 0;  // -1 when absent
  virtual const std::string& chat_template() const = 0;         // "" when the model has none
};

// Turns a stream of token ids into text, holding back bytes of an incomplete UTF-8 sequence
// until the rest arrives, so streaming output never splits a character.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok) : tok_(tok) {}
  std::string push(int32_t id);  // complete UTF-8 text available after this token
  std::string flush();           // whatever remains (invalid tails become U+FFFD)

 private:
  const Tokenizer& tok_;
  std::string pending_;
};

}  // namespace pagoda
