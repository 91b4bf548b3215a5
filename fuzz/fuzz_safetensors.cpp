// libFuzzer target for the safetensors parser: any input must either parse or throw pagoda::Error.
// Any other exception, crash or sanitizer report is a finding.
#include <cstddef>
#include <cstdint>

#include "core/error.hpp"
#include "io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = pagoda::SafetensorsFile::parse({data, size}, "fuzz.safetensors");
    uint64_t sum = 0;
    for (const pagoda::TensorDesc& t : f->tensors())
      if (!t.data.empty()) sum += t.data.front() + t.data.back() + static_cast<uint64_t>(t.numel());
    for (const auto& [k, v] : f->metadata()) sum += k.size() + v.size();
    volatile uint64_t sink = sum;
    (void)sink;
  } catch (const pagoda::Error&) {
  }
  return 0;
}
