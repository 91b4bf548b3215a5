// Overflow-safe arithmetic for parsers that size allocations from untrusted counts.
// Each helper returns false (or throws pagoda::Error for the *_or_fail forms) instead of wrapping.
#pragma once

#include <cstdint>
#include <span>

#include "core/error.hpp"

namespace pagoda {

inline bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }
inline bool checked_add(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }

inline uint64_t mul_or_fail(uint64_t a, uint64_t b, const char* what) {
  uint64_t r;
  PAGODA_CHECK(checked_mul(a, b, &r), "{} overflows 64 bits", what);
  return r;
}
inline uint64_t add_or_fail(uint64_t a, uint64_t b, const char* what) {
  uint64_t r;
  PAGODA_CHECK(checked_add(a, b, &r), "{} overflows 64 bits", what);
  return r;
}

// Product of dims, refusing negative dims and overflow.
inline uint64_t element_count_or_fail(std::span<const int64_t> dims, const char* what) {
  uint64_t n = 1;
  for (int64_t d : dims) {
    PAGODA_CHECK(d >= 0, "{} has a negative dimension", what);
    n = mul_or_fail(n, static_cast<uint64_t>(d), what);
  }
  return n;
}

}  // namespace pagoda
