// The dynamic work queue of the persistent Hopper prefill kernel (flash_prefill_sm90_pingpong.cuh,
// its TMA form). Works are the (row tile, KV head, sequence) triples that hold query rows, numbered
// densely: sequence slowest, then within a sequence by the order publish() is given (heaviest row
// tiles first either way). CTA c starts with work c; every later work comes from a global counter
// (gridDim.x + atomic add), so a CTA that finishes early takes more works instead of the static
// stride's fixed share. One producer warp claims, decodes the number against the sequences' lengths
// and hands each work to all 12 warps of the CTA through a ring of shared-memory slots (full / empty
// mbarriers). The counter sits in the caller's workspace: zero before a launch, and the last CTA out
// leaves it zero again (a done count), so launches on one stream, graph-captured or not, need no reset
// between them. Two launches that may run at the same time need two workspaces. sm_90a only.
#pragma once

#include "backend/cuda/attention/attention_params.hpp"
#include "backend/cuda/attention/flash_prefill_work.cuh"
#include "backend/cuda/attention/wgmma_sm90.cuh"

namespace pagoda::cuda {

// Work orders inside a sequence. HEAD_MAJOR: KV head slower, row tiles heaviest first within each head
// (the one-work kernel's grid order: co-running CTAs share a KV head in L2). TILE_MAJOR: row tile
// slower, heaviest first over all KV heads (longest-processing-time first: the tightest tail).
constexpr int PREFILL_WORK_ORDER_HEAD_MAJOR = 0;
constexpr int PREFILL_WORK_ORDER_TILE_MAJOR = 1;

namespace sm90 {
__device__ __forceinline__ int4 ld_shared_v4(uint32_t addr) {
  int4 v;
  asm volatile("ld.shared.v4.s32 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "r"(addr)
               : "memory");
  return v;
}
__device__ __forceinline__ void st_shared_v4(uint32_t addr, int4 v) {
  asm volatile("st.shared.v4.s32 [%0], {%1, %2, %3, %4};\n" ::"r"(addr), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w)
               : "memory");
}
}  // namespace sm90

// Shared-memory part at `base` (16-byte aligned; shared-window addresses, one register): NW slots of
// one PrefillWorkRaw each (two int4), the claiming warp's cache of 32 sequences (inclusive work
// prefix, q_begin, q_end, kv_len per lane), where it stands and the pending claim (in shared memory,
// not registers: the 56-register producer warpgroup), NW full and NW empty barriers. Every warp reads
// every slot, so an empty barrier counts the CTA's 12 warps.
template <int BM, int NW>
struct PrefillWorkQueue {
  static constexpr int SLOT_BYTES = 32;
  static constexpr int CACHE_OFF = NW * SLOT_BYTES;
  static constexpr int STATE_OFF = CACHE_OFF + 32 * 16;  // seq0, work0, chunk_end
  static constexpr int CLAIM_OFF = STATE_OFF + 16;       // the claimed number (thread 0's alone)
  static constexpr int BAR_OFF = CLAIM_OFF + 16;
  static constexpr int BYTES = BAR_OFF + 2 * NW * 8;
  static constexpr int WARPS = 12;

  uint32_t base;

  __device__ __forceinline__ uint32_t full(int k) const { return base + BAR_OFF + 8 * (k % NW); }
  __device__ __forceinline__ uint32_t empty(int k) const { return base + BAR_OFF + 8 * (NW + k % NW); }
  __device__ __forceinline__ uint32_t slot(int k) const { return base + (k % NW) * SLOT_BYTES; }
  __device__ __forceinline__ uint32_t cache(int lane) const { return base + CACHE_OFF + 16 * lane; }
  // The cached sequences: seq0 .. seq0 + 31, their works numbered from work0 up to chunk_end.
  __device__ __forceinline__ uint32_t state() const { return base + STATE_OFF; }
  // The counter value of the last claim.
  __device__ __forceinline__ uint32_t claimed() const { return base + CLAIM_OFF; }

  // By one thread, before a CTA barrier.
  __device__ __forceinline__ void init() const {
    for (int i = 0; i < NW; ++i) {
      sm90::mbar_init(full(i), 1);
      sm90::mbar_init(empty(i), WARPS);
    }
    sm90::st_shared_v4(state(), make_int4(-32, 0, 0, 0));  // nothing cached yet
  }

  // Work k of this CTA (k = 0, 1, ...), by every lane of a warp; false: no works are left. The warp's
  // lane 0 frees the slot once all its lanes have read it.
  template <int BN>
  __device__ __forceinline__ bool receive(const AttentionParams& p, int k, PrefillWork& w) const {
    sm90::mbar_wait(full(k), uint32_t(k / NW) & 1u);
    const int4 a = sm90::ld_shared_v4(slot(k)), b = sm90::ld_shared_v4(slot(k) + 16);
    __syncwarp();
    if (threadIdx.x % 32 == 0) sm90::mbar_arrive(empty(k));
    if (a.z < 0) return false;
    const PrefillWorkRaw r{a.x, a.y, a.z, a.w, b.x, b.y};
    prefill_work_from_raw<BM, BN>(p, r, w);
    return true;
  }
};

// The claiming warp (warp 0 of the producer warpgroup, all 32 lanes).
struct PrefillWorkClaimer {
  int claimed = 0;  // thread 0, from claim() to stash()

  // Thread 0 takes the next work number; the round trip overlaps whatever runs until stash(), which
  // parks it in shared memory (not a register held across the tile loop of the 56-register producer).
  // Inline PTX with an address ptxas cannot prove warp-uniform (threadIdx.y is 0 in this 1D block):
  // otherwise ptxas aggregates the atomic over the warp, and the result's shuffle waits for the round
  // trip at once.
  __device__ __forceinline__ void claim(int* counters) {
    asm volatile("atom.global.add.u32 %0, [%1], 1;\n" : "=r"(claimed) : "l"(counters + threadIdx.y) : "memory");
  }
  template <int BM, int NW>
  __device__ __forceinline__ void stash(const PrefillWorkQueue<BM, NW>& q) const {
    asm volatile("st.shared.s32 [%0], %1;\n" ::"r"(q.claimed()), "r"(claimed) : "memory");
  }
  // The stashed claim as a work number, read by thread 0 (publish() takes lane 0's).
  template <int BM, int NW>
  __device__ __forceinline__ int claimed_work(const PrefillWorkQueue<BM, NW>& q) const {
    int v = 0;
    if (threadIdx.x == 0) asm volatile("ld.shared.s32 %0, [%1];\n" : "=r"(v) : "r"(q.claimed()) : "memory");
    return int(gridDim.x) + v;
  }

  // Decodes dense work idx (lane 0's) and writes it to slot k (the lane holding its sequence writes);
  // past the last work writes the end marker and counts this CTA done (the last one resets the
  // counters).
  template <int ORDER, int BM, int NW>
  __device__ __forceinline__ void publish(const AttentionParams& p, const PrefillWorkQueue<BM, NW>& q, int* counters,
                                          int idx, int k) {
    const int lane = threadIdx.x % 32;
    idx = __shfl_sync(0xffffffffu, idx, 0);
    const int4 st = sm90::ld_shared_v4(q.state());
    int seq0 = st.x, work0 = st.y, chunk_end = st.z;
    if (idx >= chunk_end && seq0 + 32 < p.num_seqs) {
      do {  // the next 32 sequences (claims only grow)
        seq0 += 32;
        work0 = chunk_end;
        const int s = seq0 + lane;
        int4 c = make_int4(0, 0, 0, 0);  // inclusive work prefix, q_begin, q_end, kv_len
        if (s < p.num_seqs) {
          c.y = p.cu_seqlens_q[s];
          c.z = p.cu_seqlens_q[s + 1];
          c.w = p.kv_lens[s];
          c.x = int((int64_t(c.z - c.y) * p.group + BM - 1) / BM) * p.num_kv_heads;
        }
#pragma unroll
        for (int d = 1; d < 32; d *= 2) {
          const int v = __shfl_up_sync(0xffffffffu, c.x, d);
          if (lane >= d) c.x += v;
        }
        sm90::st_shared_v4(q.cache(lane), c);
        chunk_end = work0 + __shfl_sync(0xffffffffu, c.x, 31);
      } while (idx >= chunk_end && seq0 + 32 < p.num_seqs);
      __syncwarp();  // every lane has read the old state
      if (lane == 0) sm90::st_shared_v4(q.state(), make_int4(seq0, work0, chunk_end, 0));
    }
    const bool found = idx < chunk_end;
    const int4 c = sm90::ld_shared_v4(q.cache(lane));
    const unsigned hit = __ballot_sync(0xffffffffu, found && work0 + c.x > idx);
    if (lane == (found ? __ffs(hit) - 1 : 0)) {
      int4 a = make_int4(0, 0, -1, 0), b = make_int4(0, 0, 0, 0);  // b = -1: no works left
      if (found) {
        const int nb = int((int64_t(c.z - c.y) * p.group + BM - 1) / BM);  // row tiles of the sequence
        const int local = idx - (work0 + c.x - nb * p.num_kv_heads);
        if (ORDER == PREFILL_WORK_ORDER_HEAD_MAJOR) {
          a.y = local / nb;
          a.x = nb - 1 - (local - a.y * nb);
        } else {
          a.x = nb - 1 - local / p.num_kv_heads;
          a.y = local % p.num_kv_heads;
        }
        a.z = seq0 + lane;
        a.w = c.y;
        b.x = c.z;
        b.y = c.w;
      }
      sm90::mbar_wait(q.empty(k), (uint32_t(k / NW) & 1u) ^ 1u);
      sm90::st_shared_v4(q.slot(k), a);
      sm90::st_shared_v4(q.slot(k) + 16, b);
      sm90::mbar_arrive(q.full(k));
      if (!found) {
        // Every CTA's claims precede its done count; the last CTA's reset follows all of them.
        __threadfence();
        if (atomicAdd(counters + 1, 1) == int(gridDim.x) - 1) {
          __threadfence();
          atomicExch(counters, 0);
          atomicExch(counters + 1, 0);
        }
      }
    }
    __syncwarp();
  }
};

}  // namespace pagoda::cuda
