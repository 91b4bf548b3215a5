// The decode's ceiling with its tail: note 39's PDL-chained read (4 CTAs of 256 threads per SM, so two
// launches share an SM, every load before the dependency wait) followed by what a split decode must do
// after its stream, in the shape the keys-major kernel does it (dev/kernels/attention_notes.md, 59):
//   combine: each warp's 4 x 128-float state through shared memory, summed by 128 threads;
//   partial: that 2 KB and 4 log-sum-exps stored to a workspace of [group][split][512] floats;
//   ticket:  one acq_rel atom.inc per CTA on its group's counter (the last of `group` CTAs merges);
//   merge:   the last CTA loads the group's partials (one L2 trip, 16 in flight per thread), weighs them
//            by their log-sum-exps and stores 512 outputs.
// tail 0 stops after the stream (the ceiling itself), 1 after the partial store, 2 after the ticket,
// 3 runs the whole tail; 4 merges through distributed shared memory instead (the group is a thread-block
// cluster: each CTA's partial stays in its shared memory, rank 0 reads them after a cluster barrier, no
// global round trip). pad_smem (dynamic shared memory per CTA) limits how many CTAs share an SM: a decode's
// ring keeps the next launch off an SM until a CTA exits. 5 sums the partials by vector reductions into one
// buffer per group (a unified max makes partials addable) and merges by reading that sum.
// Tail 2 bounds any split decode with an in-launch merge (it has every step but the merge). Tail 3's merge is a
// stand-in: it measured slower than the decode's own one-trip merge (notes 59), so it is not a bound.
#include <cooperative_groups.h>

#include <cstdint>

#include "backend/cuda/device_utils.cuh"
#include "bench/attention/read_ceiling.hpp"

namespace pagoda::bench {
namespace {

constexpr int THREADS = 256, WARPS = THREADS / 32, IN_FLIGHT = 8, STATE = 512, MAX_GROUP = 16;

// tail 4: the CTA's combined state stays in its own shared memory (s_state[0]); the cluster's rank 0 sums
// the ranks' states weighted by their log-sum-exps (s_state[1][0..3]) and stores the result.
__device__ __forceinline__ void cluster_merge(float (*s_state)[STATE], unsigned acc, float base, float* out) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  namespace cg = cooperative_groups;
  const int tid = threadIdx.x;
  float2 sum = make_float2(0.f, 0.f);
  for (int w = 0; w < WARPS; ++w) {
    const float2 x = reinterpret_cast<const float2*>(s_state[w])[tid];
    sum.x += x.x, sum.y += x.y;
  }
  __syncthreads();  // every warp has read the states before row 0 is overwritten
  reinterpret_cast<float2*>(s_state[0])[tid] = sum;
  if (tid < 4) s_state[1][tid] = base - float(tid);
  cg::cluster_group cluster = cg::this_cluster();
  cluster.sync();  // release the partials, acquire the others'
  const unsigned ranks = cluster.num_blocks();
  if (cluster.block_rank() == 0) {
    const int row = tid / 64;
    float m = -INFINITY;
    for (unsigned r = 0; r < ranks; ++r) m = fmaxf(m, cluster.map_shared_rank(s_state[1], r)[row]);
    float wsum = 0.f;
    float2 o = make_float2(0.f, 0.f);
    for (unsigned r = 0; r < ranks; ++r) {
      const float w = exp2f(cluster.map_shared_rank(s_state[1], r)[row] - m);
      const float2 x = reinterpret_cast<const float2*>(cluster.map_shared_rank(s_state[0], r))[tid];
      wsum += w;
      o.x += w * x.x, o.y += w * x.y;
    }
    reinterpret_cast<float2*>(out)[tid] = make_float2(o.x / wsum, o.y / wsum);
  }
  cluster.sync();  // the other ranks' shared memory lives until rank 0 has read it
#else
  if (acc == 0x9e3779b9u) out[threadIdx.x] = base;
#endif
}

// tail 5: the partials summed in place by vector reductions (a split's state scaled to a shared reference max,
// as FlashDecoding++'s unified max allows), so the last CTA reads one 2 KB sum and 4 denominators instead of
// `group` partials, and zeroes them for the next launch.
__device__ __forceinline__ void sum_merge(float (*s_state)[STATE], float base, float* sums, int* counter,
                                          int members, float* out, int& s_last) {
  const int tid = threadIdx.x;
  if (tid < STATE / 4) {
    float4 sum = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
    for (int w = 0; w < WARPS; ++w) {
      const float4 x = reinterpret_cast<const float4*>(s_state[w])[tid];
      sum.x += x.x, sum.y += x.y, sum.z += x.z, sum.w += x.w;
    }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("red.relaxed.gpu.global.add.v4.f32 [%0], {%1,%2,%3,%4};\n" ::"l"(sums + 4 * tid), "f"(sum.x),
                 "f"(sum.y), "f"(sum.z), "f"(sum.w)
                 : "memory");
#else
    atomicAdd(sums + 4 * tid, sum.x), atomicAdd(sums + 4 * tid + 1, sum.y);
    atomicAdd(sums + 4 * tid + 2, sum.z), atomicAdd(sums + 4 * tid + 3, sum.w);
#endif
    if (tid < 4) atomicAdd(sums + STATE + tid, base + float(tid));
  }
  __syncthreads();
  if (tid == 0) s_last = cuda::dev::ticket_last_acq_rel(counter, members);
  __syncthreads();
  if (!s_last || tid >= STATE / 4) return;
  const float den = cuda::dev::ld_cg_issue(sums + STATE + tid / 32);
  const float4 x = cuda::dev::ld_cg_issue(reinterpret_cast<const float4*>(sums) + tid);
  reinterpret_cast<float4*>(sums)[tid] = make_float4(0.f, 0.f, 0.f, 0.f);
  if (tid < 4) sums[STATE + tid] = 0.f;
  const float r = 1.0f / den;
  reinterpret_cast<float4*>(out)[tid] = make_float4(x.x * r, x.y * r, x.z * r, x.w * r);
}

__global__ void __launch_bounds__(THREADS, 6) read_merge_kernel(const uint4* a, const uint4* b, std::size_t n_each,
                                                             float* partials, int* counters, float* out, int group,
                                                             int tail) {
  __shared__ float s_state[WARPS][STATE];
  __shared__ int s_last;
  cuda::dev::launch_dependents();
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  // read_ceiling.cu's stream, written again on purpose: sharing one inlined function moved this kernel's
  // register allocation (8 -> 20 B of spills at the 40-register cap) and its tails 1-2 by +0.3 us (call 6).
  const std::size_t stride = std::size_t(gridDim.x) * THREADS;
  const std::size_t n = 2 * n_each;
  auto at = [&](std::size_t i) { return i < n_each ? __ldcs(a + i) : __ldcs(b + (i - n_each)); };
  unsigned acc = 0;
  std::size_t i = std::size_t(blockIdx.x) * THREADS + tid;
  for (; i + (IN_FLIGHT - 1) * stride < n; i += IN_FLIGHT * stride) {
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
  cuda::dev::grid_dependency_wait();  // the previous launch's merge has read the partials this one overwrites
  if (tail == 0) {
    if (acc == 0x9e3779b9u) out[blockIdx.x % 4096] = float(acc);
    return;
  }
  // Combine: every warp's state (16 floats a lane, as a 4-row x 128-dim accumulator) summed over warps.
  const float base = float(acc & 0xffu) * (1.0f / 256.0f);
#pragma unroll
  for (int e = 0; e < STATE / 32; ++e) s_state[warp][e * 32 + lane] = base + float(e);
  __syncthreads();
  const int split = blockIdx.x % group, g = blockIdx.x / group;
  if (tail == 4) {
    cluster_merge(s_state, acc, base, out + std::size_t(g) * STATE);
    return;
  }
  if (tail == 5) {
    sum_merge(s_state, base, partials + std::size_t(g) * MAX_GROUP * (STATE + 4), counters + g,
              min(group, int(gridDim.x) - g * group), out + std::size_t(g) * STATE, s_last);
    return;
  }
  float* my = partials + (std::size_t(g) * MAX_GROUP + split) * (STATE + 4);
  if (tid < STATE / 4) {
    float4 sum = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
    for (int w = 0; w < WARPS; ++w) {
      const float4 x = reinterpret_cast<const float4*>(s_state[w])[tid];
      sum.x += x.x, sum.y += x.y, sum.z += x.z, sum.w += x.w;
    }
    reinterpret_cast<float4*>(my)[tid] = sum;
    if (tid < 4) my[STATE + tid] = base - float(tid);  // the rows' log-sum-exps
  }
  if (tail == 1) return;
  // The grid's last CTAs may form a short group.
  const int members = min(group, int(gridDim.x) - g * group);
  __syncthreads();
  if (tid == 0) s_last = cuda::dev::ticket_last_acq_rel(counters + g, members);
  __syncthreads();
  if (tail == 2 || !s_last || tid >= STATE / 4) return;
  // Merge: thread t owns floats 2t, 2t + 1 of the 512 (row t / 64); the log-sum-exps (64 threads, one each)
  // and every split's partial loads go out together: one L2 trip. Float2 per thread keeps the kernel within
  // 40 registers, so 6 CTAs fit per SM as in the read ceiling.
  __shared__ float s_lse[MAX_GROUP * 4];
  const float* first = partials + std::size_t(g) * MAX_GROUP * (STATE + 4);
  if (tid < members * 4) s_lse[tid] = cuda::dev::ld_cg_issue(first + (tid / 4) * (STATE + 4) + STATE + tid % 4);
  float2 part[MAX_GROUP];
#pragma unroll
  for (int s = 0; s < MAX_GROUP; ++s)
    if (s < members) part[s] = cuda::dev::ld_cg_issue(reinterpret_cast<const float2*>(first + s * (STATE + 4)) + tid);
  __syncthreads();
  const int row = tid / 64;
  float m = -INFINITY;
  for (int s = 0; s < members; ++s) m = fmaxf(m, s_lse[s * 4 + row]);
  float wsum = 0.f;
  float2 o = make_float2(0.f, 0.f);
#pragma unroll
  for (int s = 0; s < MAX_GROUP; ++s)
    if (s < members) {
      const float w = exp2f(s_lse[s * 4 + row] - m);
      wsum += w;
      o.x += w * part[s].x, o.y += w * part[s].y;
    }
  const float r = 1.0f / wsum;
  reinterpret_cast<float2*>(out + std::size_t(g) * STATE)[tid] = make_float2(o.x * r, o.y * r);
}

}  // namespace

std::size_t read_merge_workspace_bytes(int num_sms, int ctas_per_sm, int group) {
  const int ctas = num_sms * ctas_per_sm, groups = (ctas + group - 1) / group;
  return std::size_t(groups) * (MAX_GROUP * (STATE + 4) + 1) * sizeof(float) + 256;
}

cudaError_t read_merge_launch_pdl(const void* a, const void* b, std::size_t bytes_each, void* workspace, float* out,
                                  int num_sms, int ctas_per_sm, int group, int tail, int pad_smem,
                                  cudaStream_t stream) {
  if (group < 1 || group > MAX_GROUP || (tail == 4 && group > 8)) return cudaErrorInvalidValue;
  int ctas = num_sms * ctas_per_sm;
  if (tail == 4) ctas -= ctas % group;  // whole clusters
  const int groups = (ctas + group - 1) / group;
  float* partials = static_cast<float*>(workspace);
  int* counters = reinterpret_cast<int*>(partials + std::size_t(groups) * MAX_GROUP * (STATE + 4));
  if (pad_smem > 0) {  // static + dynamic above 48 KB needs the opt-in
    const cudaError_t e =
        cudaFuncSetAttribute(read_merge_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, pad_smem);
    if (e != cudaSuccess) return e;
  }
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(unsigned(ctas));
  cfg.blockDim = dim3(THREADS);
  cfg.dynamicSmemBytes = std::size_t(pad_smem);
  cfg.stream = stream;
  cudaLaunchAttribute attr[2];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  attr[1].id = cudaLaunchAttributeClusterDimension;
  attr[1].val.clusterDim.x = unsigned(tail == 4 ? group : 1);
  attr[1].val.clusterDim.y = attr[1].val.clusterDim.z = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 2;
  return cudaLaunchKernelEx(&cfg, read_merge_kernel, static_cast<const uint4*>(a), static_cast<const uint4*>(b),
                            bytes_each / 16, partials, counters, out, group, tail);
}

}  // namespace pagoda::bench
