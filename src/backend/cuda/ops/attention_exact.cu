// Exact paged attention in fp32 math for what the FlashAttention-2 / Flash-Decoding kernels do not
// instantiate (fp32 caches, head dims other than 64 and 128). One warp per (token, head): lanes
// score 32 keys at once, then share probabilities to accumulate V with lanes owning head dims.
// Not tuned for speed: the fast path for bf16/fp16 and D in {64, 128} is backend/cuda/attention.hpp.
#include <algorithm>

#include "backend/cuda/ops/cuda_check.hpp"
#include "backend/cuda/ops/ops.hpp"
#include "backend/cuda/ops/type_utils.cuh"

namespace pagoda::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kMaxD = 256;

struct ExactParams {
  const void* q;
  void* out;
  PagedKvView cache;
  AttentionBatch batch;
  const int32_t* token_seq;
  int64_t T;
  int32_t H;
};

template <typename A, typename C, int DPL>
__global__ void __launch_bounds__(kWarps * 32) attention_exact_kernel(ExactParams p) {
  __shared__ float sq[kWarps][kMaxD];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t w = int64_t(blockIdx.x) * kWarps + warp;
  if (w >= p.T * p.H) return;
  const int64_t t = w / p.H;
  const int32_t h = static_cast<int32_t>(w % p.H);
  const PagedKvLayout& L = p.cache.layout;
  const int32_t D = L.head_dim, P = L.page_size, Hkv = L.num_kv_heads;
  const int32_t kvh = h / (p.H / Hkv);
  const int32_t b = p.token_seq[t];
  const int32_t q_start = p.batch.cu_seqlens_q[b], q_len = p.batch.cu_seqlens_q[b + 1] - q_start;
  const int32_t kv_len = p.batch.kv_lens[b];
  const int32_t pos = kv_len - q_len + static_cast<int32_t>(t - q_start);
  const int32_t n_keys = p.batch.causal ? min(pos + 1, kv_len) : kv_len;
  const A* qr = static_cast<const A*>(p.q) + (t * p.H + h) * D;
  for (int d = lane; d < D; d += 32) sq[warp][d] = to_f32(qr[d]);
  __syncwarp();
  const C* kc = static_cast<const C*>(p.cache.k);
  const C* vc = static_cast<const C*>(p.cache.v);
  const int32_t* bt = p.batch.block_table + int64_t(b) * p.batch.max_pages_per_seq;
  float m = -INFINITY, l = 0.0f, acc[DPL];
#pragma unroll
  for (int j = 0; j < DPL; ++j) acc[j] = 0.0f;
  for (int32_t base = 0; base < n_keys; base += 32) {
    const int32_t j = base + lane;
    float s = -INFINITY;
    if (j < n_keys) {
      const C* kr = kc + kv_offset(L, bt[j / P], j % P, kvh);
      float dot = 0.0f;
      for (int d = 0; d < D; ++d) dot += sq[warp][d] * to_f32(kr[d]);
      s = dot * p.batch.scale;
    }
    float mx = s;
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    const float new_m = fmaxf(m, mx);
    const float corr = expf(m - new_m);
    const float pj = j < n_keys ? expf(s - new_m) : 0.0f;
    float ps = pj;
    for (int o = 16; o > 0; o >>= 1) ps += __shfl_xor_sync(0xffffffffu, ps, o);
    l = l * corr + ps;
#pragma unroll
    for (int d = 0; d < DPL; ++d) acc[d] *= corr;
    const int32_t cnt = min(32, n_keys - base);
    for (int32_t jj = 0; jj < cnt; ++jj) {
      const float pr = __shfl_sync(0xffffffffu, pj, jj);
      const int32_t key = base + jj;
      const C* vr = vc + kv_offset(L, bt[key / P], key % P, kvh);
#pragma unroll
      for (int d = 0; d < DPL; ++d)
        if (lane + 32 * d < D) acc[d] += pr * to_f32(vr[lane + 32 * d]);
    }
    m = new_m;
  }
  A* o = static_cast<A*>(p.out) + (t * p.H + h) * D;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
  for (int d = 0; d < DPL; ++d)
    if (lane + 32 * d < D) o[lane + 32 * d] = from_f32<A>(acc[d] * inv);
}

}  // namespace

void attention_exact(const void* q, int32_t H, const PagedKvView& cache, const AttentionBatch& batch, int64_t T,
                     const int32_t* token_seq, void* out, DType act, cudaStream_t stream) {
  if (T == 0) return;
  const int32_t D = cache.layout.head_dim;
  if (!(D > 0 && D <= kMaxD)) ops_fail("attention: head dim " + std::to_string(D) + " outside 1..256");
  if (!(cache.layout.num_kv_heads > 0 && H % cache.layout.num_kv_heads == 0))
    ops_fail("attention: " + std::to_string(H) + " heads are not a multiple of the kv heads");
  ExactParams p{q, out, cache, batch, token_seq, T, H};
  const unsigned grid = static_cast<unsigned>((T * H + kWarps - 1) / kWarps);
  dispatch_float(act, [&](auto atag) {
    dispatch_float(cache.layout.dtype, [&](auto ctag) {
      using A = decltype(atag);
      using C = decltype(ctag);
      if (D <= 64)
        attention_exact_kernel<A, C, 2><<<grid, kWarps * 32, 0, stream>>>(p);
      else if (D <= 128)
        attention_exact_kernel<A, C, 4><<<grid, kWarps * 32, 0, stream>>>(p);
      else
        attention_exact_kernel<A, C, 8><<<grid, kWarps * 32, 0, stream>>>(p);
    });
  });
  PAGODA_CUDA_LAUNCH_CHECK();
}

}  // namespace pagoda::cuda
