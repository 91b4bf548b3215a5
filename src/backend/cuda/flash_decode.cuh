// Flash-Decoding: a few query tokens per sequence against a long paged KV. The KV range of each
// sequence is split across CTAs; each CTA streams its chunk once for the whole query-head group
// (GQA-aware: R packed (token, head-in-group) rows per CTA) with 16-byte loads, U tokens in
// flight per lane group, and writes a partial output + LSE; flash_merge_kernel combines the
// splits by log-sum-exp. With one split the decode kernel writes the final output itself.
// Optional FlashDecoding++ unified max: exponentiate against a fixed bound instead of a running
// max (no rescaling); a CTA that sees a score outside the safe window redoes its chunk exactly.
#pragma once

#include "backend/cuda/attention_params.hpp"
#include "backend/cuda/device_utils.cuh"

namespace pagoda::cuda {

template <int D>
struct DecodeTraits {
  static constexpr int THREADS = 128;
  static constexpr int WARPS = 4;
  static constexpr int TPR = D / 8;       // lanes per KV row (one 16-byte chunk each)
  static constexpr int TPW = 32 / TPR;    // KV rows a warp covers per load
  static constexpr int U = 4;             // loads in flight per lane (K and V each)
  static constexpr int GROUPS = WARPS * TPW;  // independent softmax streams per CTA
  static constexpr int TOKENS_PER_ITER = GROUPS * U;
};

// |score - bound| (log2 domain) beyond this: the unified-max result may lose range; redo exactly.
constexpr float UNIFIED_MAX_WINDOW = 64.0f;

template <typename T, int D, int R>
struct DecodeChunkState {
  float m[R];
  float l[R];
  float acc[R][8];
};

template <typename T, int D, int R, bool UNIFIED>
__device__ __forceinline__ void decode_chunk(const DecodeParams& dp, const float (&qv)[R][8], const int (&lim)[R],
                                             int start, int end, const int32_t* bt, int kvh,
                                             DecodeChunkState<T, D, R>& st, float& smax) {
  using Tr = DecodeTraits<D>;
  const AttentionParams& p = dp.attn;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int sub = lane % Tr::TPR, tk = lane / Tr::TPR;
  const int P = p.page_size, Hkv = p.num_kv_heads;
  const T* kc = static_cast<const T*>(p.k);
  const T* vc = static_cast<const T*>(p.v);
  const float phi = dp.max_bound_log2;

#pragma unroll
  for (int r = 0; r < R; ++r) {
    st.m[r] = UNIFIED ? phi : -INFINITY;
    st.l[r] = 0.0f;
#pragma unroll
    for (int e = 0; e < 8; ++e) st.acc[r][e] = 0.0f;
  }
  smax = -INFINITY;

  for (int base = start + warp * Tr::TPW * Tr::U; base < end; base += Tr::TOKENS_PER_ITER) {
    uint4 kr[Tr::U], vr[Tr::U];
    int key[Tr::U];
#pragma unroll
    for (int u = 0; u < Tr::U; ++u) {
      key[u] = base + u * Tr::TPW + tk;
      if (key[u] < end) {
        const int page = bt[key[u] / P];
        const int64_t off = (int64_t(page) * P + key[u] % P) * Hkv * D + int64_t(kvh) * D + sub * 8;
        kr[u] = __ldg(reinterpret_cast<const uint4*>(kc + off));
        vr[u] = __ldg(reinterpret_cast<const uint4*>(vc + off));
      } else {
        kr[u] = make_uint4(0, 0, 0, 0);
        vr[u] = make_uint4(0, 0, 0, 0);
      }
    }
    float s[Tr::U][R];
#pragma unroll
    for (int u = 0; u < Tr::U; ++u) {
      float kf[8];
      const uint32_t* kw = reinterpret_cast<const uint32_t*>(&kr[u]);
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float2 f = dev::unpack2<T>(kw[e]);
        kf[2 * e] = f.x;
        kf[2 * e + 1] = f.y;
      }
#pragma unroll
      for (int r = 0; r < R; ++r) {
        float acc = 0.0f;
#pragma unroll
        for (int e = 0; e < 8; ++e) acc = fmaf(qv[r][e], kf[e], acc);
#pragma unroll
        for (int off = Tr::TPR / 2; off > 0; off /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, off);
        s[u][r] = (key[u] < end && key[u] <= lim[r]) ? acc : -INFINITY;
      }
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
      float mx = s[0][r];
#pragma unroll
      for (int u = 1; u < Tr::U; ++u) mx = fmaxf(mx, s[u][r]);
      smax = fmaxf(smax, mx);
      float m_use;
      if constexpr (UNIFIED) {
        m_use = phi;
      } else {
        const float m_new = fmaxf(st.m[r], mx);
        m_use = m_new == -INFINITY ? 0.0f : m_new;
        const float alpha = exp2f(st.m[r] - m_use);
        st.m[r] = m_new;
        st.l[r] *= alpha;
#pragma unroll
        for (int e = 0; e < 8; ++e) st.acc[r][e] *= alpha;
      }
#pragma unroll
      for (int u = 0; u < Tr::U; ++u) {
        const float pr = exp2f(s[u][r] - m_use);
        st.l[r] += pr;
        const uint32_t* vw = reinterpret_cast<const uint32_t*>(&vr[u]);
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const float2 f = dev::unpack2<T>(vw[e]);
          st.acc[r][2 * e] = fmaf(pr, f.x, st.acc[r][2 * e]);
          st.acc[r][2 * e + 1] = fmaf(pr, f.y, st.acc[r][2 * e + 1]);
        }
      }
    }
  }
}

// Grid: (num_splits, Hkv * row_groups, B). Block: 128 threads.
template <typename T, int D, int R, bool UNIFIED>
__global__ void __launch_bounds__(128) flash_decode_kernel(const DecodeParams dp) {
  using Tr = DecodeTraits<D>;
  const AttentionParams& p = dp.attn;
  __shared__ float sm_acc[Tr::GROUPS][R][D];
  __shared__ float sm_m[Tr::GROUPS][R];
  __shared__ float sm_l[Tr::GROUPS][R];

  const int split = blockIdx.x;
  const int row_groups = gridDim.y / p.num_kv_heads;
  const int kvh = blockIdx.y / row_groups;
  const int rg = blockIdx.y % row_groups;
  const int b = blockIdx.z;
  const int q_start = p.cu_seqlens_q[b];
  const int q_len = p.cu_seqlens_q[b + 1] - q_start;
  const int G = p.group;
  const int rows_total = q_len * G;
  const int row0 = rg * R;
  if (row0 >= rows_total) return;
  const int kv_len = p.kv_lens[b];
  const int q_off = kv_len - q_len;
  const int start = split * dp.split_tokens;
  const int end = min(kv_len, start + dp.split_tokens);
  const int32_t* bt = p.block_table + int64_t(b) * p.max_pages;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int sub = lane % Tr::TPR, tk = lane / Tr::TPR;
  const int H = p.num_heads;

  // q rows, pre-scaled by scale * log2(e) so scores come out in the exp2 domain.
  float qv[R][8];
  int lim[R];
  const T* q = static_cast<const T*>(p.q);
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int rho = row0 + r;
    if (rho < rows_total) {
      const int64_t tok = q_start + rho / G;
      const uint4 raw = __ldg(reinterpret_cast<const uint4*>(q + (tok * H + kvh * G + rho % G) * D + sub * 8));
      const uint32_t* w = reinterpret_cast<const uint32_t*>(&raw);
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float2 f = dev::unpack2<T>(w[e]);
        qv[r][2 * e] = f.x * p.scale_log2;
        qv[r][2 * e + 1] = f.y * p.scale_log2;
      }
      lim[r] = p.causal ? min(q_off + rho / G, kv_len - 1) : kv_len - 1;
    } else {
      for (int e = 0; e < 8; ++e) qv[r][e] = 0.0f;
      lim[r] = -1;  // padding row: sees nothing, never written
    }
  }

  DecodeChunkState<T, D, R> st;
  float smax;
  if constexpr (UNIFIED) {
    decode_chunk<T, D, R, true>(dp, qv, lim, start, end, bt, kvh, st, smax);
    const float phi = dp.max_bound_log2;
    const bool bad = smax > phi + UNIFIED_MAX_WINDOW || (smax != -INFINITY && smax < phi - UNIFIED_MAX_WINDOW);
    if (__syncthreads_or(bad)) decode_chunk<T, D, R, false>(dp, qv, lim, start, end, bt, kvh, st, smax);
  } else {
    decode_chunk<T, D, R, false>(dp, qv, lim, start, end, bt, kvh, st, smax);
  }

  // Combine the CTA's GROUPS softmax streams through shared memory.
  const int grp = warp * Tr::TPW + tk;
#pragma unroll
  for (int r = 0; r < R; ++r) {
    float4* dst = reinterpret_cast<float4*>(&sm_acc[grp][r][sub * 8]);
    dst[0] = make_float4(st.acc[r][0], st.acc[r][1], st.acc[r][2], st.acc[r][3]);
    dst[1] = make_float4(st.acc[r][4], st.acc[r][5], st.acc[r][6], st.acc[r][7]);
    if (sub == 0) {
      sm_m[grp][r] = st.m[r];
      sm_l[grp][r] = st.l[r];
    }
  }
  __syncthreads();

  const bool single = dp.num_splits == 1;
  for (int idx = threadIdx.x; idx < R * D; idx += Tr::THREADS) {
    const int r = idx / D, d = idx % D;
    const int rho = row0 + r;
    if (rho >= rows_total) continue;
    float M = -INFINITY;
#pragma unroll
    for (int g2 = 0; g2 < Tr::GROUPS; ++g2) M = fmaxf(M, sm_m[g2][r]);
    const float m_use = M == -INFINITY ? 0.0f : M;
    float L = 0.0f, O = 0.0f;
#pragma unroll
    for (int g2 = 0; g2 < Tr::GROUPS; ++g2) {
      const float w = exp2f(sm_m[g2][r] - m_use);
      L += sm_l[g2][r] * w;
      O += sm_acc[g2][r][d] * w;
    }
    const int64_t tok = q_start + rho / G;
    const int64_t row = tok * H + kvh * G + rho % G;
    const float lse2 = L > 0.0f ? m_use + log2f(L) : -INFINITY;
    const float val = L > 0.0f ? O / L : 0.0f;
    if (single) {
      static_cast<T*>(p.out)[row * D + d] = dev::from_f32<T>(val);
      if (d == 0 && p.lse != nullptr) p.lse[row] = lse2 * dev::LN2;
    } else {
      const int64_t T_rows = int64_t(p.cu_seqlens_q[p.num_seqs]) * H;
      dp.partial_out[(int64_t(split) * T_rows + row) * D + d] = val;
      if (d == 0) dp.partial_lse[int64_t(split) * T_rows + row] = lse2;
    }
  }
}

// Combines splits: out = sum_s w_s o_s / sum_s w_s with w_s = l_s * 2^(lse_s - max) folded into
// lse. Grid: ceil(T * H / rows_per_block); block: 128 threads, D / 4 per row.
template <typename T, int D>
__global__ void __launch_bounds__(128) flash_merge_kernel(const DecodeParams dp) {
  const AttentionParams& p = dp.attn;
  constexpr int TPR = D / 4;
  constexpr int ROWS = 128 / TPR;
  const int64_t T_rows = int64_t(p.cu_seqlens_q[p.num_seqs]) * p.num_heads;
  const int64_t row = int64_t(blockIdx.x) * ROWS + threadIdx.x / TPR;
  if (row >= T_rows) return;
  const int c = threadIdx.x % TPR;
  const int S = dp.num_splits;
  float M = -INFINITY;
  for (int s = 0; s < S; ++s) M = fmaxf(M, dp.partial_lse[int64_t(s) * T_rows + row]);
  const float m_use = M == -INFINITY ? 0.0f : M;
  float L = 0.0f;
  float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
  for (int s = 0; s < S; ++s) {
    const float w = exp2f(dp.partial_lse[int64_t(s) * T_rows + row] - m_use);
    if (w == 0.0f) continue;
    const float4 v = reinterpret_cast<const float4*>(dp.partial_out + (int64_t(s) * T_rows + row) * D)[c];
    L += w;
    acc.x = fmaf(w, v.x, acc.x);
    acc.y = fmaf(w, v.y, acc.y);
    acc.z = fmaf(w, v.z, acc.z);
    acc.w = fmaf(w, v.w, acc.w);
  }
  const float inv = L > 0.0f ? 1.0f / L : 0.0f;
  T* out = static_cast<T*>(p.out) + row * D + c * 4;
  const uint32_t lo = dev::pack2<T>(acc.x * inv, acc.y * inv);
  const uint32_t hi = dev::pack2<T>(acc.z * inv, acc.w * inv);
  *reinterpret_cast<uint2*>(out) = make_uint2(lo, hi);
  if (c == 0 && p.lse != nullptr) p.lse[row] = L > 0.0f ? (m_use + log2f(L)) * dev::LN2 : -INFINITY;
}

}  // namespace pagoda::cuda
