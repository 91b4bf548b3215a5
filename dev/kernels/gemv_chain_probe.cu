// Probe for the batch-1 decode GEMV chain (src/backend/cuda/gemm/gemv.cu's design): 32 layers of the
// Llama-3-8B shape (qkv 6144x4096, o 4096x4096, gate|up 28672x4096, down 4096x14336, bf16, distinct
// weights per layer, 14 GB) with a small kernel at each place the model has one (norm, rope, attention,
// norm, silu), captured as one CUDA graph with programmatic dependent launch, as the model replays it.
// Question: is the ~7 us lost per GEMV a kernel-boundary cost that an L2 prefetch of the next matrix,
// issued at the tail of each GEMV, removes? Variants: prefetch 0..32 MB, 8- or 32-warp CTAs, PDL off.
// Measured (H200, 2026-11-21; read-only stream 4469-4476 GB/s, D2D copy 4212-4224): isolated GEMVs
// back to back qkv 74.6% / o 64.7% / gate|up 91.1% / down 83.5% of the read stream; the chain 79.6%,
// without the small kernels 84.0% (they cost ~1.3 us each); PDL off 78.8%. Tail L2 prefetch of the
// next matrix LOST (4/8/16/24/32 MB: 78.5 .. 69.8%); trigger before the main loop 87.1% without small
// kernels (but slower in the whole model at context 4096); capping CTAs per SM with shared memory
// 65.9-78%; 32-warp CTAs 75.1%; persistent row-sweep GEMV 52-81%. Plain read kernels of the same
// sizes without a dependency wait ran at 103%: the loss is the dependency boundary, not the access
// pattern. Build (here): nvcc -std=c++17 -O3 -Isrc -gencode=arch=compute_90a,code=sm_90a dev/kernels/gemv_chain_probe.cu -o X
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "backend/cuda/pdl_launch.cuh"

#define CK(x)                                                                         \
  do {                                                                                \
    cudaError_t e_ = (x);                                                             \
    if (e_ != cudaSuccess) {                                                          \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      std::exit(1);                                                                   \
    }                                                                                 \
  } while (0)

__device__ __forceinline__ void dep_wait() { pagoda::cuda::dev::grid_dependency_wait(); }
__device__ __forceinline__ void dep_trigger() { pagoda::cuda::dev::launch_dependents(); }

__device__ __forceinline__ uint4 load_stream(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

constexpr int kUnroll = 8;

__device__ __forceinline__ void prefetch_l2(const void* base, size_t bytes) {
  // This CTA's share of [base, base + bytes), one 128-byte line per thread per step.
  if (bytes == 0) return;
  const size_t per = ((bytes + gridDim.x - 1) / gridDim.x + 127) / 128 * 128;
  const size_t b0 = size_t(blockIdx.x) * per;
  for (size_t off = b0 + size_t(threadIdx.x) * 128; off < b0 + per && off < bytes; off += size_t(blockDim.x) * 128)
    asm volatile("prefetch.global.L2::evict_last [%0];" ::"l"(static_cast<const char*>(base) + off));
}

template <int WARPS, int KSPLIT, bool TRIG_TOP>
__global__ void __launch_bounds__(WARPS * 32) gemv(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ w,
                                                   __nv_bfloat16* __restrict__ y, int64_t N, int64_t K, const void* pf,
                                                   size_t pf_bytes) {
  constexpr int kCols = WARPS / KSPLIT;
  __shared__ float part[WARPS];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t n = int64_t(blockIdx.x) * kCols + warp / KSPLIT;
  const bool active = n < N;
  const int64_t KV = K / 8, per = (KV + KSPLIT - 1) / KSPLIT;
  const int64_t v0 = (warp % KSPLIT) * per;
  const int64_t v1 = active ? (v0 + per < KV ? v0 + per : KV) : v0;
  const uint4* wr = reinterpret_cast<const uint4*>(w + (active ? n : 0) * K);
  float acc = 0.f;
  uint4 wv[kUnroll];
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int64_t v = v0 + lane + 32 * u;
    wv[u] = v < v1 ? load_stream(wr + v) : make_uint4(0, 0, 0, 0);
  }
  if (TRIG_TOP) dep_trigger();
  dep_wait();
  for (int64_t c0 = v0; c0 < v1; c0 += 32 * kUnroll) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t v = c0 + lane + 32 * u;
      if (v >= v1) break;
      const __nv_bfloat162* wh = reinterpret_cast<const __nv_bfloat162*>(&wv[u]);
      const uint4 xv = __ldg(reinterpret_cast<const uint4*>(x) + v);
      const __nv_bfloat162* xh = reinterpret_cast<const __nv_bfloat162*>(&xv);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float2 a = __bfloat1622float2(wh[i]), b = __bfloat1622float2(xh[i]);
        acc = fmaf(a.x, b.x, fmaf(a.y, b.y, acc));
      }
    }
    if (c0 + 32 * kUnroll < v1) {
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t v = c0 + 32 * kUnroll + lane + 32 * u;
        wv[u] = v < v1 ? load_stream(wr + v) : make_uint4(0, 0, 0, 0);
      }
    }
  }
  if (!TRIG_TOP) dep_trigger();
  prefetch_l2(pf, pf_bytes);
  for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
  if (lane == 0) part[warp] = acc;
  __syncthreads();
  if (warp % KSPLIT == 0 && active && lane == 0) {
    float s = 0.f;
    for (int j = 0; j < KSPLIT; ++j) s += part[warp + j];
    y[n] = __float2bfloat16(s);
  }
}

// Stand-in for the model's small kernels at batch 1 (norm, rope, attention at context 128, silu):
// one wave of a few CTAs that reads and writes a few KB after waiting for its producer.
__global__ void small_kernel(const float* in, float* out, int n) {
  dep_wait();
  float s = 0.f;
  for (int i = threadIdx.x + blockIdx.x * blockDim.x; i < n; i += blockDim.x * gridDim.x) s += in[i];
  dep_trigger();
  if (threadIdx.x + blockIdx.x * blockDim.x < n) out[threadIdx.x + blockIdx.x * blockDim.x] = s;
}

__global__ void fill(uint32_t* p, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    uint32_t h = uint32_t(i) * 2654435761u;
    h ^= h >> 15;
    p[i] = (h & 0x3f7f3f7fu);  // two small bf16 values
  }
}

__global__ void read_all(const uint4* p, size_t n, float* out) {
  float s = 0.f;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    const uint4 v = load_stream(p + i);
    s += __uint_as_float(v.x ^ v.y ^ v.z ^ v.w);
  }
  if (s == 1.2345f) out[0] = s;
}


// Persistent row sweep: G = gridDim.x * 8 warps; warp g takes rows g, g + G, g + 2G, ... so that at
// any moment the warps read one contiguous band of W (a sliding window, as a streaming copy does),
// each row in chunks of 32 lanes x U x 16 B, the next chunk's loads issued before the current is used.
template <int U, bool TRIG_TOP>
__global__ void __launch_bounds__(256) gemv_rows(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ w,
                                                 __nv_bfloat16* __restrict__ y, int64_t N, int64_t K) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t G = int64_t(gridDim.x) * 8, g = int64_t(blockIdx.x) * 8 + warp;
  const int64_t KV = K / 8, CH = (KV + 32 * U - 1) / (32 * U);  // chunks per row
  const int64_t rows = g < N ? (N - 1 - g) / G + 1 : 0;
  const int64_t total = rows * CH;
  auto load = [&](uint4 (&b)[U], int64_t j) {
    const int64_t n = g + (j / CH) * G, c = (j % CH) * 32 * U;
    const uint4* wr = reinterpret_cast<const uint4*>(w + n * K);
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t v = c + lane + 32 * u;
      b[u] = v < KV ? load_stream(wr + v) : make_uint4(0, 0, 0, 0);
    }
  };
  uint4 wa[U], wb[U];
  if (total > 0) load(wa, 0);
  if (TRIG_TOP) dep_trigger();
  dep_wait();
  float acc = 0.f;
  for (int64_t j = 0; j < total; ++j) {
    if (j + 1 < total) load(wb, j + 1);
    const int64_t c = (j % CH) * 32 * U;
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t v = c + lane + 32 * u;
      if (v >= KV) break;
      const __nv_bfloat162* wh = reinterpret_cast<const __nv_bfloat162*>(&wa[u]);
      const uint4 xv = __ldg(reinterpret_cast<const uint4*>(x) + v);
      const __nv_bfloat162* xh = reinterpret_cast<const __nv_bfloat162*>(&xv);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float2 a = __bfloat1622float2(wh[i]), b = __bfloat1622float2(xh[i]);
        acc = fmaf(a.x, b.x, fmaf(a.y, b.y, acc));
      }
    }
    if (j % CH == CH - 1) {
      for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
      if (lane == 0) y[g + (j / CH) * G] = __float2bfloat16(acc);
      acc = 0.f;
    }
#pragma unroll
    for (int u = 0; u < U; ++u) wa[u] = wb[u];
  }
  if (!TRIG_TOP) dep_trigger();
}

// Read-only stream of n vectors in one of two shapes: grid-stride (a sliding window) or bulk (every
// warp takes 32 x 8 consecutive vectors, all loads in flight at once, as the one-wave GEMV does).
template <bool BULK>
__global__ void read_shape(const uint4* p, size_t n, float* out) {
  dep_trigger();
  float s = 0.f;
  if (BULK) {
    const size_t w0 = (blockIdx.x * size_t(blockDim.x) + threadIdx.x) / 32 * 256 + threadIdx.x % 32;
    uint4 v[8];
#pragma unroll
    for (int u = 0; u < 8; ++u) v[u] = w0 + 32 * u < n ? load_stream(p + w0 + 32 * u) : make_uint4(0, 0, 0, 0);
#pragma unroll
    for (int u = 0; u < 8; ++u) s += __uint_as_float(v[u].x ^ v[u].y ^ v[u].z ^ v[u].w);
  } else {
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
      const uint4 v = load_stream(p + i);
      s += __uint_as_float(v.x ^ v.y ^ v.z ^ v.w);
    }
  }
  if (s == 1.2345f) out[0] = s;
}

// The project's launcher (backend/cuda/pdl_launch.cuh), with this variant's PDL switch and smem cap.
struct Launch {
  bool pdl;
  cudaStream_t st;
  size_t smem = 0;
  template <typename... P, typename... A>
  void operator()(void (*k)(P...), dim3 g, dim3 b, A... a) {
    if (smem > 48 * 1024) CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
    CK(pagoda::cuda::launch_maybe_pdl(pdl, k, g, b, smem, st, a...));
  }
};

struct Mat {
  int64_t N, K;
  int ks;
};

template <int WARPS, bool TT>
void launch_gemv_t(Launch& L, const Mat& m, const __nv_bfloat16* x, const __nv_bfloat16* w, __nv_bfloat16* y,
                   const void* pf, size_t pfb) {
  const dim3 g(unsigned((m.N * m.ks + WARPS - 1) / WARPS)), b(WARPS * 32);
  switch (m.ks) {
    case 1: L(gemv<WARPS, 1, TT>, g, b, x, w, y, m.N, m.K, pf, pfb); break;
    case 2: L(gemv<WARPS, 2, TT>, g, b, x, w, y, m.N, m.K, pf, pfb); break;
    case 4: L(gemv<WARPS, 4, TT>, g, b, x, w, y, m.N, m.K, pf, pfb); break;
    default: L(gemv<WARPS, 8, TT>, g, b, x, w, y, m.N, m.K, pf, pfb); break;
  }
}
template <int WARPS>
void launch_gemv(Launch& L, const Mat& m, const __nv_bfloat16* x, const __nv_bfloat16* w, __nv_bfloat16* y,
                 const void* pf, size_t pfb, bool trig_top = false) {
  if (trig_top) launch_gemv_t<WARPS, true>(L, m, x, w, y, pf, pfb);
  else launch_gemv_t<WARPS, false>(L, m, x, w, y, pf, pfb);
}

int main(int argc, char** argv) {
  const int layers = 32;
  const Mat mats[4] = {{6144, 4096, 2}, {4096, 4096, 2}, {28672, 4096, 1}, {4096, 14336, 4}};
  size_t layer_elems = 0;
  for (const Mat& m : mats) layer_elems += size_t(m.N * m.K);
  const size_t total = layer_elems * layers;
  __nv_bfloat16* W;
  CK(cudaMalloc(&W, total * 2));
  fill<<<1024, 256>>>(reinterpret_cast<uint32_t*>(W), total / 2);
  __nv_bfloat16 *x, *y;
  float *sf_in, *sf_out;
  CK(cudaMalloc(&x, 28672 * 2));
  CK(cudaMalloc(&y, 28672 * 2));
  CK(cudaMemset(x, 0, 28672 * 2));
  CK(cudaMalloc(&sf_in, 1 << 16));
  CK(cudaMalloc(&sf_out, 1 << 16));
  CK(cudaMemset(sf_in, 0, 1 << 16));
  auto w_of = [&](int l, int i) {
    size_t off = layer_elems * size_t(l % layers);
    for (int j = 0; j < i; ++j) off += size_t(mats[j].N * mats[j].K);
    return W + off;
  };
  cudaStream_t st;
  CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  const double weight_bytes = double(total) * 2;
  double read_gbs = 0;

  // Read-only ceiling: one kernel streaming all 14 GB; and the D2D copy the model bench divides by.
  {
    int sms;
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    float ms;
    for (int r = 0; r < 3; ++r) {
      CK(cudaEventRecord(e0, st));
      read_all<<<sms * 8, 256, 0, st>>>(reinterpret_cast<const uint4*>(W), total / 8, sf_out);
      CK(cudaEventRecord(e1, st));
      CK(cudaEventSynchronize(e1));
    }
    CK(cudaEventElapsedTime(&ms, e0, e1));
    read_gbs = weight_bytes / (ms / 1e3) / 1e9;
    std::printf("read-only stream of %.2f GB: %.0f GB/s\n", weight_bytes / 1e9, read_gbs);
    const size_t cb = size_t(1) << 30;
    for (int r = 0; r < 3; ++r) {
      CK(cudaEventRecord(e0, st));
      CK(cudaMemcpyAsync(W + cb, W, cb, cudaMemcpyDeviceToDevice, st));
      CK(cudaEventRecord(e1, st));
      CK(cudaEventSynchronize(e1));
    }
    CK(cudaEventElapsedTime(&ms, e0, e1));
    std::printf("D2D copy 1 GiB: %.0f GB/s (read+write)\n", 2.0 * cb / (ms / 1e3) / 1e9);
    fill<<<1024, 256>>>(reinterpret_cast<uint32_t*>(W), total / 2);
  }

  struct Variant {
    const char* name;
    int warps;
    bool pdl, small;
    size_t pf;
    int only;  // -1: the whole chain; else only this matrix, 32 times (one per layer); -2: read_all chain
    bool trig_top = false;
    size_t smem = 0;  // dynamic shared memory per CTA, to cap CTAs per SM
  };
  std::vector<Variant> vs;
  const char* names[4] = {"qkv", "o", "gate|up", "down"};
  for (int i = 0; i < 4; ++i) vs.push_back({names[i], 8, true, false, 0, i});
  vs.push_back({"read_all chain (4 kernels/layer)", 8, true, false, 0, -2});
  vs.push_back({"chain", 8, true, true, 0, -1});
  vs.push_back({"chain no-small", 8, true, false, 0, -1});
  vs.push_back({"chain no-small trig-top", 8, true, false, 0, -1, true});
  // rows variants: warps field = CTAs per SM, pf field = unroll U, trig_top as named
  for (int cps : {1, 2, 4, 8})
    for (int u : {4, 8}) {
      vs.push_back({"rows no-small trig-top cps", cps, true, false, size_t(u), -3, true});
    }
  vs.push_back({"rows no-small trig-late cps", 2, true, false, 8, -3, false});
  vs.push_back({"rows chain trig-top cps", 2, true, true, 8, -3, true});
  vs.push_back({"rows chain trig-top cps", 4, true, true, 8, -3, true});
  for (int i = 0; i < 4; ++i) vs.push_back({names[i], 2, true, false, 8, -10 - i, true});  // rows, isolated
  vs.push_back({"read o-size grid-stride 132x8", 8, true, false, 0, -4});
  vs.push_back({"read o-size grid-stride 132x2", 2, true, false, 0, -4});
  vs.push_back({"read o-size bulk (one wave)", 0, true, false, 0, -5});
  vs.push_back({"chain pdl-off", 8, false, true, 0, -1});

  std::printf("\n| variant | prefetch MB | us per layer | GB/s of weights | vs read-only stream |\n| --- | ---: | ---: | ---: | ---: |\n");
  for (const Variant& v : vs) {
    Launch L{v.pdl, st, 0};
    CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
    for (int l = 0; l < layers; ++l) {
      if (v.only >= 0) {
        launch_gemv<8>(L, mats[v.only], x, w_of(l, v.only), y, nullptr, 0);
        continue;
      }
      if (v.only <= -10) {  // rows kernel, one matrix
        const Mat& m = mats[-10 - v.only];
        L(gemv_rows<8, true>, dim3(132 * v.warps), dim3(256), (const __nv_bfloat16*)x, (const __nv_bfloat16*)w_of(l, -10 - v.only), y, m.N, m.K);
        continue;
      }
      if (v.only == -4 || v.only == -5) {
        for (int i = 0; i < 4; ++i) {
          const size_t n = size_t(mats[1].N * mats[1].K / 8);
          const uint4* p = reinterpret_cast<const uint4*>(w_of(l, i));
          if (v.only == -4) L(read_shape<false>, dim3(132 * v.warps), dim3(256), p, n, sf_out);
          else L(read_shape<true>, dim3(unsigned(n / 256 / 8)), dim3(256), p, n, sf_out);
        }
        continue;
      }
      if (v.only == -3) {
        auto small = [&] {
          if (v.small) L(small_kernel, dim3(4), dim3(256), (const float*)sf_in, sf_out, 4096);
        };
        for (int i = 0; i < 4; ++i) {
          small();
          if (i == 1) small();
          const Mat& m = mats[i];
          const dim3 g(132 * v.warps), b(256);
          const auto* wp = (const __nv_bfloat16*)w_of(l, i);
          if (v.pf == 4) {
            if (v.trig_top) L(gemv_rows<4, true>, g, b, (const __nv_bfloat16*)x, wp, y, m.N, m.K);
            else L(gemv_rows<4, false>, g, b, (const __nv_bfloat16*)x, wp, y, m.N, m.K);
          } else {
            if (v.trig_top) L(gemv_rows<8, true>, g, b, (const __nv_bfloat16*)x, wp, y, m.N, m.K);
            else L(gemv_rows<8, false>, g, b, (const __nv_bfloat16*)x, wp, y, m.N, m.K);
          }
        }
        continue;
      }
      if (v.only == -2) {
        for (int i = 0; i < 4; ++i)
          L(read_all, dim3(132 * 8), dim3(256), reinterpret_cast<const uint4*>(w_of(l, i)), size_t(mats[i].N * mats[i].K / 8), sf_out);
        continue;
      }
      auto small = [&] {
        if (v.small) L(small_kernel, dim3(4), dim3(256), (const float*)sf_in, sf_out, 4096);
      };
      for (int i = 0; i < 4; ++i) {
        small();
        if (i == 1) small();  // rope and attention before o
        const void* nxt = i < 3 ? (const void*)w_of(l, i + 1) : (const void*)w_of(l + 1, 0);
        L.smem = v.smem;
        if (v.warps == 32) launch_gemv<32>(L, mats[i], x, w_of(l, i), y, nxt, v.pf, v.trig_top);
        else launch_gemv<8>(L, mats[i], x, w_of(l, i), y, nxt, v.pf, v.trig_top);
        L.smem = 0;
      }
    }
    cudaGraph_t g;
    cudaGraphExec_t ge;
    CK(cudaStreamEndCapture(st, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    for (int r = 0; r < 3; ++r) CK(cudaGraphLaunch(ge, st));
    const int reps = 10;
    CK(cudaEventRecord(e0, st));
    for (int r = 0; r < reps; ++r) CK(cudaGraphLaunch(ge, st));
    CK(cudaEventRecord(e1, st));
    CK(cudaEventSynchronize(e1));
    float ms;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    const double us_layer = ms * 1e3 / reps / layers;
    double bytes = double(layer_elems) * 2;
    if (v.only >= 0) bytes = double(mats[v.only].N * mats[v.only].K) * 2;
    if (v.only <= -10) bytes = double(mats[-10 - v.only].N * mats[-10 - v.only].K) * 2;
    if (v.only == -4 || v.only == -5) bytes = 4.0 * double(mats[1].N * mats[1].K) * 2;
    const double gbs = bytes / (us_layer * 1e-6) / 1e9;
    std::printf("| %s %d %zu | %zu | %.1f | %.0f | %.1f%% |\n", v.name, v.warps, v.smem >> 10, v.only == -3 || v.only <= -10 ? v.pf : v.pf >> 20, us_layer, gbs, 100 * gbs / read_gbs);
    CK(cudaGraphExecDestroy(ge));
    CK(cudaGraphDestroy(g));
  }
  (void)argc;
  (void)argv;
  return 0;
}
