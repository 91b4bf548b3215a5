// A tensor as a file holds it: name, element type, shape (outermost dimension first, as PyTorch
// writes it: a weight is [out, in]) and its bytes inside a memory map owned by the file object.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.hpp"

namespace pagoda {

struct TensorDesc {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;  // outermost first; GGUF's ne[] is reversed into this order
  std::span<const uint8_t> data;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

}  // namespace pagoda
