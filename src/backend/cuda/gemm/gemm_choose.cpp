// The one rule that picks the GEMM implementation per shape. GEMV wins where the weight stream
// dominates and the few activation rows stay in cache; cuBLASLt wins once its tensor-core tiles
// are fed enough rows. Threshold from bench/model gemm_sweep on H100 (see bench/results).
#include "backend/cuda/gemm/gemm.hpp"

namespace pagoda::cuda {

GemmAlgo gemm_choose(int64_t M, int64_t N, int64_t K, DType dtype) {
  if (dtype != DType::DTYPE_BF16 && dtype != DType::DTYPE_F16) return GemmAlgo::GEMM_ALGO_CUBLASLT;
  if (M <= 4) return GemmAlgo::GEMM_ALGO_GEMV;
  return GemmAlgo::GEMM_ALGO_CUBLASLT;
}

}  // namespace pagoda::cuda
