// The throwing halves of the CUDA/cuBLAS checks, kept out of line so kernels' .cu files need no fmt.
#include "backend/cuda/ops/cuda_check.hpp"

#include "core/error.hpp"

namespace pagoda::cuda {

void cuda_fail(int code, const char* what, const char* expr, const char* file, int line) {
  fail("CUDA error {} ({}) in {} at {}:{}", code, what, expr, file, line);
}

void cublas_fail(int code, const char* expr, const char* file, int line) {
  fail("cuBLAS error {} in {} at {}:{}", code, expr, file, line);
}

void ops_fail(const std::string& message) { throw Error(message); }

}  // namespace pagoda::cuda
