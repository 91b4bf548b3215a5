// libFuzzer target for the GGUF parser: any input must either parse or throw pagoda::Error.
// Any other exception, crash or sanitizer report is a finding.
#include <cstddef>
#include <cstdint>

#include "core/error.hpp"
#include "io/gguf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = pagoda::GgufFile::parse({data, size}, "fuzz.gguf");
    // Touch what a loader would touch, so bad spans show up under ASan.
    uint64_t sum = 0;
    for (const pagoda::TensorDesc& t : f->tensors())
      if (!t.data.empty()) sum += t.data.front() + t.data.back() + static_cast<uint64_t>(t.numel());
    for (const auto& [key, value] : f->metadata()) sum += key.size() + static_cast<uint64_t>(value.type);
    (void)f->get_string("general.architecture");
    volatile uint64_t sink = sum;
    (void)sink;
  } catch (const pagoda::Error&) {
  }
  return 0;
}
