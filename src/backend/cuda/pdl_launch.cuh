// Kernel launch that is a programmatic dependent (PDL, sm_90+) when asked: the next kernel in the
// stream may be scheduled before this one ends, so its prologue (weight loads, which never depend
// on the previous kernel) overlaps the previous kernel's tail. Correctness rests on each such
// kernel calling dev::grid_dependency_wait() before it reads or writes anything another kernel
// touches. Returns the launch's error code (callers decide how to report it).
#pragma once

#include <cuda_runtime.h>

#include <utility>

#include "backend/cuda/device_utils.cuh"
#include "backend/cuda/pdl.hpp"

namespace pagoda::cuda {

template <typename... Params, typename... Args>
cudaError_t launch_maybe_pdl(bool pdl, void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                             cudaStream_t stream, Args&&... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = pdl ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
}

}  // namespace pagoda::cuda
