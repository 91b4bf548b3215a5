// pdl_enabled(): compute capability >= 9.0 and PAGODA_PDL not "0"; asked once per device.
#include <cuda_runtime_api.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "backend/cuda/ops/cuda_check.hpp"

namespace pagoda::cuda {

bool pdl_enabled() {
  static const bool env_off = [] {
    const char* v = std::getenv("PAGODA_PDL");
    return v != nullptr && std::strcmp(v, "0") == 0;
  }();
  if (env_off) return false;
  static std::array<std::atomic<int>, 64> known{};  // 0 unknown, 1 no, 2 yes
  int dev = 0;
  PAGODA_CUDA_CHECK(cudaGetDevice(&dev));
  if (dev < 0 || dev >= static_cast<int>(known.size())) return false;
  int k = known[static_cast<size_t>(dev)].load(std::memory_order_relaxed);
  if (k == 0) {
    int major = 0;
    PAGODA_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    k = major >= 9 ? 2 : 1;
    known[static_cast<size_t>(dev)].store(k, std::memory_order_relaxed);
  }
  return k == 2;
}

}  // namespace pagoda::cuda
