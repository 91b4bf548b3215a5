// Kernel launches as programmatic dependents (PDL, sm_90+): the next kernel in the stream may be
// scheduled before this one ends, so its prologue (weight loads, which never depend on the previous
// kernel) overlaps the previous kernel's tail. Correctness rests on each PDL-launched kernel calling
// dev::grid_dependency_wait() before it reads or writes anything another kernel touches.
// Promises: a plain launch on devices before sm_90 or when PAGODA_PDL=0 (for A/B measurements).
#pragma once

#include <cuda_runtime.h>

#include <utility>

#include "backend/cuda/device_utils.cuh"
#include "backend/cuda/ops/cuda_check.hpp"

namespace pagoda::cuda {

// Whether ops kernels launch as programmatic dependents on the current device (cached per device).
bool pdl_enabled();

template <typename... Params, typename... Args>
void launch_pdl(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, Args&&... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = pdl_enabled() ? 1 : 0;
  PAGODA_CUDA_CHECK(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...));
}

}  // namespace pagoda::cuda
