// Hopper (sm_90a) device helpers for the warp-specialized attention kernels: wgmma (warpgroup MMA
// from shared-memory descriptors, A optionally from registers), mbarriers, proxy fences, named
// barriers and setmaxnreg. Thin inline wrappers over single PTX instructions; sm_90a only (callers
// guard their bodies with __CUDA_ARCH_FEAT_SM90_ALL). The wgmma wrappers are templates over the
// dtype (pasted as a compile-time string operand, which needs a recent nvcc: 13.0 here) and N.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace pagoda::cuda::sm90 {

// Shared-memory matrix descriptor for a 128-byte-swizzled operand (atoms of 8 rows x 128 bytes,
// 1024-byte aligned). K-major: sbo = bytes between 8-row groups, lbo unused. MN-major: lbo = bytes
// between 64-element column blocks, sbo = bytes between 8-row (K) groups.
__device__ __forceinline__ uint64_t desc_sw128(uint32_t smem_addr, uint32_t lbo_bytes, uint32_t sbo_bytes) {
  return uint64_t((smem_addr & 0x3FFFF) >> 4) | (uint64_t((lbo_bytes >> 4) & 0x3FFF) << 16) |
         (uint64_t((sbo_bytes >> 4) & 0x3FFF) << 32) | (uint64_t(1) << 62);
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Keeps the compiler from moving reads or writes of an accumulator register across a wgmma
// issue / wait (the register is in flight in between).
__device__ __forceinline__ void reg_fence(float& r) { asm volatile("" : "+f"(r)::"memory"); }
__device__ __forceinline__ void reg_fence(uint32_t& r) { asm volatile("" : "+r"(r)::"memory"); }

__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Waits until the phase with this parity has completed (parity 1 on a fresh barrier: at once).
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (done == 0);
}
// Generic-proxy shared-memory writes (st.shared, cp.async) made before this are ordered before
// later async-proxy reads (wgmma operands); each writing thread runs it before it signals.
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
__device__ __forceinline__ void named_bar_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
// Arrives on a named barrier without waiting (the other side bar.syncs on it).
__device__ __forceinline__ void named_bar_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
template <int N>
__device__ __forceinline__ void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
}
template <int N>
__device__ __forceinline__ void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
}

// PTX name of the 16-bit input type, pasted into the instruction through the "C" (compile-time
// string) asm constraint, so one template serves bf16 and fp16.
template <typename T>
struct WgmmaType;
template <>
struct WgmmaType<__nv_bfloat16> {
  static constexpr char name[] = "bf16";
};
template <>
struct WgmmaType<__half> {
  static constexpr char name[] = "f16";
};

// The accumulator operands of one wgmma (this thread's 32 or 64 fp32 registers, in order) and their
// names in the instruction text: one list for every statement below, since inline asm cannot expand
// a parameter pack into its operand list (nvcc rejects it).
#define PAGODA_WGMMA_ACC8(d, i)                                                                                \
  "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), \
      "+f"(d[i + 7])
#define PAGODA_WGMMA_ACC32(d) \
  PAGODA_WGMMA_ACC8(d, 0), PAGODA_WGMMA_ACC8(d, 8), PAGODA_WGMMA_ACC8(d, 16), PAGODA_WGMMA_ACC8(d, 24)
#define PAGODA_WGMMA_ACC64(d) \
  PAGODA_WGMMA_ACC32(d), PAGODA_WGMMA_ACC8(d, 32), PAGODA_WGMMA_ACC8(d, 40), PAGODA_WGMMA_ACC8(d, 48), \
      PAGODA_WGMMA_ACC8(d, 56)
#define PAGODA_WGMMA_REGS32                                                     \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define PAGODA_WGMMA_REGS64                                                           \
  PAGODA_WGMMA_REGS32 ", %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
                      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"

// d[N/2] (m64 x N fp32 accumulators of this thread) += A (m64 x k16, smem, K-major) * B (N x k16,
// smem, K-major); scale_d = 0 overwrites d. N = 128 (the Q K^T key tile).
template <typename T, int N>
__device__ __forceinline__ void wgmma_ss(float* d, uint64_t da, uint64_t db, int scale_d) {
  static_assert(N == 128, "instantiate the shapes the kernels use");
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.%67.%67 {"
      PAGODA_WGMMA_REGS64
      "}, %64, %65, p, 1, 1, 0, 0;\n}\n"
      : PAGODA_WGMMA_ACC64(d)
      : "l"(da), "l"(db), "r"(scale_d), "C"(WgmmaType<T>::name));
}

// d[N/2] += A (m64 x k16 in registers, 4 x 2 16-bit values) * B (k16 x N, smem, MN-major).
// N = D (the P V head dim, 64 or 128).
template <typename T, int N>
__device__ __forceinline__ void wgmma_rs(float* d, const uint32_t* a, uint64_t db, int scale_d) {
  static_assert(N == 64 || N == 128, "instantiate the shapes the kernels use");
  if constexpr (N == 128) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.%70.%70 {"
        PAGODA_WGMMA_REGS64
        "}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
        : PAGODA_WGMMA_ACC64(d)
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(scale_d), "C"(WgmmaType<T>::name));
  } else {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.%38.%38 {"
        PAGODA_WGMMA_REGS32
        "}, {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
        : PAGODA_WGMMA_ACC32(d)
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(scale_d), "C"(WgmmaType<T>::name));
  }
}

}  // namespace pagoda::cuda::sm90
