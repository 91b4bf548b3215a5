// Row-wise and element-wise kernels of the llama block on CUDA. Precision mirrors the CPU oracle
// where it is cheap: RMSNorm sums squares in f64, RoPE angles and rotations go through f64 sincos,
// so the fp32 model tracks the CPU backend to rounding (the even-head-dim RoPE path rotates in f32
// with f64 angle reduction: a few ulps). Memory-bound; one pass each, 16-byte
// vectors where the shapes and pointers allow (batch-1 decode runs them latency-bound: few, wide
// loads per thread and enough blocks to spread over the SMs matter more than bandwidth there).
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "backend/cuda/ops/cuda_check.hpp"
#include "backend/cuda/ops/ops.hpp"
#include "backend/cuda/ops/pdl_launch.cuh"
#include "backend/cuda/ops/type_utils.cuh"

namespace pagoda::cuda {

namespace {

constexpr int kNormThreads = 256;

__device__ __forceinline__ double block_sum(double v, double* red) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) red[warp] = v;
  __syncthreads();
  double s = 0;
  if (threadIdx.x < 32) {
    s = threadIdx.x < blockDim.x / 32 ? red[threadIdx.x] : 0.0;
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (threadIdx.x == 0) red[0] = s;
  }
  __syncthreads();
  return red[0];
}

template <typename T>
__global__ void embedding_kernel(const T* table, const int32_t* tokens, int64_t hidden, float* x) {
  dev::launch_dependents();     // PDL: let the next kernel start loading its weights now
  dev::grid_dependency_wait();  // nothing before this reads or writes activations
  const int64_t t = blockIdx.x;
  const T* row = table + static_cast<int64_t>(tokens[t]) * hidden;
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) x[t * hidden + i] = to_f32(row[i]);
}

// GATHER: row r reads x[rows[r]] and does not write x back.
template <typename T, bool GATHER>
__global__ void add_rmsnorm_kernel(float* x, const T* delta, const int32_t* rows, const float* w, int64_t hidden,
                                   float eps, T* out) {
  dev::launch_dependents();     // PDL: let the next kernel start loading its weights now
  dev::grid_dependency_wait();  // nothing before this reads or writes activations
  __shared__ double red[32];
  const int64_t r = blockIdx.x;
  const int64_t src = GATHER ? rows[r] : r;
  float* xr = x + src * hidden;
  const T* dr = delta ? delta + src * hidden : nullptr;
  double ss = 0;
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) {
    float v = xr[i];
    if (dr) v += to_f32(dr[i]);
    if (!GATHER && dr) xr[i] = v;
    ss += double(v) * v;
  }
  ss = block_sum(ss, red);
  const float scale = static_cast<float>(1.0 / sqrt(ss / double(hidden) + double(eps)));
  T* o = out + r * hidden;
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) {
    float v = xr[i];
    if (GATHER && dr) v += to_f32(dr[i]);
    o[i] = from_f32<T>((v * scale) * w[i]);
  }
}

// Same contract as add_rmsnorm_kernel for hidden % 4 == 0 (16-byte aligned rows): float4 loads of
// the residual, 4-element loads of delta / w, the row kept in registers between the two passes
// (VPT float4 per thread covers hidden <= VPT * 4 * blockDim.x).
template <typename T>
__device__ __forceinline__ float4 load4(const T* p) {
  if constexpr (std::is_same_v<T, float>) {
    return *reinterpret_cast<const float4*>(p);
  } else {
    const uint2 raw = *reinterpret_cast<const uint2*>(p);
    const T* e = reinterpret_cast<const T*>(&raw);
    return make_float4(to_f32(e[0]), to_f32(e[1]), to_f32(e[2]), to_f32(e[3]));
  }
}

template <typename T>
__device__ __forceinline__ void store4(T* p, float4 v) {
  if constexpr (std::is_same_v<T, float>) {
    *reinterpret_cast<float4*>(p) = v;
  } else {
    uint2 raw;
    T* e = reinterpret_cast<T*>(&raw);
    e[0] = from_f32<T>(v.x), e[1] = from_f32<T>(v.y), e[2] = from_f32<T>(v.z), e[3] = from_f32<T>(v.w);
    *reinterpret_cast<uint2*>(p) = raw;
  }
}

constexpr int kNormVpt = 4;

template <typename T, bool GATHER>
__global__ void add_rmsnorm_vec_kernel(float* x, const T* delta, const int32_t* rows, const float* w, int64_t hidden,
                                       float eps, T* out) {
  dev::launch_dependents();  // PDL: let the next kernel start loading its weights now
  // The norm weight does not come from the previous kernel: its loads go out before the wait.
  float4 g[kNormVpt];
#pragma unroll
  for (int j = 0; j < kNormVpt; ++j) {
    const int64_t i = (int64_t(j) * blockDim.x + threadIdx.x) * 4;
    if (i < hidden) g[j] = *reinterpret_cast<const float4*>(w + i);
  }
  dev::grid_dependency_wait();  // nothing before this reads or writes activations
  __shared__ double red[32];
  const int64_t r = blockIdx.x;
  const int64_t src = GATHER ? rows[r] : r;
  float* xr = x + src * hidden;
  const T* dr = delta ? delta + src * hidden : nullptr;
  float4 v[kNormVpt];
  double ss = 0;
#pragma unroll
  for (int j = 0; j < kNormVpt; ++j) {
    const int64_t i = (int64_t(j) * blockDim.x + threadIdx.x) * 4;
    if (i < hidden) {
      float4 a = *reinterpret_cast<const float4*>(xr + i);
      if (dr) {
        const float4 d = load4(dr + i);
        a.x += d.x, a.y += d.y, a.z += d.z, a.w += d.w;
        if (!GATHER) *reinterpret_cast<float4*>(xr + i) = a;
      }
      v[j] = a;
      ss += double(a.x) * a.x + double(a.y) * a.y + double(a.z) * a.z + double(a.w) * a.w;
    }
  }
  ss = block_sum(ss, red);
  const float scale = static_cast<float>(1.0 / sqrt(ss / double(hidden) + double(eps)));
  T* o = out + r * hidden;
#pragma unroll
  for (int j = 0; j < kNormVpt; ++j) {
    const int64_t i = (int64_t(j) * blockDim.x + threadIdx.x) * 4;
    if (i < hidden)
      store4(o + i, make_float4((v[j].x * scale) * g[j].x, (v[j].y * scale) * g[j].y, (v[j].z * scale) * g[j].z,
                                (v[j].w * scale) * g[j].w));
  }
}

// Threads for the vectorised norm, or 0 when it cannot run this row width / these pointers.
int norm_vec_threads(int64_t hidden, const void* x, const void* delta, const void* w, const void* out, DType act) {
  const uintptr_t act4 = 4 * dtype_info(act).block_bytes;  // alignment of 4 act elements
  const auto al = [](const void* p, uintptr_t a) { return reinterpret_cast<uintptr_t>(p) % a == 0; };
  if (hidden % 4 != 0 || !al(x, 16) || !al(w, 16) || !al(out, act4) || (delta && !al(delta, act4))) return 0;
  const int64_t vecs = hidden / 4;
  int threads = static_cast<int>(std::min<int64_t>(1024, (vecs + kNormVpt - 1) / kNormVpt));
  threads = std::max(32, (threads + 31) / 32 * 32);
  return int64_t(threads) * kNormVpt >= vecs ? threads : 0;
}

template <typename A, typename C>
__global__ void qkv_rope_append_kernel(QkvRopeAppendArgs a) {
  dev::launch_dependents();     // PDL: let the next kernel start loading its weights now
  dev::grid_dependency_wait();  // nothing before this reads or writes activations
  extern __shared__ double cs[];  // [half, 2] cos, sin for this token
  const int64_t t = blockIdx.x;
  const int32_t half = a.rope_dim / 2;
  const int32_t pos = a.positions[t];
  for (int32_t i = threadIdx.x; i < half; i += blockDim.x) {
    double s, c;
    sincos(double(pos) * double(a.inv_freq[i]), &s, &c);
    cs[2 * i] = c;
    cs[2 * i + 1] = s;
  }
  __syncthreads();
  const int32_t H = a.H, Hkv = a.cache.layout.num_kv_heads, D = a.cache.layout.head_dim;
  const int64_t width = int64_t(H + 2 * Hkv) * D;
  const A* row = static_cast<const A*>(a.qkv) + t * width;
  const int64_t slot = a.slot_mapping[t];
  const int64_t P = a.cache.layout.page_size;
  for (int64_t e = threadIdx.x; e < width; e += blockDim.x) {
    const int32_t head = static_cast<int32_t>(e / D), d = static_cast<int32_t>(e % D);
    const int64_t base = e - d;
    auto load = [&](int32_t dd) {
      float v = to_f32(row[base + dd]);
      if (a.bias) v += a.bias[base + dd];
      return v;
    };
    float out;
    if (head < H + Hkv && d < a.rope_dim) {
      int32_t i, i0, i1;
      if (a.interleaved) {
        i = d / 2, i0 = 2 * i, i1 = 2 * i + 1;
      } else {
        i = d < half ? d : d - half, i0 = i, i1 = i + half;
      }
      const double x0 = load(i0), x1 = load(i1), co = cs[2 * i], si = cs[2 * i + 1];
      out = static_cast<float>(d == i0 ? x0 * co - x1 * si : x0 * si + x1 * co);
    } else {
      out = load(d);
    }
    if (head < H) {
      static_cast<A*>(a.q_out)[(t * H + head) * D + d] = from_f32<A>(out);
    } else if (slot >= 0) {
      const bool is_k = head < H + Hkv;
      const int32_t kvh = is_k ? head - H : head - H - Hkv;
      C* dst = static_cast<C*>(is_k ? a.cache.k : a.cache.v);
      dst[kv_offset(a.cache.layout, slot / P, slot % P, kvh) + d] = from_f32<C>(out);
    }
  }
}

// RoPE angle of one (position, frequency) pair for the f32-rotation kernels: the angle in f64
// (pos * inv_freq loses ~pos ulps in f32), reduced to [-pi, pi] in f64, then a float sincosf: its
// fast path is ~1 ulp there, and one f64 sincos per pair per head made prefill's RoPE compute-bound.
__device__ __forceinline__ void rope_sincos(int32_t pos, float inv_freq, float* si, float* co) {
  const double ang = double(pos) * double(inv_freq);
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  sincosf(static_cast<float>(fma(-kTwoPi, rint(ang * (1.0 / kTwoPi)), ang)), si, co);
}

// The rotation of one pair (x0, x1) by that angle: (x0 cos - x1 sin, x0 sin + x1 cos).
__device__ __forceinline__ float2 rope_rotate(float x0, float x1, float co, float si) {
  return make_float2(fmaf(x0, co, -x1 * si), fmaf(x0, si, x1 * co));
}

// Same contract as qkv_rope_append_kernel for an even head dim, one block per (token, head) and one
// thread per element pair: rotated pairs (i0, i1) first, then the pass-through tail beyond rope_dim
// as (2j, 2j + 1). No integer division by D and no shared table: each thread takes its own sincos
// (f64 angle and range reduction, f32 sincosf), so a decode token spreads over H + 2 Hkv blocks
// instead of one. Agrees with the f64 reference to a few f32 ulps.
template <typename A, typename C>
__global__ void qkv_rope_append_pair_kernel(QkvRopeAppendArgs a) {
  dev::launch_dependents();     // PDL: let the next kernel start loading its weights now
  dev::grid_dependency_wait();  // nothing before this reads or writes activations
  const int64_t t = blockIdx.x;
  const int32_t head = blockIdx.y;
  const int32_t j = threadIdx.x;
  const int32_t H = a.H, Hkv = a.cache.layout.num_kv_heads, D = a.cache.layout.head_dim;
  if (j >= D / 2) return;
  const int32_t half = a.rope_dim / 2;
  const int64_t width = int64_t(H + 2 * Hkv) * D;
  const int64_t base = int64_t(head) * D;
  const A* row = static_cast<const A*>(a.qkv) + t * width;
  auto load = [&](int32_t dd) {
    float v = to_f32(row[base + dd]);
    if (a.bias) v += a.bias[base + dd];
    return v;
  };
  int32_t i0, i1;
  float o0, o1;
  if (head < H + Hkv && j < half) {
    if (a.interleaved) i0 = 2 * j, i1 = 2 * j + 1;
    else i0 = j, i1 = j + half;
    float si, co;
    rope_sincos(a.positions[t], a.inv_freq[j], &si, &co);
    const float2 r = rope_rotate(load(i0), load(i1), co, si);
    o0 = r.x;
    o1 = r.y;
  } else {
    if (head < H + Hkv) i0 = a.rope_dim + 2 * (j - half);
    else i0 = 2 * j;
    i1 = i0 + 1;
    o0 = load(i0), o1 = load(i1);
  }
  if (head < H) {
    A* q = static_cast<A*>(a.q_out) + (t * H + head) * D;
    q[i0] = from_f32<A>(o0);
    q[i1] = from_f32<A>(o1);
    return;
  }
  const int64_t slot = a.slot_mapping[t];
  if (slot < 0) return;
  const int64_t P = a.cache.layout.page_size;
  const bool is_k = head < H + Hkv;
  const int32_t kvh = is_k ? head - H : head - H - Hkv;
  C* dst = static_cast<C*>(is_k ? a.cache.k : a.cache.v) + kv_offset(a.cache.layout, slot / P, slot % P, kvh);
  dst[i0] = from_f32<C>(o0);
  dst[i1] = from_f32<C>(o1);
}

// 8 consecutive elements <-> f32, as one 16-byte access for 16-bit types (two for f32).
template <typename T>
__device__ __forceinline__ void load8(const T* p, float* f) {
  if constexpr (sizeof(T) == 2) {
    const uint4 v = *reinterpret_cast<const uint4*>(p);
    const T* h = reinterpret_cast<const T*>(&v);
#pragma unroll
    for (int k = 0; k < 8; ++k) f[k] = to_f32(h[k]);
  } else {
    const float4 a = reinterpret_cast<const float4*>(p)[0], b = reinterpret_cast<const float4*>(p)[1];
    f[0] = a.x, f[1] = a.y, f[2] = a.z, f[3] = a.w, f[4] = b.x, f[5] = b.y, f[6] = b.z, f[7] = b.w;
  }
}
template <typename T>
__device__ __forceinline__ void store8(T* p, const float* f) {
  if constexpr (sizeof(T) == 2) {
    uint4 v;
    T* h = reinterpret_cast<T*>(&v);
#pragma unroll
    for (int k = 0; k < 8; ++k) h[k] = from_f32<T>(f[k]);
    *reinterpret_cast<uint4*>(p) = v;
  } else {
    reinterpret_cast<float4*>(p)[0] = make_float4(f[0], f[1], f[2], f[3]);
    reinterpret_cast<float4*>(p)[1] = make_float4(f[4], f[5], f[6], f[7]);
  }
}

constexpr int kRopeVecThreads = 128;

// Same contract and arithmetic as qkv_rope_append_pair_kernel, 8 elements per thread: a block holds
// one token and kRopeVecThreads / (D / 8) of its heads, so each access is 16 bytes and the token's
// cos/sin pairs are taken once per block (shared memory) instead of once per head. The one-pair-
// per-thread kernel moved 2-byte elements and ran prefill's RoPE at ~10% of memory bandwidth.
// Needs D % 8 == 0, rope_dim % 16 == 0 and 16-byte aligned buffers (checked by the launcher).
// A NeoX-style (non-interleaved) unit loads its partner vector (d +- rope_dim / 2) too and writes
// its own half of the rotation, so every thread writes exactly one vector.
template <typename A, typename C>
__global__ void __launch_bounds__(kRopeVecThreads) qkv_rope_append_vec_kernel(QkvRopeAppendArgs a) {
  dev::launch_dependents();  // PDL: let the next kernel start loading its weights now
  extern __shared__ float2 rot[];  // [rope_dim / 2] (cos, sin) for this token
  const int64_t t = blockIdx.x;
  const int32_t H = a.H, Hkv = a.cache.layout.num_kv_heads, D = a.cache.layout.head_dim;
  const int32_t half = a.rope_dim / 2, units = D / 8;
  const int32_t heads_per_block = kRopeVecThreads / units;
  for (int32_t j = threadIdx.x; j < half; j += blockDim.x) {
    float si, co;
    rope_sincos(a.positions[t], a.inv_freq[j], &si, &co);
    rot[j] = make_float2(co, si);
  }
  // Positions and frequencies are step inputs uploaded before the step, not a previous kernel's
  // output, so the angles above overlap the wait; the projection's output is read only after it.
  dev::grid_dependency_wait();
  __syncthreads();
  const int32_t head = int32_t(blockIdx.y) * heads_per_block + int32_t(threadIdx.x) / units;
  if (head >= H + 2 * Hkv || int32_t(threadIdx.x) >= heads_per_block * units) return;
  const int32_t d0 = (int32_t(threadIdx.x) % units) * 8;
  const A* row = static_cast<const A*>(a.qkv) + t * int64_t(H + 2 * Hkv) * D + int64_t(head) * D;
  const float* bias = a.bias ? a.bias + int64_t(head) * D : nullptr;
  auto load = [&](int32_t d, float* f) {
    load8(row + d, f);
    if (bias) {
#pragma unroll
      for (int k = 0; k < 8; ++k) f[k] += bias[d + k];
    }
  };
  float x[8], o[8];
  load(d0, x);
  if (head < H + Hkv && d0 < a.rope_dim) {
    if (a.interleaved) {  // pairs (2j, 2j + 1), j = d0 / 2 .. d0 / 2 + 3
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const float2 c = rot[d0 / 2 + k];
        const float2 r = rope_rotate(x[2 * k], x[2 * k + 1], c.x, c.y);
        o[2 * k] = r.x;
        o[2 * k + 1] = r.y;
      }
    } else {  // pairs (j, j + half): the low vector writes the pair's first output, the high one its second
      const bool low = d0 < half;
      float y[8];
      load(low ? d0 + half : d0 - half, y);
#pragma unroll
      for (int k = 0; k < 8; ++k) {
        const float2 c = rot[(low ? d0 : d0 - half) + k];
        const float2 r = low ? rope_rotate(x[k], y[k], c.x, c.y) : rope_rotate(y[k], x[k], c.x, c.y);
        o[k] = low ? r.x : r.y;
      }
    }
  } else {
#pragma unroll
    for (int k = 0; k < 8; ++k) o[k] = x[k];
  }
  if (head < H) {
    store8(static_cast<A*>(a.q_out) + (t * H + head) * D + d0, o);
    return;
  }
  const int64_t slot = a.slot_mapping[t];
  if (slot < 0) return;
  const int64_t P = a.cache.layout.page_size;
  const bool is_k = head < H + Hkv;
  const int32_t kvh = is_k ? head - H : head - H - Hkv;
  store8(static_cast<C*>(is_k ? a.cache.k : a.cache.v) + kv_offset(a.cache.layout, slot / P, slot % P, kvh) + d0, o);
}

// silu_mul for F % 8 == 0 and 16-byte aligned buffers: 8 elements per thread, token from blockIdx.y.
template <typename T>
__global__ void silu_mul_vec_kernel(const T* gu, int64_t F, T* out) {
  dev::launch_dependents();     // PDL: let the next kernel start loading its weights now
  dev::grid_dependency_wait();  // nothing before this reads or writes activations
  constexpr int kV = 16 / sizeof(T);
  const int64_t t = blockIdx.y;
  const int64_t f = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) * kV;
  if (f >= F) return;
  const uint4 gr = *reinterpret_cast<const uint4*>(gu + t * 2 * F + f);
  const uint4 ur = *reinterpret_cast<const uint4*>(gu + t * 2 * F + F + f);
  const T* g = reinterpret_cast<const T*>(&gr);
  const T* u = reinterpret_cast<const T*>(&ur);
  uint4 orr;
  T* o = reinterpret_cast<T*>(&orr);
#pragma unroll
  for (int k = 0; k < kV; ++k) {
    const float gv = to_f32(g[k]);
    o[k] = from_f32<T>(silu_mul_f32(gv, to_f32(u[k])));
  }
  *reinterpret_cast<uint4*>(out + t * F + f) = orr;
}

template <typename T>
__global__ void silu_mul_kernel(const T* gu, int64_t T_, int64_t F, T* out) {
  dev::launch_dependents();     // PDL: let the next kernel start loading its weights now
  dev::grid_dependency_wait();  // nothing before this reads or writes activations
  const int64_t n = T_ * F;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = i / F, f = i % F;
    const float g = to_f32(gu[t * 2 * F + f]), u = to_f32(gu[t * 2 * F + F + f]);
    out[i] = from_f32<T>(silu_mul_f32(g, u));
  }
}

__device__ __forceinline__ uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

template <typename T>
__global__ void random_normal_kernel(T* dst, int64_t n, uint64_t seed, float mean, float stddev) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const uint64_t h = splitmix64(seed * 0x632be59bd9b4e019ull + static_cast<uint64_t>(i));
    const float u1 = (static_cast<float>(h >> 40) + 1.0f) * (1.0f / 16777217.0f);  // (0, 1]
    const float u2 = static_cast<float>((h >> 16) & 0xffffffu) * (1.0f / 16777216.0f);
    const float z = sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
    dst[i] = from_f32<T>(mean + stddev * z);
  }
}

template <typename T>
__global__ void convert_kernel(const float* src, T* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = from_f32<T>(src[i]);
}

__global__ void argmax_kernel(const float* logits, int64_t V, int32_t* ids) {
  __shared__ float sv[32];
  __shared__ int32_t si[32];
  const float* row = logits + blockIdx.x * V;
  float best = -INFINITY;
  int32_t idx = INT32_MAX;
  for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
    const float v = row[i];
    if (v > best) best = v, idx = static_cast<int32_t>(i);  // strided scan: first hit per thread is its lowest
  }
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, best, o);
    const int32_t oi = __shfl_xor_sync(0xffffffffu, idx, o);
    if (ov > best || (ov == best && oi < idx)) best = ov, idx = oi;
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) sv[warp] = best, si[warp] = idx;
  __syncthreads();
  if (warp == 0) {
    best = lane < blockDim.x / 32 ? sv[lane] : -INFINITY;
    idx = lane < blockDim.x / 32 ? si[lane] : INT32_MAX;
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, best, o);
      const int32_t oi = __shfl_xor_sync(0xffffffffu, idx, o);
      if (ov > best || (ov == best && oi < idx)) best = ov, idx = oi;
    }
    if (lane == 0) ids[blockIdx.x] = idx == INT32_MAX ? 0 : idx;
  }
}

unsigned grid_for(int64_t n, int threads) {
  return static_cast<unsigned>(std::min<int64_t>((n + threads - 1) / threads, 132 * 32));
}

}  // namespace

void embedding_gather(const void* table, DType dtype, const int32_t* tokens, int64_t T, int64_t hidden, float* x,
                      cudaStream_t stream) {
  if (T == 0) return;
  dispatch_float(dtype, [&](auto tag) {
    using E = decltype(tag);
    launch_pdl(embedding_kernel<E>, static_cast<unsigned>(T), 256, 0, stream, static_cast<const E*>(table), tokens, hidden, x);
  });
  PAGODA_CUDA_LAUNCH_CHECK();
}

void add_rmsnorm(float* x, const void* delta, const float* w, int64_t T, int64_t hidden, float eps, void* out,
                 DType act, cudaStream_t stream) {
  if (T == 0) return;
  const int vt = norm_vec_threads(hidden, x, delta, w, out, act);
  dispatch_float(act, [&](auto tag) {
    using E = decltype(tag);
    if (vt > 0)
      launch_pdl(add_rmsnorm_vec_kernel<E, false>, static_cast<unsigned>(T), vt, 0, stream,
          x, static_cast<const E*>(delta), nullptr, w, hidden, eps, static_cast<E*>(out));
    else
      launch_pdl(add_rmsnorm_kernel<E, false>, static_cast<unsigned>(T), kNormThreads, 0, stream,
          x, static_cast<const E*>(delta), nullptr, w, hidden, eps, static_cast<E*>(out));
  });
  PAGODA_CUDA_LAUNCH_CHECK();
}

void gather_add_rmsnorm(const float* x, const void* delta, const int32_t* rows, int64_t R, const float* w,
                        int64_t hidden, float eps, void* out, DType act, cudaStream_t stream) {
  if (R == 0) return;
  const int vt = norm_vec_threads(hidden, x, delta, w, out, act);
  dispatch_float(act, [&](auto tag) {
    using E = decltype(tag);
    if (vt > 0)
      launch_pdl(add_rmsnorm_vec_kernel<E, true>, static_cast<unsigned>(R), vt, 0, stream,
          const_cast<float*>(x), static_cast<const E*>(delta), rows, w, hidden, eps, static_cast<E*>(out));
    else
      launch_pdl(add_rmsnorm_kernel<E, true>, static_cast<unsigned>(R), kNormThreads, 0, stream,
          const_cast<float*>(x), static_cast<const E*>(delta), rows, w, hidden, eps, static_cast<E*>(out));
  });
  PAGODA_CUDA_LAUNCH_CHECK();
}

void qkv_rope_append(const QkvRopeAppendArgs& a, DType act, cudaStream_t stream) {
  if (a.T == 0) return;
  if (!(a.rope_dim > 0 && a.rope_dim % 2 == 0 && a.rope_dim <= a.cache.layout.head_dim))
    ops_fail("rope dim " + std::to_string(a.rope_dim) + " must be even and <= head dim " +
             std::to_string(a.cache.layout.head_dim));
  const size_t smem = sizeof(double) * static_cast<size_t>(a.rope_dim);
  dispatch_float(act, [&](auto atag) {
    dispatch_float(a.cache.layout.dtype, [&](auto ctag) {
      using A = decltype(atag);
      using C = decltype(ctag);
      const int32_t D = a.cache.layout.head_dim;
      const unsigned heads = static_cast<unsigned>(a.H + 2 * a.cache.layout.num_kv_heads);
      const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
      const bool vec = D % 8 == 0 && D / 8 <= kRopeVecThreads && a.rope_dim % 16 == 0 && aligned(a.qkv) &&
                       aligned(a.q_out) && aligned(a.cache.k) && aligned(a.cache.v) && a.T <= 0x7fffffff;
      if (vec) {
        const int32_t per_block = kRopeVecThreads / (D / 8);
        const dim3 grid(static_cast<unsigned>(a.T), (heads + per_block - 1) / per_block);
        launch_pdl(qkv_rope_append_vec_kernel<A, C>, grid, kRopeVecThreads, sizeof(float2) * (a.rope_dim / 2), stream, a);
      } else if (D % 2 == 0 && D / 2 <= 1024 && a.T <= 0x7fffffff) {
        const unsigned threads = static_cast<unsigned>((D / 2 + 31) / 32 * 32);
        launch_pdl(qkv_rope_append_pair_kernel<A, C>, dim3(static_cast<unsigned>(a.T), heads), threads, 0, stream, a);
      } else {
        launch_pdl(qkv_rope_append_kernel<A, C>, static_cast<unsigned>(a.T), 256, smem, stream, a);
      }
    });
  });
  PAGODA_CUDA_LAUNCH_CHECK();
}

void silu_mul(const void* gu, int64_t T, int64_t F, void* out, DType act, cudaStream_t stream) {
  if (T * F == 0) return;
  dispatch_float(act, [&](auto tag) {
    using E = decltype(tag);
    constexpr int64_t kV = 16 / sizeof(E);
    const bool vec = F % kV == 0 && T <= 65535 && reinterpret_cast<uintptr_t>(gu) % 16 == 0 &&
                     reinterpret_cast<uintptr_t>(out) % 16 == 0;
    if (vec) {
      const unsigned blocks = static_cast<unsigned>((F / kV + 127) / 128);
      launch_pdl(silu_mul_vec_kernel<E>, dim3(blocks, static_cast<unsigned>(T)), 128, 0, stream, static_cast<const E*>(gu), F,
                                                                                       static_cast<E*>(out));
    } else {
      launch_pdl(silu_mul_kernel<E>, grid_for(T * F, 256), 256, 0, stream, static_cast<const E*>(gu), T, F,
                                                                    static_cast<E*>(out));
    }
  });
  PAGODA_CUDA_LAUNCH_CHECK();
}

void argmax_rows(const float* logits, int64_t R, int64_t V, int32_t* ids, cudaStream_t stream) {
  if (R == 0) return;
  argmax_kernel<<<static_cast<unsigned>(R), 1024, 0, stream>>>(logits, V, ids);
  PAGODA_CUDA_LAUNCH_CHECK();
}

void random_normal_fill(void* dst, DType dtype, int64_t n, uint64_t seed, float mean, float stddev,
                        cudaStream_t stream) {
  if (n == 0) return;
  dispatch_float(dtype, [&](auto tag) {
    using E = decltype(tag);
    random_normal_kernel<E><<<grid_for(n, 256), 256, 0, stream>>>(static_cast<E*>(dst), n, seed, mean, stddev);
  });
  PAGODA_CUDA_LAUNCH_CHECK();
}

void convert_from_f32(const float* src, void* dst, DType dtype, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  dispatch_float(dtype, [&](auto tag) {
    using E = decltype(tag);
    convert_kernel<E><<<grid_for(n, 256), 256, 0, stream>>>(src, static_cast<E*>(dst), n);
  });
  PAGODA_CUDA_LAUNCH_CHECK();
}

}  // namespace pagoda::cuda
