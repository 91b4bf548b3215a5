// The tile steps of a consumer warpgroup in the Hopper prefill kernels, shared by the one-work-per-CTA
// kernel (flash_prefill_sm90.cuh) and the persistent ping-pong kernel (flash_prefill_sm90_pingpong.cuh),
// which differ only in how they order these steps and schedule tiles and works: S = Q K^T and
// O += P V on the tensor cores (wgmma; Q and K/V from shared memory in the 128-byte swizzle layout, P
// from registers) and the masked online softmax of a thread's two accumulator rows in the log2 domain.
// Free functions over the caller's arrays: the kernels keep o, pk, s and the softmax state as their own
// locals (a struct holding them measured 1-2% slower: attention_notes.md, 27).
#pragma once

#include <cfloat>

#include "backend/cuda/attention/attention_params.hpp"
#include "backend/cuda/device_utils.cuh"
#include "backend/cuda/attention/flash_prefill_sm90_load.cuh"
#include "backend/cuda/attention/flash_prefill_work.cuh"
#include "backend/cuda/attention/wgmma_sm90.cuh"

namespace pagoda::cuda {

// The K/V ring's stage barriers at bars (S stages): full (producer -> consumers), empty (consumers ->
// producer), K and V apart.
template <int S>
struct Sm90RingBarriers {
  uint32_t bars;
  __device__ __forceinline__ uint32_t full_k(int s) const { return bars + 8 * s; }
  __device__ __forceinline__ uint32_t full_v(int s) const { return bars + 8 * (S + s); }
  __device__ __forceinline__ uint32_t empty_k(int s) const { return bars + 8 * (2 * S + s); }
  __device__ __forceinline__ uint32_t empty_v(int s) const { return bars + 8 * (3 * S + s); }
  // By one thread, before a CTA barrier: full barriers count full_arrivals (128 producer threads, or
  // one with TMA), empty ones 256 (both consumer warpgroups).
  __device__ __forceinline__ void init(int full_arrivals) const {
    for (int s = 0; s < S; ++s) {
      sm90::mbar_init(full_k(s), full_arrivals);
      sm90::mbar_init(full_v(s), full_arrivals);
      sm90::mbar_init(empty_k(s), 256);
      sm90::mbar_init(empty_v(s), 256);
    }
  }
};

// Issues (cp.async, one commit group) the 64 Q rows of consumer warpgroup cw for work w into its part
// of the BM-row Q tile at sQ; rows past the sequence are zero-filled and never written. ct: the
// thread's index within the warpgroup.
template <typename T, int D, int BM>
__device__ __forceinline__ void sm90_q_issue(const AttentionParams& p, const PrefillWork& w, uint32_t sQ, int cw,
                                             int ct) {
  constexpr int CH = D / 8;
  const T* q = static_cast<const T*>(p.q);
  const int H = p.num_heads;
#pragma unroll
  for (int i = 0; i < 64 * CH / 128; ++i) {
    const int idx = ct + i * 128;
    const int r = idx / CH, c = idx % CH;
    const int rho = w.row0 + cw * 64 + r;
    const bool ok = rho < w.rows_total;
    const T* src = ok ? q + (int64_t(w.q_start + rho / w.G) * H + w.kvh * w.G + rho % w.G) * D + c * 8 : q;
    dev::cp_async_16(sQ + sw128<BM>(cw * 64 + r, c), src, ok ? 16 : 0);
  }
  dev::cp_async_commit();
}

// The last key each of a thread's two rows may see, and the last key every row of its warpgroup sees
// (tiles up to there skip masking).
struct Sm90RowLimits {
  int lo, hi, no_mask;
};

// rho_lo: the thread's first packed row (the second is rho_lo + 8); row0: the warpgroup's first row.
__device__ __forceinline__ Sm90RowLimits sm90_row_limits(const AttentionParams& p, const PrefillWork& w, int rho_lo,
                                                         int row0) {
  auto key_lim = [&](int rho) {
    return p.causal ? min(w.q_off + min(rho, w.rows_total - 1) / w.G, w.kv_len - 1) : w.kv_len - 1;
  };
  Sm90RowLimits l;
  l.lo = key_lim(rho_lo);
  l.hi = key_lim(rho_lo + 8);
  l.no_mask = p.causal ? min(w.q_off + row0 / w.G, w.kv_len - 1) : w.kv_len - 1;
  return l;
}

// S = Q K^T of the K tile in ring stage st (committed, not waited). dq0 / dk0: descriptors of k-step 0;
// k-step ks adds (ks / 4) column blocks and (ks % 4) * 32 bytes.
template <typename T, int D, int BM, int BN, int TILE_BYTES>
__device__ __forceinline__ void sm90_qk_issue(float* s, int st, uint64_t dq0, uint64_t dk0) {
  sm90::wgmma_fence();
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks) {
    const uint32_t qo = (ks / 4) * BM * 128 + (ks % 4) * 32;
    const uint32_t ko = st * TILE_BYTES + (ks / 4) * BN * 128 + (ks % 4) * 32;
    sm90::wgmma_ss<T, BN>(s, dq0 + (qo >> 4), dk0 + (ko >> 4), ks > 0 ? 1 : 0);
  }
  sm90::wgmma_commit();
}

// O += P V with the V tile in ring stage st (committed, not waited); pk: P packed ([BN / 16][4]).
template <typename T, int D, int BN, int TILE_BYTES>
__device__ __forceinline__ void sm90_pv_issue(float* o, uint32_t (*pk)[4], int st, uint64_t dv0) {
  sm90::wgmma_fence();
#pragma unroll
  for (int kk = 0; kk < BN / 16; ++kk) {
    const uint32_t vo = st * TILE_BYTES + kk * 16 * 128;
    sm90::wgmma_rs<T, D>(o, pk[kk], dv0 + (vo >> 4), 1);
  }
  sm90::wgmma_commit();
}

// After a wgmma wait: the registers it wrote are not to be read or moved before it.
template <int BN>
__device__ __forceinline__ void sm90_fence_s(float* s) {
#pragma unroll
  for (int i = 0; i < BN / 2; ++i) sm90::reg_fence(s[i]);
}
template <int D, int BN>
__device__ __forceinline__ void sm90_fence_o_pk(float* o, uint32_t (*pk)[4]) {
#pragma unroll
  for (int i = 0; i < D / 2; ++i) sm90::reg_fence(o[i]);
#pragma unroll
  for (int kk = 0; kk < BN / 16; ++kk)
#pragma unroll
    for (int r = 0; r < 4; ++r) sm90::reg_fence(pk[kk][r]);
}

// Tile j's scores s (this thread's columns 8 i + 2 t4 + {0, 1} of its two rows): mask (diagonal / last
// tile only), row max, p = 2^(s * scale - m * scale), row sums (thread-local); m_run is unscaled,
// alpha the factor O must be rescaled by.
template <int BN>
__device__ __forceinline__ void sm90_softmax(float* s, int j, const Sm90RowLimits& lim, int t4, float sl2,
                                             float* m_run, float* l_run, float* alpha) {
  const int n0 = j * BN;
  if (n0 + BN - 1 > lim.no_mask) {
#pragma unroll
    for (int i = 0; i < BN / 8; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        if (n0 + 8 * i + 2 * t4 + (e & 1) > (e < 2 ? lim.lo : lim.hi)) s[4 * i + e] = -INFINITY;
  }
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float mx = m_run[h];
#pragma unroll
    for (int i = 0; i < BN / 8; ++i) mx = fmaxf(mx, fmaxf(s[4 * i + 2 * h], s[4 * i + 2 * h + 1]));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float m_sc = mx == -INFINITY ? 0.0f : mx * sl2;
    alpha[h] = dev::fast_exp2(fmaf(m_run[h], sl2, -m_sc));
    m_run[h] = mx;
    float sum = 0.0f;
#pragma unroll
    for (int i = 0; i < BN / 8; ++i) {
      s[4 * i + 2 * h] = dev::fast_exp2(fmaf(s[4 * i + 2 * h], sl2, -m_sc));
      s[4 * i + 2 * h + 1] = dev::fast_exp2(fmaf(s[4 * i + 2 * h + 1], sl2, -m_sc));
      sum += s[4 * i + 2 * h] + s[4 * i + 2 * h + 1];
    }
    l_run[h] = fmaf(l_run[h], alpha[h], sum);
  }
}

// O *= alpha, row by row.
template <int D>
__device__ __forceinline__ void sm90_rescale(float* o, const float* alpha) {
#pragma unroll
  for (int i = 0; i < D / 8; ++i) {
    o[4 * i] *= alpha[0];
    o[4 * i + 1] *= alpha[0];
    o[4 * i + 2] *= alpha[1];
    o[4 * i + 3] *= alpha[1];
  }
}

// P to 16 bits in the wgmma A-register layout.
template <typename T, int BN>
__device__ __forceinline__ void sm90_pack(const float* s, uint32_t (*pk)[4]) {
#pragma unroll
  for (int kk = 0; kk < BN / 16; ++kk) {
    pk[kk][0] = dev::pack2<T>(s[8 * kk], s[8 * kk + 1]);
    pk[kk][1] = dev::pack2<T>(s[8 * kk + 2], s[8 * kk + 3]);
    pk[kk][2] = dev::pack2<T>(s[8 * kk + 4], s[8 * kk + 5]);
    pk[kk][3] = dev::pack2<T>(s[8 * kk + 6], s[8 * kk + 7]);
  }
}

}  // namespace pagoda::cuda
