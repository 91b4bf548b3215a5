// How the Hopper prefill kernels (flash_prefill_sm90.cuh and its ping-pong form) fill their K/V
// tiles: the 128-byte swizzle layout wgmma reads, the cp.async gathers (rows: any page size; runs:
// 16 | P), and the TMA producer. TMA: one thread loads a whole K or V tile as one tensor-map box per
// page and 64-column block, landing directly in that layout, and signals the stage by mbarrier
// transaction bytes. The tile holding a sequence's last key goes through the cp.async gather
// instead (zero rows past kv_len; block-table entries past the last page are never read). Can serve
// page sizes P with P % 8 == 0 and P | 128 or 128 | P (prefill_tma_page_ok); the launcher picks it
// for P = 64 and multiples of 128 (at P 16 and 32 the cp.async run gather measured faster); sm_90a
// only.
#pragma once

#include <cuda.h>

#include "backend/cuda/attention/attention_params.hpp"
#include "backend/cuda/device_utils.cuh"
#include "backend/cuda/attention/flash_prefill_work.cuh"
#include "backend/cuda/attention/wgmma_sm90.cuh"

namespace pagoda::cuda {

// Byte offset of 16-byte chunk c (of D / 8) of row r in an R-row tile stored as D / 64 column blocks
// of [R][128 bytes], chunks XOR-swizzled by row % 8: the wgmma 128-byte swizzle layout.
template <int R>
__device__ __forceinline__ uint32_t sw128(int r, int c) {
  return uint32_t((c >> 3) * (R * 128) + r * 128 + (((c & 7) ^ (r & 7)) << 4));
}

// cp.async gather of tile rows [32 pw, 32 pw + 32) of an R-row K or V tile by warp pw: lane l holds
// the cache row of tile row 32 pw + l (-1: past the sequence, zero-filled) and the warp shares it by
// shuffle; row_bytes is the cache's row pitch (Hkv * D * 2), gbase the KV head's first element.
// c = lane % (D / 8), rsub = lane / (D / 8): the lane's 16-byte chunk and row within one instruction's
// rows, split by the caller before its tile loop (split in here, the one-work kernel's producer was
// scheduled differently and measured 1.4-2% slower at 4k-8k; attention_notes.md, 31).
// UNROLL 1 for a rarely taken path: unrolled, the compiler hoists every iteration's offsets out of
// the caller's loop (registers the 56-register TMA producer does not have).
template <int D, int R, int UNROLL = 32>
__device__ __forceinline__ void sm90_gather_rows(const char* gbase, int64_t row_bytes, uint32_t tile, int row, int pw,
                                                 int c, int rsub) {
  constexpr int RPI = 32 / (D / 8);  // rows one warp instruction covers
  constexpr int ITERS = 32 / RPI;    // instructions per warp per tile
#pragma unroll UNROLL
  for (int i = 0; i < ITERS; ++i) {
    const int r = i * RPI + rsub;
    const int rr = __shfl_sync(0xffffffffu, row, r);
    const bool ok = rr >= 0;
    const char* src = gbase + (ok ? int64_t(rr) * row_bytes : int64_t(0)) + c * 16;
    dev::cp_async_16(tile + sw128<R>(pw * 32 + r, c), src, ok ? 16 : 0);
  }
}
// The same by lane (the ping-pong producer and the TMA tail tile; their SASS is unchanged by the split).
template <int D, int R, int UNROLL = 32>
__device__ __forceinline__ void sm90_gather_rows(const char* gbase, int64_t row_bytes, uint32_t tile, int row, int pw,
                                                 int lane) {
  sm90_gather_rows<D, R, UNROLL>(gbase, row_bytes, tile, row, pw, lane % (D / 8), lane / (D / 8));
}

// Page sizes the run gather serves (the launcher's RUNS kernels).
constexpr bool prefill_runs_page_ok(int P) { return P > 0 && P % 16 == 0; }

// The gather when 16 | P: warp pw's 32 rows are two runs of 16 consecutive cache rows (run starts are
// multiples of 16, so a run never leaves its page), and the lane's addresses are a run's first row
// plus a constant stride: two shuffles (lanes 0 and 16) instead of a shuffle and a 64-bit multiply
// per instruction. nvalid: rows of the warp's 32 inside the sequence (rows past it are zero-filled;
// a run with none reads from row 0, never its block-table entry). Same layout as sm90_gather_rows.
template <int D, int R>
__device__ __forceinline__ void sm90_gather_runs(const char* gbase, int64_t row_bytes, uint32_t tile, int row, int pw,
                                                 int c, int rsub, int nvalid) {
  constexpr int RPI = 32 / (D / 8);
  constexpr int ITERS = 32 / RPI, PER_RUN = ITERS / 2;
  static_assert(32 % (D / 8) == 0 && 16 % RPI == 0, "a run must be whole instructions");
  const int r0 = max(__shfl_sync(0xffffffffu, row, 0), 0), r1 = max(__shfl_sync(0xffffffffu, row, 16), 0);
  const int64_t step = RPI * row_bytes;
  const char* src = gbase + int64_t(r0 + rsub) * row_bytes + c * 16;
  // The swizzle repeats every 8 rows: SW lane offsets plus immediates instead of one per copy.
  constexpr int SW = RPI < 8 ? 8 / RPI : 1;
  uint32_t sw[SW];
#pragma unroll
  for (int k = 0; k < SW; ++k) sw[k] = sw128<R>(pw * 32 + k * RPI + rsub, c);
#pragma unroll
  for (int i = 0; i < ITERS; ++i) {
    if (i == PER_RUN) src = gbase + int64_t(r1 + rsub) * row_bytes + c * 16;
    dev::cp_async_16(tile + sw[i % SW] + (i / SW) * (SW * RPI * 128), src, i * RPI + rsub < nvalid ? 16 : 0);
    src += step;
  }
}

// The K and V caches seen as 3D tensors {D, Hkv, num_pages * P} (innermost first), box
// {64, 1, min(P, 128)}, 128-byte swizzle. Passed as a __grid_constant__ kernel parameter: TMA reads
// the map from parameter space by its address.
struct PrefillTmaMaps {
  CUtensorMap k;
  CUtensorMap v;
};

// Page sizes the TMA path serves: every box starts at a tile row that is a multiple of 8 (so at a
// 1024-byte aligned address, where the TMA swizzle pattern equals sw128), and a box never crosses
// a page: P divides the 128-key tile (8 .. 128) or the tile divides P.
constexpr bool prefill_tma_page_ok(int P, int BN) { return P > 0 && P % 8 == 0 && (BN % P == 0 || P % BN == 0); }

namespace sm90 {

__device__ __forceinline__ void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
// One box of a 3D tensor map into shared memory at dst; its bytes complete a transaction on bar.
__device__ __forceinline__ void tma_load_3d(uint32_t dst, const CUtensorMap* map, int c0, int c1, int c2,
                                            uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3, %4}], [%5];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
      : "memory");
}
__device__ __forceinline__ void tma_prefetch_map(const CUtensorMap* map) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
}

}  // namespace sm90

// The producer warpgroup's TMA form (all 128 threads construct it and call tile() for every tile
// in order). Full tiles: thread 0 waits for the stage's empty barrier, announces the tile's bytes
// and warp 0 hands it the page ids (lane i holds box i's page); the other warps do nothing. The
// tail tile (one past kv_len): the four warps gather it with cp.async as the cp.async producer
// does, after a producer-only named barrier tells them the stage is free; thread 0 signals the
// stage (full barriers count one arrival in this form).
template <int D, int BN>
struct PrefillTmaProducer {
  static constexpr int TILE_BYTES = BN * D * 2;
  static constexpr int BAR_ID = 5;  // named barrier of the producer warpgroup (consumers use 1-4)
  const AttentionParams& p;
  const PrefillTmaMaps& maps;
  int tid;

  __device__ PrefillTmaProducer(const AttentionParams& p_, const PrefillTmaMaps& maps_, int tid_)
      : p(p_), maps(maps_), tid(tid_) {
    if (tid == 0) {
      sm90::tma_prefetch_map(&maps.k);
      sm90::tma_prefetch_map(&maps.v);
    }
  }
  __device__ int lane() const { return tid % 32; }
  __device__ int pw() const { return tid / 32; }
  __device__ int box_rows() const { return min(p.page_size, BN); }  // rows per box
  __device__ int boxes() const { return BN / box_rows(); }          // boxes per column block of a tile

  // Cache row (page * P + offset) of box `lane` of tile j; warp 0 only, lanes past the boxes idle.
  __device__ int box_row(const PrefillWork& w, int j) const {
    if (lane() >= boxes()) return 0;
    const int key = j * BN + lane() * box_rows();
    const int32_t* bt = p.block_table + int64_t(w.b) * p.max_pages;
    return bt[key / p.page_size] * p.page_size + key % p.page_size;
  }

  // Thread 0 owns the stage once its empty barrier is passed; warp 0 stays converged.
  __device__ void full_tile(const CUtensorMap* map, uint32_t tile, uint32_t full, uint32_t empty, uint32_t parity,
                            int kvh, int row) const {
    if (pw() != 0) return;
    const int lane = this->lane(), box_rows = this->box_rows(), boxes = this->boxes();
    if (lane == 0) {
      sm90::mbar_wait(empty, parity);
      sm90::mbar_arrive_expect_tx(full, TILE_BYTES);
    }
    for (int i = 0; i < boxes; ++i) {
      const int r = __shfl_sync(0xffffffffu, row, i);
      if (lane == 0) {
#pragma unroll
        for (int cb = 0; cb < D / 64; ++cb)
          sm90::tma_load_3d(tile + cb * BN * 128 + i * box_rows * 128, map, cb * 64, kvh, r, full);
      }
    }
    __syncwarp();
  }

  // The tail tile: keys past kv_len are zero rows (0 * NaN in P V would poison the output).
  __device__ void tail_tile(const char* gbase, uint32_t tile, uint32_t full, uint32_t empty, uint32_t parity,
                            const PrefillWork& w, int j) const {
    if (tid == 0) sm90::mbar_wait(empty, parity);
    __syncwarp();  // bar.sync wants the warp converged
    sm90::named_bar_sync(BAR_ID, 128);
    const int32_t* bt = p.block_table + int64_t(w.b) * p.max_pages;
    const int key = j * BN + tid;
    const int row = key < w.kv_len ? bt[key / p.page_size] * p.page_size + key % p.page_size : -1;
    sm90_gather_rows<D, BN, 1>(gbase, int64_t(p.num_kv_heads) * D * 2, tile, row, pw(), lane());
    dev::cp_async_commit();
    dev::cp_async_wait<0>();
    sm90::fence_proxy_async();
    sm90::named_bar_sync(BAR_ID, 128);
    if (tid == 0) sm90::mbar_arrive(full);
  }

  // Tile j of work w (K, then V) into ring stage s, whose empty barriers complete phase `parity`.
  __device__ void tile(const PrefillWork& w, int j, uint32_t sk, uint32_t sv, uint32_t full_k, uint32_t full_v,
                       uint32_t empty_k, uint32_t empty_v, uint32_t parity) const {
    if ((j + 1) * BN <= w.kv_len) {
      const int row = pw() == 0 ? box_row(w, j) : 0;
      full_tile(&maps.k, sk, full_k, empty_k, parity, w.kvh, row);
      full_tile(&maps.v, sv, full_v, empty_v, parity, w.kvh, row);
    } else {
      tail_tile(static_cast<const char*>(p.k) + w.kvh * D * 2, sk, full_k, empty_k, parity, w, j);
      tail_tile(static_cast<const char*>(p.v) + w.kvh * D * 2, sv, full_v, empty_v, parity, w, j);
    }
  }
};

}  // namespace pagoda::cuda
