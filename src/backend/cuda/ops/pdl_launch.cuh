// The ops kernels' launches: programmatic dependents wherever pdl_enabled() (backend/cuda/pdl.hpp),
// a failed launch thrown as a pagoda::Error like every other ops launch.
#pragma once

#include "backend/cuda/ops/cuda_check.hpp"
#include "backend/cuda/pdl_launch.cuh"

namespace pagoda::cuda {

template <typename... Params, typename... Args>
void launch_pdl(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, Args&&... args) {
  PAGODA_CUDA_CHECK(launch_maybe_pdl(pdl_enabled(), kernel, grid, block, smem, stream, std::forward<Args>(args)...));
}

}  // namespace pagoda::cuda
