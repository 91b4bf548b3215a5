// Return-code checks for the CUDA runtime and cuBLAS(Lt): every failing call becomes a
// pagoda::Error naming the call, the file and the code, so a bad launch is one clear message.
// Free of fmt so .cu files can use it; does not synchronize (async faults surface at the next check).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <string>

namespace pagoda::cuda {
[[noreturn]] void cuda_fail(int code, const char* what, const char* expr, const char* file, int line);
[[noreturn]] void cublas_fail(int code, const char* expr, const char* file, int line);
[[noreturn]] void ops_fail(const std::string& message);  // throws pagoda::Error(message)
}  // namespace pagoda::cuda

#define PAGODA_CUDA_CHECK(expr)                                                                             \
  do {                                                                                                      \
    cudaError_t _e = (expr);                                                                                \
    if (_e != cudaSuccess)                                                                                  \
      ::pagoda::cuda::cuda_fail(static_cast<int>(_e), cudaGetErrorString(_e), #expr, __FILE__, __LINE__);    \
  } while (0)

#define PAGODA_CUBLAS_CHECK(expr)                                                              \
  do {                                                                                         \
    cublasStatus_t _s = (expr);                                                                \
    if (_s != CUBLAS_STATUS_SUCCESS) ::pagoda::cuda::cublas_fail(static_cast<int>(_s), #expr, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: catches bad configurations (the launch itself), not faults inside it.
#define PAGODA_CUDA_LAUNCH_CHECK() PAGODA_CUDA_CHECK(cudaGetLastError())
