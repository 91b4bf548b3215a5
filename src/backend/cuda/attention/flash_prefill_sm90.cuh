// FlashAttention prefill for Hopper (sm_90a), FA3-shaped: one producer warpgroup fills K/V tiles
// from the paged cache (TMA boxes where the page size allows, else a cp.async gather;
// flash_prefill_sm90_load.cuh) into a 2-stage ring (full/empty mbarriers per stage, K and V
// separately), two consumer warpgroups of 64 packed rows each run S = Q K^T with wgmma from shared
// memory, the online softmax in registers (log2 domain, as flash_prefill.cuh) and O += P V with P
// from registers. Promises the same results contract as flash_prefill.cuh (out, natural-log LSE,
// GQA-packed rows, ragged batches, causal or not, any page size); sm_90a only (empty elsewhere).
// OVERLAP (measured slower on the H200, kept for the bench): the next tile's Q K^T and this tile's
// P V are in flight while the softmax runs. The default issues Q K^T, softmax, P V in turn; the two
// consumer warpgroups interleave on the tensor cores by themselves.
#pragma once

#include <cfloat>

#include "backend/cuda/attention/attention_params.hpp"
#include "backend/cuda/device_utils.cuh"
#include "backend/cuda/attention/flash_prefill_sm90_load.cuh"
#include "backend/cuda/attention/flash_prefill_sm90_tile.cuh"
#include "backend/cuda/attention/flash_prefill_work.cuh"
#include "backend/cuda/attention/wgmma_sm90.cuh"

namespace pagoda::cuda {

template <int D, int STAGES_ = 2>
struct PrefillSm90Traits {
  static constexpr int BM = 128;  // packed (token, head-in-group) rows: 2 consumer warpgroups x 64
  static constexpr int BN = 128;  // keys per K/V tile
  static constexpr int STAGES = STAGES_;  // 3 fits at D = 128 (225 KB of the 227 KB a CTA may hold)
  static constexpr int THREADS = 384;  // warpgroup 0 produces, 1 and 2 consume
  static constexpr int Q_BYTES = BM * D * 2;
  static constexpr int TILE_BYTES = BN * D * 2;  // one K or V tile
  static constexpr int K_OFF = Q_BYTES;
  static constexpr int V_OFF = K_OFF + STAGES * TILE_BYTES;
  static constexpr int BAR_OFF = V_OFF + STAGES * TILE_BYTES;
  // + 1024: the base is rounded up to the 1024-byte alignment of the 128-byte swizzle atoms.
  static constexpr int SMEM_BYTES = BAR_OFF + 4 * STAGES * 8 + 1024;
  static_assert(D == 64 || D == 128, "head dim 64 or 128");
};

// TMA: the producer loads K/V with tensor-map boxes (flash_prefill_sm90_load.cuh; page sizes
// prefill_tma_page_ok), maps unused otherwise. RUNS (cp.async producer, page sizes with 16 | P): the
// run gather (sm90_gather_runs) instead of the row gather; its own instantiation, since both gathers
// in one kernel cost the ping-pong consumers spills (session 9, notes 36).
template <typename T, int D, bool OVERLAP, bool TMA, bool RUNS = false>
__global__ void __launch_bounds__(384, 1)
    flash_prefill_sm90_kernel(const AttentionParams p, const __grid_constant__ PrefillTmaMaps maps) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using Tr = PrefillSm90Traits<D>;
  constexpr int BM = Tr::BM, BN = Tr::BN, S = Tr::STAGES, RB = D * 2;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t base = (dev::smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t sQ = base, sK = base + Tr::K_OFF, sV = base + Tr::V_OFF, bars = base + Tr::BAR_OFF;
  const Sm90RingBarriers<S> ring{bars};

  PrefillWork w;
  if (!prefill_work_make<BM, BN>(p, w)) return;
  const int tid = threadIdx.x;
  const int wg = tid / 128;

  if (tid == 0) ring.init(TMA ? 1 : 128);
  __syncthreads();

  if (wg == 0 && TMA) {
    sm90::setmaxnreg_dec<56>();
    const PrefillTmaProducer<D, BN> prod(p, maps, tid);
    for (int j = 0; j < w.n_tiles; ++j) {
      const int s = j % S;
      prod.tile(w, j, sK + s * Tr::TILE_BYTES, sV + s * Tr::TILE_BYTES, ring.full_k(s), ring.full_v(s), ring.empty_k(s), ring.empty_v(s),
                ((j / S) & 1) ^ 1);
    }
  } else if (wg == 0) {
    // Producer: warp pw gathers tile rows [32 pw, 32 pw + 32); lane l looks up the cache row of key
    // 32 pw + l (page table, one division) and the warp shares it by shuffle. Rows past the
    // sequence are zero-filled. Each thread signals a stage full only after its own copies landed
    // and a proxy fence (wgmma reads through the async proxy); it keeps 2 tiles in flight.
    sm90::setmaxnreg_dec<56>();
    const int pw = tid / 32, lane = tid % 32;
    const int32_t* bt = p.block_table + int64_t(w.b) * p.max_pages;
    const int P = p.page_size;
    const int64_t row_bytes = int64_t(p.num_kv_heads) * RB;
    const char* kbase = static_cast<const char*>(p.k) + w.kvh * RB;
    const char* vbase = static_cast<const char*>(p.v) + w.kvh * RB;
    auto row_of = [&](int key) -> int { return key < w.kv_len ? bt[key / P] * P + key % P : -1; };
    const int c = lane % (D / 8), rsub = lane / (D / 8);  // before the loop: see sm90_gather_rows
    auto issue = [&](const char* gbase, uint32_t tile, int row, int nvalid) {
      if constexpr (RUNS)
        sm90_gather_runs<D, BN>(gbase, row_bytes, tile, row, pw, c, rsub, nvalid);
      else
        sm90_gather_rows<D, BN>(gbase, row_bytes, tile, row, pw, c, rsub);
    };
    int row_cur = w.n_tiles > 0 ? row_of(pw * 32 + lane) : -1;
    for (int j = 0; j < w.n_tiles; ++j) {
      const int s = j % S;
      const uint32_t ph = (j / S) & 1;
      const int nvalid = w.kv_len - (j * BN + pw * 32);  // rows of this warp in the sequence
      sm90::mbar_wait(ring.empty_k(s), ph ^ 1);
      issue(kbase, sK + s * Tr::TILE_BYTES, row_cur, nvalid);
      dev::cp_async_commit();
      const int row_next = j + 1 < w.n_tiles ? row_of((j + 1) * BN + pw * 32 + lane) : -1;
      if (j > 0) {  // groups ..., K(j-1), V(j-1), K(j): K(j-1) has landed
        dev::cp_async_wait<2>();
        sm90::fence_proxy_async();
        sm90::mbar_arrive(ring.full_k((j - 1) % S));
      }
      sm90::mbar_wait(ring.empty_v(s), ph ^ 1);
      issue(vbase, sV + s * Tr::TILE_BYTES, row_cur, nvalid);
      dev::cp_async_commit();
      if (j > 0) {
        dev::cp_async_wait<2>();
        sm90::fence_proxy_async();
        sm90::mbar_arrive(ring.full_v((j - 1) % S));
      }
      row_cur = row_next;
    }
    if (w.n_tiles > 0) {
      dev::cp_async_wait<1>();
      sm90::fence_proxy_async();
      sm90::mbar_arrive(ring.full_k((w.n_tiles - 1) % S));
      dev::cp_async_wait<0>();
      sm90::fence_proxy_async();
      sm90::mbar_arrive(ring.full_v((w.n_tiles - 1) % S));
    }
  } else {
    sm90::setmaxnreg_inc<224>();
    const int cw = wg - 1;  // consumer warpgroup: rows [64 cw, 64 cw + 64) of the tile
    const int ct = tid - 128 * wg;
    const int warp = ct / 32, lane = ct % 32, g = lane / 4, t4 = lane % 4;

    {  // Q rows of this warpgroup
      sm90_q_issue<T, D, BM>(p, w, sQ, cw, ct);
      dev::cp_async_wait<0>();
      sm90::fence_proxy_async();
      sm90::named_bar_sync(1 + cw, 128);
    }

    // This thread's rows (accumulator layout): lo = 16 warp + g, hi = lo + 8; columns 8 i + 2 t4 + {0, 1}.
    const int rho_lo = w.row0 + cw * 64 + warp * 16 + g, rho_hi = rho_lo + 8;
    const Sm90RowLimits lim = sm90_row_limits(p, w, rho_lo, w.row0 + cw * 64);
    const float sl2 = p.scale_log2;

    // Q descriptor of k-step 0; k-step ks adds (ks / 4) column blocks and (ks % 4) * 32 bytes.
    const uint64_t dq0 = sm90::desc_sw128(sQ + cw * 64 * 128, 16, 1024);
    const uint64_t dk0 = sm90::desc_sw128(sK, 16, 1024);
    const uint64_t dv0 = sm90::desc_sw128(sV, BN * 128, 1024);
    auto qk_issue = [&](float* s, int st) { sm90_qk_issue<T, D, BM, BN, Tr::TILE_BYTES>(s, st, dq0, dk0); };
    float o[D / 2];
#pragma unroll
    for (int i = 0; i < D / 2; ++i) o[i] = 0.0f;
    uint32_t pk[BN / 16][4];  // P packed to 16 bits in the wgmma A-register layout
    auto pv_issue = [&](int st) { sm90_pv_issue<T, D, BN, Tr::TILE_BYTES>(o, pk, st, dv0); };

    float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};
    float alpha[2] = {1.0f, 1.0f};
    auto softmax = [&](float* s, int j) { sm90_softmax<BN>(s, j, lim, t4, sl2, m_run, l_run, alpha); };
    auto rescale = [&]() { sm90_rescale<D>(o, alpha); };
    auto pack = [&](const float* s) { sm90_pack<T, BN>(s, pk); };
    auto fence_s = [&](float* s) { sm90_fence_s<BN>(s); };
    auto fence_o_pk = [&]() { sm90_fence_o_pk<D, BN>(o, pk); };

    float s[BN / 2];
    if constexpr (!OVERLAP) {
      for (int j = 0; j < w.n_tiles; ++j) {
        const int st = j % S;
        const uint32_t ph = (j / S) & 1;
        sm90::mbar_wait(ring.full_k(st), ph);
        qk_issue(s, st);
        sm90::wgmma_wait<0>();
        fence_s(s);
        sm90::mbar_arrive(ring.empty_k(st));
        softmax(s, j);
        rescale();
        pack(s);
        sm90::mbar_wait(ring.full_v(st), ph);
        pv_issue(st);
        sm90::wgmma_wait<0>();
        fence_o_pk();
        sm90::mbar_arrive(ring.empty_v(st));
      }
    } else if (w.n_tiles > 0) {
      sm90::mbar_wait(ring.full_k(0), 0);
      qk_issue(s, 0);
      sm90::wgmma_wait<0>();
      fence_s(s);
      sm90::mbar_arrive(ring.empty_k(0));
      softmax(s, 0);
      pack(s);
      for (int j = 1; j < w.n_tiles; ++j) {
        const int st = j % S, pst = (j - 1) % S;
        sm90::mbar_wait(ring.full_k(st), (j / S) & 1);
        qk_issue(s, st);
        sm90::mbar_wait(ring.full_v(pst), ((j - 1) / S) & 1);
        pv_issue(pst);
        sm90::wgmma_wait<1>();  // Q K^T of tile j done; P V of tile j - 1 still in flight
        fence_s(s);
        sm90::mbar_arrive(ring.empty_k(st));
        softmax(s, j);
        sm90::wgmma_wait<0>();
        fence_o_pk();
        sm90::mbar_arrive(ring.empty_v(pst));
        rescale();
        pack(s);
      }
      const int lst = (w.n_tiles - 1) % S;
      sm90::mbar_wait(ring.full_v(lst), ((w.n_tiles - 1) / S) & 1);
      pv_issue(lst);
      sm90::wgmma_wait<0>();
      fence_o_pk();
      sm90::mbar_arrive(ring.empty_v(lst));
    }

#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float l = l_run[h];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      prefill_store_row<T, D>(p, w, h == 0 ? rho_lo : rho_hi, l, m_run[h], t4,
                              [&](int c) { return make_float2(o[4 * c + 2 * h], o[4 * c + 2 * h + 1]); });
    }
  }
#endif
}

}  // namespace pagoda::cuda
