// The one rule that picks the GEMM implementation per shape. GEMV wins where the weight stream
// dominates and the few activation rows stay in cache; cuBLASLt wins once its tensor-core tiles
// are fed enough rows. Rule from the bench sweep on H200 (bench/results/model-h200-2026-11-21.md):
// GEMV won only at one row with K <= 4096 (qkv 19.1 vs 21.4 us, o 14.9 vs 17.5, gate|up 62.0 vs 67.3);
// at K = 14336 (down) and from two rows on, cuBLASLt was as fast or faster. The second H200 sweep
// (model-h200-2026-11-21-r2.md, GEMV with 8 streaming loads in flight) adds: at two rows the GEMV
// still wins for matrices up to 4096 x 4096 (8B o 15.6 vs 17.7 us, 1B qkv/o/down 9.4/7.7/18.0 vs
// 12.3/11.2/18.5), not for larger ones (8B qkv 23.9 vs 21.8). Third sweep (this session, GEMV with K
// split over warps): at one row the GEMV also wins at K = 14336 (8B down 33.3-35.3 vs cuBLASLt 35.8).
#include "backend/cuda/gemm/gemm.hpp"

namespace pagoda::cuda {

GemmAlgo gemm_choose(int64_t M, int64_t N, int64_t K, DType dtype) {
  if (dtype != DType::DTYPE_BF16 && dtype != DType::DTYPE_F16) return GemmAlgo::GEMM_ALGO_CUBLASLT;
  if (M == 1) return GemmAlgo::GEMM_ALGO_GEMV;
  if (M == 2 && N * K <= (int64_t(1) << 24)) return GemmAlgo::GEMM_ALGO_GEMV;
  return GemmAlgo::GEMM_ALGO_CUBLASLT;
}

}  // namespace pagoda::cuda
