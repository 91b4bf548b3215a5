// Helpers for the CPU backend tests: the ISA tables this machine can run, random data, fp16 scales.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "backend/cpu/kernels.hpp"
#include "core/dtype.hpp"

namespace pagoda::test {

inline std::vector<cpu::CpuIsa> isas_available() {
  std::vector<cpu::CpuIsa> out;
  for (auto isa : {cpu::CpuIsa::CPU_ISA_SCALAR, cpu::CpuIsa::CPU_ISA_AVX2, cpu::CpuIsa::CPU_ISA_AVX512})
    if (cpu::cpu_isa_available(isa)) out.push_back(isa);
  return out;
}

inline std::vector<float> random_floats(std::mt19937& rng, size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Random raw bytes for n rows of a block format, with every fp16 scale field set to a finite
// value in [lo, hi] (random bytes there could be inf/NaN). scale_offsets are byte offsets in a block.
inline std::vector<uint8_t> random_blocks(std::mt19937& rng, DType t, int64_t rows, int64_t cols,
                                          std::vector<int> scale_offsets, float lo, float hi) {
  const auto& info = dtype_info(t);
  const int64_t nblocks = rows * cols / info.block_size;
  std::vector<uint8_t> v(static_cast<size_t>(nblocks * info.block_bytes));
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> sc(lo, hi);
  for (auto& b : v) b = static_cast<uint8_t>(byte(rng));
  for (int64_t i = 0; i < nblocks; ++i)
    for (int off : scale_offsets) {
      const uint16_t h = f32_to_f16(sc(rng));
      std::memcpy(&v[i * info.block_bytes + off], &h, 2);
    }
  return v;
}

}  // namespace pagoda::test
