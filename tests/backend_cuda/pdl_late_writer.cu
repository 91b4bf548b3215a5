// The late writer of pdl_late_writer.hpp: the PDL tests' stand-in for the step's KV append.
#include "backend/cuda/device_utils.cuh"
#include "backend_cuda/pdl_late_writer.hpp"

namespace pagoda::test {
namespace {

constexpr int kMaxSets = 3;

struct LateArgs {
  LateRows sets[kMaxSets];
  int n_sets;
  unsigned long long delay_ns;
};

__device__ __forceinline__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void late_write_kernel(LateArgs a) {
  // Dependents may be placed now; they must not read what is written below before their wait.
  cuda::dev::launch_dependents();
  if (threadIdx.x == 0) {
    const unsigned long long t0 = global_ns();
    while (global_ns() - t0 < a.delay_ns) __nanosleep(1000);
  }
  __syncthreads();
  for (int s = 0; s < a.n_sets; ++s) {
    const LateRows& r = a.sets[s];
    const int64_t n = r.rows * r.row_elems;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const int64_t row = i / r.row_elems, e = i % r.row_elems;
      const int64_t dst_row = r.dst_rows ? r.dst_rows[row] : row;
      static_cast<uint16_t*>(r.dst)[dst_row * r.row_elems + e] = static_cast<const uint16_t*>(r.src)[i];
    }
  }
}

}  // namespace

cudaError_t late_write_rows(const LateRows* sets, int n_sets, int delay_us, cudaStream_t stream) {
  if (n_sets < 0 || n_sets > kMaxSets || delay_us < 0) return cudaErrorInvalidValue;
  LateArgs a{};
  for (int s = 0; s < n_sets; ++s) a.sets[s] = sets[s];
  a.n_sets = n_sets;
  a.delay_ns = static_cast<unsigned long long>(delay_us) * 1000ull;
  late_write_kernel<<<1, 256, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace pagoda::test
