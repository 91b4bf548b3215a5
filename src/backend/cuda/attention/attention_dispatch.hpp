// The one place where runtime shapes pick compile-time kernel knobs (dtype, head dim). Each
// dispatcher calls f with tag types and returns false for a combination that is not instantiated
// (the .cpp callers validate first and report). Only what is listed here is compiled.
// Included by .cu files only; kept free of fmt (nvcc's front end rejects fmt 9's consteval checks).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "core/dtype.hpp"

namespace pagoda::cuda {

template <typename T>
struct TypeTag {
  using type = T;
};

template <typename F>
bool dispatch_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::DTYPE_BF16: f(TypeTag<__nv_bfloat16>{}); return true;
    case DType::DTYPE_F16: f(TypeTag<__half>{}); return true;
    default: return false;
  }
}

template <typename F>
bool dispatch_head_dim(int head_dim, F&& f) {
  switch (head_dim) {
    case 64: f(std::integral_constant<int, 64>{}); return true;
    case 128: f(std::integral_constant<int, 128>{}); return true;
    default: return false;
  }
}

}  // namespace pagoda::cuda
