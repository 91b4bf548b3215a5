// The bound a decode kernel can reach at a given size in the bench's own harness: a kernel that only
// reads K and V once (16-byte streaming loads, every SM full: 2048 threads x 8 loads in flight) and
// keeps a checksum so the loads are not removed. A decode reads its K+V and writes almost nothing,
// so this, not a copy (which writes as many bytes as it reads), is its ceiling; at small sizes both
// include the launch, the DRAM ramp and the tail of one grid, which a decode pays too.
// The decode runs as a chain of programmatic dependent launches, whose next launch reads before its
// dependency wait; read_two_launch_pdl is the same reads chained that way, the decode's ceiling in the
// chain (dev/kernels/attention_notes.md, 39).
#include "bench/attention/read_ceiling.hpp"

#include <cstdint>

#include "backend/cuda/device_utils.cuh"
#include "backend/cuda/pdl_launch.cuh"

namespace pagoda::bench {
namespace {

constexpr int THREADS = 256, CTAS_PER_SM = 8, IN_FLIGHT = 8;

// The first pre_batches batches of IN_FLIGHT loads per thread are issued before griddepcontrol.wait, the
// rest after (a large value: every load before it). In a plain launch the wait returns at once and
// launch_dependents does nothing, so the same kernel is the plain ceiling.
__global__ void __launch_bounds__(THREADS) read_two_kernel(const uint4* a, const uint4* b, std::size_t n_each,
                                                           unsigned* sink, int pre_batches) {
  cuda::dev::launch_dependents();  // a programmatic next launch may be placed at once
  const std::size_t stride = std::size_t(gridDim.x) * THREADS;
  const std::size_t n = 2 * n_each;  // a then b, as one index space
  auto at = [&](std::size_t i) { return i < n_each ? __ldcs(a + i) : __ldcs(b + (i - n_each)); };
  unsigned acc = 0;
  std::size_t i = std::size_t(blockIdx.x) * THREADS + threadIdx.x;
  int batch = 0;
  for (; i + (IN_FLIGHT - 1) * stride < n; i += IN_FLIGHT * stride, ++batch) {
    if (batch == pre_batches) cuda::dev::grid_dependency_wait();
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
  if (batch <= pre_batches) cuda::dev::grid_dependency_wait();  // not waited in the loop
  if (acc == 0x9e3779b9u) sink[blockIdx.x % 4096] = acc;
}

cudaError_t launch(bool pdl, const void* a, const void* b, std::size_t bytes_each, unsigned* sink, int ctas,
                   int pre_batches, cudaStream_t stream) {
  return cuda::launch_maybe_pdl(pdl, read_two_kernel, dim3(unsigned(ctas)), dim3(THREADS), 0, stream,
                                static_cast<const uint4*>(a), static_cast<const uint4*>(b), bytes_each / 16, sink,
                                pre_batches);
}

}  // namespace

cudaError_t read_two_launch_pdl(const void* a, const void* b, std::size_t bytes_each, unsigned* sink, int num_sms,
                                int ctas_per_sm, int pre_batches, cudaStream_t stream) {
  return launch(true, a, b, bytes_each, sink, num_sms * ctas_per_sm, pre_batches, stream);
}

cudaError_t read_two_launch(const void* a, const void* b, std::size_t bytes_each, unsigned* sink, int num_sms,
                            cudaStream_t stream) {
  return launch(false, a, b, bytes_each, sink, num_sms * CTAS_PER_SM, 0, stream);
}

}  // namespace pagoda::bench
