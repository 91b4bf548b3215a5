// Whether kernels may launch as programmatic dependents (PDL) on the current device: compute
// capability >= 9.0 and PAGODA_PDL not "0" (the switch for A/B measurements). One answer for the
// attention kernels and the model's ops. Host-only, no throwing: a failed query means "no".
#pragma once

#include <cuda_runtime_api.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace pagoda::cuda {

inline bool pdl_enabled() {
  static const bool env_off = [] {
    const char* v = std::getenv("PAGODA_PDL");
    return v != nullptr && std::strcmp(v, "0") == 0;
  }();
  if (env_off) return false;
  static std::array<std::atomic<int>, 64> known{};  // per device: 0 unknown, 1 no, 2 yes
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= static_cast<int>(known.size())) {
    cudaGetLastError();
    return false;
  }
  int k = known[static_cast<size_t>(dev)].load(std::memory_order_relaxed);
  if (k == 0) {
    int major = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    k = major >= 9 ? 2 : 1;
    known[static_cast<size_t>(dev)].store(k, std::memory_order_relaxed);
  }
  return k == 2;
}

}  // namespace pagoda::cuda
