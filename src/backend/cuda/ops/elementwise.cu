// Row-wise and element-wise kernels of the llama block on CUDA. Precision mirrors the CPU oracle
// where it is cheap: RMSNorm sums squares in f64, RoPE angles and rotations go through f64 sincos,
// so the fp32 model tracks the CPU backend to rounding. Memory-bound; one pass each.
#include <algorithm>

#include "backend/cuda/ops/cuda_check.hpp"
#include "backend/cuda/ops/ops.hpp"
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
  const int64_t t = blockIdx.x;
  const T* row = table + static_cast<int64_t>(tokens[t]) * hidden;
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) x[t * hidden + i] = to_f32(row[i]);
}

// GATHER: row r reads x[rows[r]] and does not write x back.
template <typename T, bool GATHER>
__global__ void add_rmsnorm_kernel(float* x, const T* delta, const int32_t* rows, const float* w, int64_t hidden,
                                   float eps, T* out) {
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

template <typename A, typename C>
__global__ void qkv_rope_append_kernel(QkvRopeAppendArgs a) {
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

template <typename T>
__global__ void silu_mul_kernel(const T* gu, int64_t T_, int64_t F, T* out) {
  const int64_t n = T_ * F;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = i / F, f = i % F;
    const float g = to_f32(gu[t * 2 * F + f]), u = to_f32(gu[t * 2 * F + F + f]);
    out[i] = from_f32<T>(g / (1.0f + expf(-g)) * u);
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
    embedding_kernel<E><<<static_cast<unsigned>(T), 256, 0, stream>>>(static_cast<const E*>(table), tokens, hidden, x);
  });
  PAGODA_CUDA_LAUNCH_CHECK();
}

void add_rmsnorm(float* x, const void* delta, const float* w, int64_t T, int64_t hidden, float eps, void* out,
                 DType act, cudaStream_t stream) {
  if (T == 0) return;
  dispatch_float(act, [&](auto tag) {
    using E = decltype(tag);
    add_rmsnorm_kernel<E, false><<<static_cast<unsigned>(T), kNormThreads, 0, stream>>>(
        x, static_cast<const E*>(delta), nullptr, w, hidden, eps, static_cast<E*>(out));
  });
  PAGODA_CUDA_LAUNCH_CHECK();
}

void gather_add_rmsnorm(const float* x, const void* delta, const int32_t* rows, int64_t R, const float* w,
                        int64_t hidden, float eps, void* out, DType act, cudaStream_t stream) {
  if (R == 0) return;
  dispatch_float(act, [&](auto tag) {
    using E = decltype(tag);
    add_rmsnorm_kernel<E, true><<<static_cast<unsigned>(R), kNormThreads, 0, stream>>>(
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
      qkv_rope_append_kernel<A, C><<<static_cast<unsigned>(a.T), 256, smem, stream>>>(a);
    });
  });
  PAGODA_CUDA_LAUNCH_CHECK();
}

void silu_mul(const void* gu, int64_t T, int64_t F, void* out, DType act, cudaStream_t stream) {
  if (T * F == 0) return;
  dispatch_float(act, [&](auto tag) {
    using E = decltype(tag);
    silu_mul_kernel<E><<<grid_for(T * F, 256), 256, 0, stream>>>(static_cast<const E*>(gu), T, F, static_cast<E*>(out));
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
