// The streaming read the bench's ceiling kernels share: every thread of the grid reads 16-byte words of a
// then b (one index space) with streaming loads, IN_FLIGHT at a time, and folds them into a checksum so the
// loads are not removed. The first pre_batches batches go out before griddepcontrol.wait, the rest after
// (a large value: every load before it; ALL_BEFORE_WAIT says so at compile time, without the batch count);
// a plain launch's wait returns at once. Returns with the wait done.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backend/cuda/device_utils.cuh"

namespace pagoda::bench {

template <int THREADS, int IN_FLIGHT, bool ALL_BEFORE_WAIT = false>
__device__ __forceinline__ unsigned read_stream(const uint4* a, const uint4* b, std::size_t n_each, int pre_batches) {
  const std::size_t stride = std::size_t(gridDim.x) * THREADS;
  const std::size_t n = 2 * n_each;
  auto at = [&](std::size_t i) { return i < n_each ? __ldcs(a + i) : __ldcs(b + (i - n_each)); };
  unsigned acc = 0;
  std::size_t i = std::size_t(blockIdx.x) * THREADS + threadIdx.x;
  int batch = 0;
  for (; i + (IN_FLIGHT - 1) * stride < n; i += IN_FLIGHT * stride, ++batch) {
    if (!ALL_BEFORE_WAIT && batch == pre_batches) cuda::dev::grid_dependency_wait();
    uint4 v[IN_FLIGHT];
#pragma unroll
    for (int u = 0; u < IN_FLIGHT; ++u) v[u] = at(i + u * stride);
#pragma unroll
    for (int u = 0; u < IN_FLIGHT; ++u) acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
  }
  for (; i < n; i += stride) {
    const uint4 v = at(i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (ALL_BEFORE_WAIT || batch <= pre_batches) cuda::dev::grid_dependency_wait();  // not waited in the loop
  return acc;
}

}  // namespace pagoda::bench
