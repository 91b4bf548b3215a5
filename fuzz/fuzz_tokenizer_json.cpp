// libFuzzer target: tokenizer.json loading, then encoding and decoding a fixed text with whatever
// tokenizer the input describes. pagoda::Error is the only acceptable failure.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "core/error.hpp"
#include "tokenizer/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The loader takes a path (it also reads a sibling tokenizer_config.json): one file per process.
  static const std::string path = "/tmp/pagoda-fuzz-tokenizer-" + std::to_string(getpid()) + ".json";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    auto tok = pagoda::Tokenizer::from_tokenizer_json(path);
    auto ids = tok->encode("Hello, world! 123 <|im_start|> \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80 \xff", true, true);
    tok->decode(ids);
    pagoda::StreamDecoder dec(*tok);
    for (int32_t id : ids) dec.push(id);
    dec.flush();
  } catch (const pagoda::Error&) {
  }
  return 0;
}
