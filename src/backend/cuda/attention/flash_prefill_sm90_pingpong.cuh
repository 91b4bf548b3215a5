// FlashAttention prefill for Hopper (sm_90a), persistent ping-pong form of flash_prefill_sm90.cuh
// (same tiles, producer and results contract). The grid is at most one CTA per SM, carrying a 3-stage
// K/V ring across works; each consumer warpgroup loads its next work's Q rows right after its last
// Q K^T. The two consumer warpgroups take turns (named barriers) to issue P V of tile j - 1 and Q K^T
// of tile j, so one warpgroup's GEMMs run while the other's softmax does. Works: with the TMA producer
// CTA c starts with work c and takes each next one from the dynamic work queue
// (flash_prefill_sm90_queue.cuh: claimed as the producer starts a work's last tile, handed to every
// warp through shared memory); with the cp.async producer CTA c runs works c, c + grid, ... in the
// order a full grid would launch them (a static stride): there the queue measured 1-10% slower, its
// per-work code costing the 56-register gather its schedule (dev/kernels/attention_notes.md 20, 34).
// Chosen for short query lengths; sm_90a only (empty elsewhere).
#pragma once

#include <cfloat>
#include <type_traits>

#include "backend/cuda/attention/flash_prefill_sm90.cuh"
#include "backend/cuda/attention/flash_prefill_sm90_queue.cuh"

namespace pagoda::cuda {

// A third stage: with the warpgroups half a period apart a stage is freed only when the later one is
// done with it, and two stages left the earlier one waiting on the refill (v19).
constexpr int PREFILL_SM90_PINGPONG_STAGES = 3;
// Work slots of the queue's shared-memory ring: the producer may run this many works ahead of the
// consumers' Q loads (one-tile works at short lengths).
constexpr int PREFILL_SM90_PINGPONG_WORK_SLOTS = 4;
// The queue's work order: tile-major measured 2-7% ahead of head-major at 1k-2k (H200, notes 34).
constexpr int PREFILL_SM90_WORK_ORDER = PREFILL_WORK_ORDER_TILE_MAJOR;

// QUEUE: works from the dynamic queue, whose shared memory follows the ring's barriers, and the
// kernel's work argument is the workspace's counters; otherwise the static stride, and it is the
// row-tile count per (KV head, sequence).
template <int D, bool QUEUE>
struct PrefillPingpongTraits : PrefillSm90Traits<D, PREFILL_SM90_PINGPONG_STAGES> {
  using Base = PrefillSm90Traits<D, PREFILL_SM90_PINGPONG_STAGES>;
  using Queue = PrefillWorkQueue<Base::BM, PREFILL_SM90_PINGPONG_WORK_SLOTS>;
  using WorkArg = std::conditional_t<QUEUE, int*, int>;
  static constexpr int QUEUE_OFF = Base::BAR_OFF + 4 * Base::STAGES * 8;
  static constexpr int SMEM_BYTES = Base::SMEM_BYTES + (QUEUE ? Queue::BYTES : 0);
  static_assert(QUEUE_OFF % 16 == 0 && SMEM_BYTES <= 227 * 1024, "queue placement");
};

// TMA, RUNS: as flash_prefill_sm90_kernel's; TMA also picks the work source (QUEUE = TMA, measured in
// notes 34; the run gather lost 2-6% at 1k-2k with the queue, notes 36). work: the queue's counters
// (PREFILL_SM90_WORK_COUNTERS int32 of the caller's workspace, zero at launch and left zero), or the
// static stride's row tiles per (KV head, sequence).
template <typename T, int D, bool TMA, bool RUNS = false>
__global__ void __launch_bounds__(384, 1)
    flash_prefill_sm90_pingpong_kernel(const AttentionParams p,
                                       const typename PrefillPingpongTraits<D, TMA>::WorkArg work,
                                       const __grid_constant__ PrefillTmaMaps maps) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr bool QUEUE = TMA;
  using Tr = PrefillPingpongTraits<D, QUEUE>;
  constexpr int BM = Tr::BM, BN = Tr::BN, S = Tr::STAGES, RB = D * 2;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t base = (dev::smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t sQ = base, sK = base + Tr::K_OFF, sV = base + Tr::V_OFF, bars = base + Tr::BAR_OFF;
  const Sm90RingBarriers<S> ring{bars};
  // The ring position of the it-th tile this CTA streams (counted over all its works).
  auto slot = [](int it) { return it % S; };
  auto phase = [](int it) { return uint32_t(it / S) & 1u; };

  // Static stride. The launcher keeps the work count below 2^30, so work indices are 32-bit (cheap
  // divisions).
  int m_blocks = 1;
  if constexpr (!QUEUE) m_blocks = work;
  const int n_works = m_blocks * p.num_kv_heads * p.num_seqs;
  // Issues the metadata loads of work idx (row tiles fastest, heaviest first).
  auto work_load = [&](int idx, PrefillWorkRaw& r) {
    const int rest = idx / m_blocks;
    prefill_work_load(p, m_blocks - 1 - (idx - rest * m_blocks), rest % p.num_kv_heads, rest / p.num_kv_heads, r);
  };
  // Advances idx (by the grid stride) to the next work that holds rows; false when none is left.
  auto work_next = [&](int& idx, PrefillWork& w) {
    for (; idx < n_works; idx += gridDim.x) {
      PrefillWorkRaw r;
      work_load(idx, r);
      if (prefill_work_finish<BM, BN>(p, r, w)) return true;
    }
    return false;
  };

  const int tid = threadIdx.x;
  const int wg = tid / 128;

  // Queue: producer warp 0 publishes the works (slot k holds the CTA's k-th work, the first being
  // blockIdx.x); every warp receives each of them in turn. Thread 0 claims the next work as it starts
  // this work's last tile (or at once if it has none), so the number is back before the consumers
  // need it and a CTA claims only when it is nearly free.
  const typename Tr::Queue queue{base + Tr::QUEUE_OFF};
  PrefillWorkClaimer claimer;
  auto publish = [&](int k) {
    if constexpr (QUEUE) {
      if (tid < 32)
        claimer.publish<PREFILL_SM90_WORK_ORDER>(p, queue, work, k == 0 ? int(blockIdx.x) : claimer.claimed_work(queue),
                                                  k);
    }
  };
  auto claim_now = [&](const PrefillWork& w, int j) { return tid == 0 && j == max(w.n_tiles - 1, 0); };

  if (tid == 0) {
    ring.init(TMA ? 1 : 128);
    if constexpr (QUEUE) queue.init();
  }
  __syncthreads();

  if (wg == 0 && TMA) {
    if constexpr (QUEUE) {
      sm90::setmaxnreg_dec<56>();
      const PrefillTmaProducer<D, BN> prod(p, maps, tid);
      int it = 0, k = 0;
      PrefillWork w;
      publish(0);
      while (queue.template receive<BN>(p, k, w)) {
        if (w.n_tiles == 0 && claim_now(w, 0)) {
          claimer.claim(work);
          claimer.stash(queue);
        }
        for (int j = 0; j < w.n_tiles; ++j, ++it) {
          if (claim_now(w, j)) claimer.claim(work);
          const int s = slot(it);
          prod.tile(w, j, sK + s * Tr::TILE_BYTES, sV + s * Tr::TILE_BYTES, ring.full_k(s), ring.full_v(s),
                    ring.empty_k(s), ring.empty_v(s), phase(it) ^ 1);
          if (claim_now(w, j)) claimer.stash(queue);
        }
        publish(++k);
      }
    }
  } else if (wg == 0) {
    // Producer: warp pw gathers tile rows [32 pw, 32 pw + 32); lane l looks up the cache row of key
    // 32 pw + l (page table, one division) and the warp shares it by shuffle. Rows past the
    // sequence are zero-filled. Each thread signals a stage full only after its own copies landed
    // and a proxy fence (wgmma reads through the async proxy); it keeps 2 tiles in flight, also
    // across works (the previous tile's signal is deferred until the next tile is issued).
    sm90::setmaxnreg_dec<56>();
    const int pw = tid / 32, lane = tid % 32;
    const int P = p.page_size;
    const int64_t row_bytes = int64_t(p.num_kv_heads) * RB;
    auto issue = [&](const char* gbase, uint32_t tile, int row, int nvalid) {
      if constexpr (RUNS)
        sm90_gather_runs<D, BN>(gbase, row_bytes, tile, row, pw, lane % (D / 8), lane / (D / 8), nvalid);
      else
        sm90_gather_rows<D, BN>(gbase, row_bytes, tile, row, pw, lane);
    };
    int it = 0;
    int pending = -1;  // ring slot of the issued tile whose full signals are still owed
    PrefillWork w;
    for (int idx = blockIdx.x; work_next(idx, w); idx += gridDim.x) {
      const int32_t* bt = p.block_table + int64_t(w.b) * p.max_pages;
      const char* kbase = static_cast<const char*>(p.k) + w.kvh * RB;
      const char* vbase = static_cast<const char*>(p.v) + w.kvh * RB;
      auto row_of = [&](int key) -> int { return key < w.kv_len ? bt[key / P] * P + key % P : -1; };
      int row_cur = w.n_tiles > 0 ? row_of(pw * 32 + lane) : -1;
      for (int j = 0; j < w.n_tiles; ++j, ++it) {
        const int s = slot(it);
        const int nvalid = w.kv_len - (j * BN + pw * 32);  // rows of this warp in the sequence
        sm90::mbar_wait(ring.empty_k(s), phase(it) ^ 1);
        issue(kbase, sK + s * Tr::TILE_BYTES, row_cur, nvalid);
        dev::cp_async_commit();
        const int row_next = j + 1 < w.n_tiles ? row_of((j + 1) * BN + pw * 32 + lane) : -1;
        if (pending >= 0) {  // groups ..., K(it-1), V(it-1), K(it): K(it-1) has landed
          dev::cp_async_wait<2>();
          sm90::fence_proxy_async();
          sm90::mbar_arrive(ring.full_k(pending));
        }
        sm90::mbar_wait(ring.empty_v(s), phase(it) ^ 1);
        issue(vbase, sV + s * Tr::TILE_BYTES, row_cur, nvalid);
        dev::cp_async_commit();
        if (pending >= 0) {
          dev::cp_async_wait<2>();
          sm90::fence_proxy_async();
          sm90::mbar_arrive(ring.full_v(pending));
        }
        pending = s;
        row_cur = row_next;
      }
    }
    if (pending >= 0) {
      dev::cp_async_wait<1>();
      sm90::fence_proxy_async();
      sm90::mbar_arrive(ring.full_k(pending));
      dev::cp_async_wait<0>();
      sm90::fence_proxy_async();
      sm90::mbar_arrive(ring.full_v(pending));
    }
  } else {
    sm90::setmaxnreg_inc<224>();
    const int cw = wg - 1;  // consumer warpgroup: rows [64 cw, 64 cw + 64) of the tile
    const int ct = tid - 128 * wg;
    const int warp = ct / 32, lane = ct % 32, g = lane / 4, t4 = lane % 4;

    // Q rows of this warpgroup for work w; rows past the end are zero-filled and never written.
    // q_load issues the copies, q_wait makes them visible to this warpgroup's wgmma.
    auto q_load = [&](const PrefillWork& w) { sm90_q_issue<T, D, BM>(p, w, sQ, cw, ct); };
    auto q_wait = [&]() {
      dev::cp_async_wait<0>();
      sm90::fence_proxy_async();
      sm90::named_bar_sync(1 + cw, 128);
    };
    // Ping-pong issue turns: warpgroup cw waits on barrier 3 + cw, then hands the turn to the other.
    auto turn_wait = [&]() { sm90::named_bar_sync(3 + cw, 256); };
    auto turn_pass = [&]() { sm90::named_bar_arrive(4 - cw, 256); };

    const float sl2 = p.scale_log2;
    // Q descriptor of k-step 0; k-step ks adds (ks / 4) column blocks and (ks % 4) * 32 bytes.
    const uint64_t dq0 = sm90::desc_sw128(sQ + cw * 64 * 128, 16, 1024);
    const uint64_t dk0 = sm90::desc_sw128(sK, 16, 1024);
    const uint64_t dv0 = sm90::desc_sw128(sV, BN * 128, 1024);
    auto qk_issue = [&](float* s, int st) { sm90_qk_issue<T, D, BM, BN, Tr::TILE_BYTES>(s, st, dq0, dk0); };
    float o[D / 2];
    uint32_t pk[BN / 16][4];  // P packed to 16 bits in the wgmma A-register layout
    auto pv_issue = [&](int st) { sm90_pv_issue<T, D, BN, Tr::TILE_BYTES>(o, pk, st, dv0); };
    auto fence_s = [&](float* s) { sm90_fence_s<BN>(s); };
    auto fence_o_pk = [&]() { sm90_fence_o_pk<D, BN>(o, pk); };
    auto pack = [&](const float* s) { sm90_pack<T, BN>(s, pk); };

    int it = 0;  // tiles consumed, over all works (ring position)
    PrefillWork w;
    int idx = blockIdx.x;  // static stride
    int k = 0;             // queue: works received
    bool have;
    if constexpr (QUEUE)
      have = queue.template receive<BN>(p, k++, w);
    else
      have = work_next(idx, w);
    if (have) q_load(w);
    if (cw == 1) turn_pass();  // warpgroup 0 issues first
    float s[BN / 2];
    while (have) {
      q_wait();
      // The next work (static stride: its metadata loads are issued now and used once this work's
      // last Q K^T is done, so the trip is off the critical path; queue: received then, the producer
      // having published it after issuing that tile); then its Q rows load.
      int idx_n = idx + gridDim.x;
      PrefillWorkRaw raw_n;
      if constexpr (!QUEUE) {
        if (idx_n < n_works) work_load(idx_n, raw_n);
      }
      PrefillWork wn;
      bool have_n = false;
      bool q_next_issued = false;
      auto q_next = [&]() {
        if constexpr (QUEUE) {
          have_n = queue.template receive<BN>(p, k++, wn);
        } else if (idx_n < n_works) {
          have_n = prefill_work_finish<BM, BN>(p, raw_n, wn);
          if (!have_n) {
            idx_n += gridDim.x;
            have_n = work_next(idx_n, wn);
          }
        }
        if (have_n) {
          // Every warp's Q K^T reads all 64 rows of this warpgroup's Q: all four must be done.
          sm90::named_bar_sync(1 + cw, 128);
          q_load(wn);
        }
        q_next_issued = true;
      };

      // This thread's rows (accumulator layout): lo = 16 warp + g, hi = lo + 8; columns 8 i + 2 t4 + {0, 1}.
      const int rho_lo = w.row0 + cw * 64 + warp * 16 + g, rho_hi = rho_lo + 8;
      const Sm90RowLimits lim = sm90_row_limits(p, w, rho_lo, w.row0 + cw * 64);

#pragma unroll
      for (int i = 0; i < D / 2; ++i) o[i] = 0.0f;
      float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};
      float alpha[2] = {1.0f, 1.0f};
      auto softmax = [&](float* s, int j) { sm90_softmax<BN>(s, j, lim, t4, sl2, m_run, l_run, alpha); };
      auto rescale = [&]() { sm90_rescale<D>(o, alpha); };

      const int n = w.n_tiles;
      // Step j issues P V of tile j - 1 (if any) and Q K^T of tile j (if any) in one turn.
      for (int j = 0; j <= n && n > 0; ++j) {
        turn_wait();
        if (j > 0) {
          sm90::mbar_wait(ring.full_v(slot(it + j - 1)), phase(it + j - 1));
          pv_issue(slot(it + j - 1));
        }
        if (j < n) {
          sm90::mbar_wait(ring.full_k(slot(it + j)), phase(it + j));
          qk_issue(s, slot(it + j));
        }
        turn_pass();
        sm90::wgmma_wait<0>();
        if (j > 0) {
          fence_o_pk();
          sm90::mbar_arrive(ring.empty_v(slot(it + j - 1)));
        }
        if (j < n) {
          fence_s(s);
          sm90::mbar_arrive(ring.empty_k(slot(it + j)));
          if (j == n - 1) q_next();
          softmax(s, j);
          rescale();
          pack(s);
        }
      }
      it += n;
      if (!q_next_issued) q_next();

#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float l = l_run[h];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        prefill_store_row<T, D>(p, w, h == 0 ? rho_lo : rho_hi, l, m_run[h], t4,
                                [&](int c) { return make_float2(o[4 * c + 2 * h], o[4 * c + 2 * h + 1]); });
      }
      w = wn;
      idx = idx_n;
      have = have_n;
    }
    if (cw == 0) turn_wait();  // takes warpgroup 1's last pass, so no arrival is left on barrier 3
  }
#endif
}

}  // namespace pagoda::cuda
