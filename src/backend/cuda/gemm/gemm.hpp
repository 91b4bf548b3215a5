// Linear layers on CUDA: y [M, N] = x [M, K] . W [N, K]^T with fp32 accumulation, through cuBLASLt
// or, for the flat GEMMs of decode (M <= 16 rows), a bandwidth-bound GEMV kernel. gemm_choose is
// the one place that picks between them per shape (rule taken from bench measurements on H100).
// Promises: launches only on the caller's stream (graph capturable once a shape has been seen).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <map>
#include <tuple>

#include "core/dtype.hpp"

namespace pagoda::cuda {

enum class GemmAlgo : uint8_t { GEMM_ALGO_AUTO, GEMM_ALGO_CUBLASLT, GEMM_ALGO_GEMV };

constexpr int64_t kGemvMaxRows = 16;

// Which implementation runs y [M, N] = x [M, K] W^T for this shape and weight dtype.
GemmAlgo gemm_choose(int64_t M, int64_t N, int64_t K, DType dtype);

// True when the GEMV kernel can run this problem (16-bit weights, K a multiple of 8, M <= 16,
// 16-byte aligned operands).
bool gemv_supported(const void* x, const void* w, int64_t M, int64_t K, DType dtype);

// The GEMV kernel alone: y (out_dtype: dtype or F32) = x W^T for M <= 16 rows. ksplit (1, 2, 4, 8)
// warps share each output column over slices of K; 0 picks gemv_default_ksplit(N, K).
void gemv(const void* x, const void* w, void* y, int64_t M, int64_t N, int64_t K, DType dtype, DType out_dtype,
          cudaStream_t stream, int ksplit = 0);
int gemv_default_ksplit(int64_t N, int64_t K);

// y [M, F] = silu(x W_gate^T) * (x W_up^T) for W = [W_gate; W_up] ([2F, K], the checkpoint's fused
// gate|up rows) in one pass, M <= 16: the GEMV above with the SwiGLU as its epilogue, so decode needs
// no separate silu_mul kernel. Equal to gemv (out dtype = dtype) followed by silu_mul, bit for bit.
// ksplit 1, 2 or 4; 0 picks the default.
void gemv_silu_mul(const void* x, const void* w, void* y, int64_t M, int64_t F, int64_t K, DType dtype,
                   cudaStream_t stream, int ksplit = 0);


class Gemm {
 public:
  explicit Gemm(size_t workspace_bytes = size_t(32) << 20);
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  // x, y row-major; W [N, K] row-major (the checkpoint layout). out_dtype is dtype or F32.
  void run(const void* x, const void* w, void* y, int64_t M, int64_t N, int64_t K, DType dtype, DType out_dtype,
           cudaStream_t stream, GemmAlgo algo = GemmAlgo::GEMM_ALGO_AUTO);
  size_t workspace_bytes() const { return workspace_bytes_; }

 private:
  struct Plan {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  const Plan& plan_for(int64_t M, int64_t N, int64_t K, DType dtype, DType out_dtype);

  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  std::map<std::tuple<int64_t, int64_t, int64_t, int, int>, Plan> plans_;
};

}  // namespace pagoda::cuda
