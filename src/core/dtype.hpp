// Element types: plain floats and the GGML block-quantized formats, with their block geometry.
// A quantized type stores `block_size` elements in `block_bytes` bytes; rows must be whole blocks.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace pagoda {

enum class DType : uint8_t {
  DTYPE_F32,
  DTYPE_F16,
  DTYPE_BF16,
  DTYPE_F64,
  DTYPE_I32,
  DTYPE_I64,
  DTYPE_I8,
  DTYPE_U8,
  DTYPE_Q8_0,
  DTYPE_Q8_1,  // activations only (llama.cpp-compatible layout with the block sum)
  DTYPE_Q4_0,
  DTYPE_Q4_1,
  DTYPE_Q4_K,
  DTYPE_Q6_K,
};

struct DTypeInfo {
  std::string_view name;
  uint32_t block_size;   // elements per block (1 for plain types)
  uint32_t block_bytes;  // bytes per block
  bool quantized;
};

const DTypeInfo& dtype_info(DType t);
std::optional<DType> dtype_from_name(std::string_view name);  // "F32", "BF16", "Q4_1", ...

// Bytes for one row of `n` elements; nullopt if `n` is not a whole number of blocks.
std::optional<uint64_t> dtype_row_bytes(DType t, uint64_t n);

// Half and bfloat16 conversions (round-to-nearest-even on the way down).
inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

}  // namespace pagoda
