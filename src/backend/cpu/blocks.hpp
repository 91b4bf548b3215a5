// GGML-compatible block layouts (bit-exact with llama.cpp, since weights come straight from GGUF).
// Promises: sizeof each struct equals the dtype table's block_bytes; fields are little-endian as in
// GGUF. Does not convert anything: dequantization lives in the kernel files.
#pragma once

#include <cstdint>

namespace pagoda::cpu {

constexpr int QK = 32;   // elements per Q8_0/Q8_1/Q4_0/Q4_1 block
constexpr int QKK = 256;  // elements per K-quant super-block

struct BlockQ8_0 {
  uint16_t d;  // fp16 scale; value = qs[i] * d
  int8_t qs[QK];
};
struct BlockQ8_1 {
  uint16_t d;  // fp16 scale
  uint16_t s;  // fp16 of d * sum(qs), so a Q4_1 dot can add m * s without touching qs
  int8_t qs[QK];
};
struct BlockQ4_0 {
  uint16_t d;  // value = (nibble - 8) * d
  uint8_t qs[QK / 2];  // low nibbles: elements 0..15, high nibbles: elements 16..31
};
struct BlockQ4_1 {
  uint16_t d;  // value = nibble * d + m
  uint16_t m;
  uint8_t qs[QK / 2];  // same nibble order as Q4_0
};
// Q4_K: 8 sub-blocks of 32, each with a 6-bit scale and 6-bit min packed in `scales`;
// value = d * sc_j * nibble - dmin * m_j. Sub-blocks 2i and 2i+1 share qs[32i .. 32i+31]
// (low nibbles, then high nibbles).
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[QKK / 2];
};
// Q6_K: 16 sub-blocks of 16 with int8 scales; 6-bit q = 4 low bits (ql) | 2 high bits (qh) << 4,
// value = d * scales[j] * (q - 32).
struct BlockQ6_K {
  uint8_t ql[QKK / 2];
  uint8_t qh[QKK / 4];
  int8_t scales[QKK / 16];
  uint16_t d;
};

static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ6_K) == 210);

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K super-block.
inline void q4_k_scale_min(int j, const uint8_t* s, int& sc, int& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

}  // namespace pagoda::cpu
