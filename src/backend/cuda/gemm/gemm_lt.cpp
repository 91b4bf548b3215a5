// cuBLASLt half of the Gemm wrapper: one cached plan (descriptors + heuristic algorithm) per
// shape, so steady-state calls are a single cublasLtMatmul and capture into CUDA graphs.
#include <fmt/format.h>

#include "backend/cuda/gemm/gemm.hpp"
#include "backend/cuda/ops/cuda_check.hpp"
#include "core/error.hpp"

namespace pagoda::cuda {

namespace {

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::DTYPE_F32: return CUDA_R_32F;
    case DType::DTYPE_F16: return CUDA_R_16F;
    case DType::DTYPE_BF16: return CUDA_R_16BF;
    default: fail("GEMM: unsupported element type {}", dtype_info(t).name);
  }
}

}  // namespace

Gemm::Gemm(size_t workspace_bytes) : workspace_bytes_(workspace_bytes) {
  PAGODA_CUBLAS_CHECK(cublasLtCreate(&handle_));
  PAGODA_CUDA_CHECK(cudaMalloc(&workspace_, workspace_bytes_));
}

Gemm::~Gemm() {
  for (auto& [key, p] : plans_) {
    cublasLtMatrixLayoutDestroy(p.a);
    cublasLtMatrixLayoutDestroy(p.b);
    cublasLtMatrixLayoutDestroy(p.c);
    cublasLtMatmulDescDestroy(p.op);
  }
  if (workspace_) cudaFree(workspace_);
  if (handle_) cublasLtDestroy(handle_);
}

const Gemm::Plan& Gemm::plan_for(int64_t M, int64_t N, int64_t K, DType dtype, DType out_dtype) {
  const auto key = std::make_tuple(M, N, K, static_cast<int>(dtype), static_cast<int>(out_dtype));
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second;
  Plan p;
  // Column-major view: C^T [N, M] = W [K, N]^T . x^T [K, M]; no TF32 so fp32 mode stays exact.
  PAGODA_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  PAGODA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  PAGODA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
  PAGODA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.a, cuda_type(dtype), static_cast<uint64_t>(K), static_cast<uint64_t>(N), K));
  PAGODA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.b, cuda_type(dtype), static_cast<uint64_t>(K), static_cast<uint64_t>(M), K));
  PAGODA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.c, cuda_type(out_dtype), static_cast<uint64_t>(N), static_cast<uint64_t>(M), N));
  cublasLtMatmulPreference_t pref = nullptr;
  PAGODA_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  PAGODA_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                           &workspace_bytes_, sizeof(workspace_bytes_)));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(handle_, p.op, p.a, p.b, p.c, p.c, pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (st != CUBLAS_STATUS_SUCCESS || found == 0)
    fail("cuBLASLt has no algorithm for [{} x {}] . [{} x {}]^T in {} -> {}", M, K, N, K, dtype_info(dtype).name,
         dtype_info(out_dtype).name);
  p.algo = result.algo;
  return plans_.emplace(key, p).first->second;
}

void Gemm::run(const void* x, const void* w, void* y, int64_t M, int64_t N, int64_t K, DType dtype, DType out_dtype,
               cudaStream_t stream, GemmAlgo algo) {
  if (M == 0) return;
  PAGODA_CHECK(out_dtype == dtype || out_dtype == DType::DTYPE_F32, "GEMM: output type must be the input type or F32");
  if (algo == GemmAlgo::GEMM_ALGO_AUTO) algo = gemm_choose(M, N, K, dtype);
  if (algo == GemmAlgo::GEMM_ALGO_GEMV && gemv_supported(x, w, M, K, dtype)) {
    gemv(x, w, y, M, N, K, dtype, out_dtype, stream);
    return;
  }
  const Plan& p = plan_for(M, N, K, dtype, out_dtype);
  const float alpha = 1.0f, beta = 0.0f;
  PAGODA_CUBLAS_CHECK(cublasLtMatmul(handle_, p.op, &alpha, w, p.a, x, p.b, &beta, y, p.c, y, p.c, &p.algo, workspace_,
                                     workspace_bytes_, stream));
}

}  // namespace pagoda::cuda
