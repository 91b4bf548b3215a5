// Where does the hardware place the CTAs of thread block clusters? Launches grid (S, 8) in clusters of S
// (S = 8, 16) with a given dynamic shared memory per CTA and records each CTA's SM; prints how many SMs the
// launch used, how many held 2 CTAs, and cudaOccupancyMaxActiveClusters. Also the same grid without clusters.
// Build: nvcc -std=c++17 -O2 -gencode arch=compute_90a,code=sm_90a cluster_placement.cu -o cluster_placement
#include <cuda_runtime.h>

#include <cstdio>
#include <map>
#include <vector>

__global__ void where(int* smid, long long spin) {
  extern __shared__ unsigned char s[];
  unsigned r;
  asm volatile("mov.u32 %0, %%smid;" : "=r"(r));
  if (threadIdx.x == 0) smid[blockIdx.y * gridDim.x + blockIdx.x] = int(r);
  s[threadIdx.x] = 1;
  const long long t0 = clock64();
  while (clock64() - t0 < spin) {
  }
}

int main() {
  int* d;
  cudaMalloc(&d, 4096 * sizeof(int));
  cudaFuncSetAttribute(where, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
  cudaFuncSetAttribute(where, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024);
  for (int S : {0, 8, 16})
    for (int heads : {8, 16})
      for (int smem_kb : {96, 120}) {
        const int splits = S == 0 ? 16 : S;
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = dim3(splits, heads);
        cfg.blockDim = dim3(128);
        cfg.dynamicSmemBytes = smem_kb * 1024;
        cudaLaunchAttribute a[1];
        a[0].id = cudaLaunchAttributeClusterDimension;
        a[0].val.clusterDim.x = S;
        a[0].val.clusterDim.y = 1;
        a[0].val.clusterDim.z = 1;
        cfg.attrs = a;
        cfg.numAttrs = S ? 1 : 0;
        int clusters = -1;
        if (S) cudaOccupancyMaxActiveClusters(&clusters, where, &cfg);
        cudaMemset(d, 0xff, 4096 * sizeof(int));
        cudaError_t e = cudaLaunchKernelEx(&cfg, where, d, 200000LL);
        cudaDeviceSynchronize();
        std::vector<int> h(splits * heads);
        cudaMemcpy(h.data(), d, h.size() * sizeof(int), cudaMemcpyDeviceToHost);
        std::map<int, int> per_sm;
        for (int x : h) per_sm[x]++;
        int doubles = 0;
        for (auto& [sm, n] : per_sm) doubles += n > 1;
        std::printf("cluster %2d grid %2dx%2d smem %3d KB: %s, max active clusters %d, SMs used %zu, SMs with >1 CTA %d\n",
                    S, splits, heads, smem_kb, cudaGetErrorString(e), clusters, per_sm.size(), doubles);
      }
  return 0;
}
