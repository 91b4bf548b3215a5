// Flash-Decoding: a few query tokens per sequence against a paged KV. The unit of work is an item:
// one (sequence, KV head, 16-row group, KV split); its 16 rows are packed (token, head-in-group) pairs,
// so one pass over the split's K/V serves the whole query-head group, on the tensor cores (mma.sync
// m16n8k16; rows past the group are zero padding). A warp streams 16-key tiles through a private
// STAGES-deep cp.async ring, so no CTA barrier sits in the main loop and every warp keeps STAGES - 1
// tiles (8 KB each at D = 128) in flight. Three kernels share that loop:
// - flash_decode_kernel (long KV): one CTA of 4 warps per item, warp w takes tiles w, w + 4, ...,
//   and the 4 warps combine in shared memory.
// - flash_decode_pair_kernel (more than 16 rows per KV head: MQA, q_len x G > 16): one CTA per 32-row
//   block, its warps in pairs on shared rings (one warp per 16-row group), so each tile is loaded once
//   for 32 rows instead of once per 16-row CTA.
// - flash_decode_warp_kernel (many short KVs): each warp owns a whole item and writes its result
//   from registers; a CTA is 1-4 independent warps. Short items do not let a CTA ring reach steady
//   state; many small independent warps keep the SM's bytes in flight while others start and end.
// flash_decode_keys.cuh builds a fourth on the split kernel's frame for at most 8 rows per KV head: the same
// walks, rings, combine and merge with K as the mma's M (no 16-row padding), which the planner prefers there.
// Splits of one item merge in the kernel: every split writes a float partial + LSE, and the last to
// arrive (atomic counter, left at zero again) combines them in split order, so the result does not
// depend on arrival order. An item with one active split writes its output directly.
// On sm_90 any may be launched as a programmatic dependent. The warp kernel reads nothing before
// griddepcontrol.wait (the previous kernel in the stream has finished); the split and pair kernels read
// the lengths, the block table and their first K/V tiles older than the step's new tokens before it.
#pragma once

#include "backend/cuda/attention/attention_params.hpp"
#include "backend/cuda/device_utils.cuh"

// Timing probe points for dev/kernels/decode_probe.cu and decode_keys_probe.cu (per-CTA timestamps, defined in
// dev/kernels/decode_probe_common.cuh); compiled out everywhere else.
#ifndef PAGODA_DECODE_PROBE
#define PAGODA_DECODE_PROBE(point)
#endif

namespace pagoda::cuda {

template <int D>
struct DecodeTraits {
  static constexpr int WARPS = 4;
  static constexpr int THREADS = 32 * WARPS;
  static constexpr int ROWS = 16;      // packed query rows per CTA: one mma M tile
  static constexpr int TILE = 16;      // keys per warp tile: one mma K step of P V
  static constexpr int STAGES = 3;     // tiles per warp ring (STAGES - 1 in flight while computing)
  static constexpr int MERGE_BATCH = 32;  // splits whose partials one merge thread loads at once
  static constexpr int WARP_MERGE_BATCH = 8;  // the same in the warp kernel (few splits, registers)
  static constexpr int CHUNKS = D / 8;  // 16-byte chunks per K/V row
  static constexpr int ROWS_PER_PASS = 32 / CHUNKS;
  static constexpr int PASSES = TILE / ROWS_PER_PASS;
  static constexpr int TILE_ELEMS = TILE * D;
  static constexpr int RING_BYTES = STAGES * 2 * TILE_ELEMS * 2;  // one warp's ring: 16-bit K and V
  static constexpr int SMEM_PIPE = WARPS * RING_BYTES;
  static constexpr int COMBINE_STRIDE = D + 8;  // floats per row of the combine's o (bank spread)
  static constexpr int SMEM_COMBINE = WARPS * ROWS * (COMBINE_STRIDE + 2) * 4;  // o, m, l per warp
  static constexpr int SMEM_BYTES = SMEM_PIPE > SMEM_COMBINE ? SMEM_PIPE : SMEM_COMBINE;
  static_assert(D == 64 || D == 128, "head dim 64 or 128");
};

// Element offset of 16-byte chunk c of row r in a [rows, D] tile (XOR swizzle: ldmatrix's 8 rows
// at one logical chunk land in 8 different bank groups).
template <int D>
__device__ __forceinline__ int dswz(int r, int c) {
  return r * D + ((c ^ (r & 7)) << 3);
}

// Which tiles of a split a warp walks (first, first + stride, ...) and their pages. Block-table
// prefetch: lane j holds the page of the warp's tile (base + j), so 32 tiles' page lookups cost one
// round trip instead of one dependent trip per refill. Computed from the split's bounds alone
// (entries past the sequence's end lie inside its block-table row and are read but never used), so
// the first batch can be asked for together with the sequence's q range and KV length.
struct DecodeWalk {
  const int32_t* bt;  // this sequence's block-table row
  int start;          // first key of the split
  int first, stride;  // tile indices within the split
  int tiles_cap;      // tiles per full split
  int P, max_pages;
  bool tile_in_page;  // split_tokens is a multiple of TILE, so with P % TILE == 0 a tile never crosses a page

  __device__ __forceinline__ int key0(int i, int tile) const { return start + (first + i * stride) * tile; }
  // How many tiles of [start, end) this warp walks.
  template <int TILE>
  __device__ __forceinline__ int my_tiles(int end) const {
    const int n_tiles = (end - start + TILE - 1) / TILE;
    return first < n_tiles ? (n_tiles - first + stride - 1) / stride : 0;
  }
  template <int TILE>
  __device__ __forceinline__ int fetch_pages(int base, int lane) const {
    const int tile = first + (base + lane) * stride;
    const int key0 = start + tile * TILE;
    return (tile_in_page && tile < tiles_cap && key0 / P < max_pages) ? __ldg(bt + key0 / P) : 0;
  }
};

// Q as mma A fragments (rows g and g + 8 of the row group starting at row0; padding rows are zeros),
// straight from global memory, and each row's last visible key. Padding rows see every key (their
// results are never read), so they do not keep a full tile on the masked path.
template <typename T, int D>
__device__ __forceinline__ void decode_load_q(const AttentionParams& p, int q_start, int rows_total, int row0,
                                              int kvh, int q_off, int kv_len, int lane, uint32_t (&qf)[D / 16][4],
                                              int (&lim)[2]) {
  const int G = p.group, H = p.num_heads;
  const int g = lane / 4, t = lane % 4;
  const T* q = static_cast<const T*>(p.q);
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int rho = row0 + g + 8 * i;
    const bool ok = rho < rows_total;
    const uint32_t* src = reinterpret_cast<const uint32_t*>(
        q + (int64_t(q_start + (ok ? rho : 0) / G) * H + kvh * G + (ok ? rho : 0) % G) * D);
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      qf[kk][i] = ok ? __ldg(src + kk * 8 + t) : 0u;
      qf[kk][2 + i] = ok ? __ldg(src + kk * 8 + 4 + t) : 0u;
    }
    lim[i] = !ok || !p.causal ? kv_len - 1 : min(q_off + rho / G, kv_len - 1);
  }
}

// Issues one K/V tile's cp.async copies into a ring slot (sK, sV): keys key0 .. key0 + TILE - 1 of KV
// head kvh; keys at or past end are zero-filled. tile_row: the cache row of key0 when tile_in_page
// (the caller looked the page up), else each row's page is read from the block-table row bt.
// NPASS < PASSES copies only the tile's rows row_base .. row_base + NPASS * ROWS_PER_PASS - 1 (two warps
// that share a ring each issue half of a tile).
template <typename T, int D, int NPASS = DecodeTraits<D>::PASSES>
__device__ __forceinline__ void decode_tile_load(const AttentionParams& p, const int32_t* bt, bool tile_in_page,
                                                 int64_t tile_row, int key0, int end, int kvh, int lane, T* sK,
                                                 T* sV, int row_base = 0) {
  using Tr = DecodeTraits<D>;
  const int P = p.page_size, Hkv = p.num_kv_heads;
  const T* kc = static_cast<const T*>(p.k);
  const T* vc = static_cast<const T*>(p.v);
  const int ld_c = lane % Tr::CHUNKS, ld_r = row_base + lane / Tr::CHUNKS;
  const int64_t head_off = int64_t(kvh) * D + ld_c * 8;
  if (tile_in_page && key0 + Tr::TILE <= end) {
    // Whole tile inside one page: its rows are consecutive cache rows, so each pass is one pointer
    // step from the last and no copy needs the zero-fill operand. The general path below spends
    // ~35 instructions per pass (64-bit row products, bounds, zero-fill size) on the warp's
    // dependent chain; this one ~8.
    const int64_t row_elems = int64_t(Hkv) * D;
    const int64_t off = (tile_row + ld_r) * row_elems + head_off;
    const T* ks = kc + off;
    const T* vs = vc + off;
    const int64_t pass_elems = Tr::ROWS_PER_PASS * row_elems;
#pragma unroll
    for (int ps = 0; ps < NPASS; ++ps) {
      const int so = dswz<D>(ld_r + ps * Tr::ROWS_PER_PASS, ld_c);
      dev::cp_async_16(dev::smem_u32(sK + so), ks);
      dev::cp_async_16(dev::smem_u32(sV + so), vs);
      ks += pass_elems;
      vs += pass_elems;
    }
    return;
  }
#pragma unroll
  for (int ps = 0; ps < NPASS; ++ps) {
    const int r = ld_r + ps * Tr::ROWS_PER_PASS;
    const int key = key0 + r;
    const bool ok = key < end;
    int64_t off = 0;
    if (ok) {
      const int64_t row = tile_in_page ? tile_row + r : int64_t(bt[key / P]) * P + key % P;
      off = row * Hkv * D + head_off;
    }
    const int so = dswz<D>(r, ld_c);
    dev::cp_async_16(dev::smem_u32(sK + so), kc + off, ok ? 16 : 0);
    dev::cp_async_16(dev::smem_u32(sV + so), vc + off, ok ? 16 : 0);
  }
}

// One tile (tK, tV in shared memory, keys from key0) folded into a warp's online-softmax state:
// S = Q K^T on the tensor cores, masked past end and past each row's causal limit, then O += P V.
// o is unnormalised, m_run in the log2 domain, l_run this thread's partial row sums.
template <typename T, int D>
__device__ __forceinline__ void decode_tile_compute(const T* tK, const T* tV, int key0, int end, float scale_log2,
                                                    int lane, const uint32_t (&qf)[D / 16][4], const int (&lim)[2],
                                                    float (&o)[D / 8][4], float (&m_run)[2], float (&l_run)[2]) {
  const int t = lane % 4;
  // S [16 rows x 16 keys] = Q K^T.
  float s[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
  // Even and odd head-dim steps accumulate apart: 4 independent mma chains of D / 32 instead of 2 of D / 16
  // (B1 128-256 keys 3-4% faster on the H200, longer contexts unchanged; attention_notes.md, 41).
  float s2[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    uint32_t b0[2], b1[2];
    const int r = (lane % 8) + 8 * (lane / 16);
    dev::ldmatrix_x4(dev::smem_u32(tK + dswz<D>(r, 2 * kk + (lane / 8) % 2)), b0[0], b0[1], b1[0], b1[1]);
    dev::mma_16816<T>(kk % 2 ? s2[0] : s[0], qf[kk], b0);
    dev::mma_16816<T>(kk % 2 ? s2[1] : s[1], qf[kk], b1);
  }
#pragma unroll
  for (int nt = 0; nt < 2; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) s[nt][e] += s2[nt][e];
  // Scale into the log2 domain; mask keys past the split or past each row's causal limit (only a
  // tile that reaches one of them needs the per-key tests).
  if (key0 + 16 <= end && key0 + 15 <= min(lim[0], lim[1])) {
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[nt][e] *= scale_log2;
  } else {
#pragma unroll
    for (int nt = 0; nt < 2; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int key = key0 + nt * 8 + 2 * t + (e & 1);
        s[nt][e] = (key < end && key <= lim[e / 2]) ? s[nt][e] * scale_log2 : -INFINITY;
      }
    }
  }
  // Online softmax per row; O is rescaled only when some row's max moved.
  float alpha[2];
#pragma unroll
  for (int i2 = 0; i2 < 2; ++i2) {
    float mx = fmaxf(fmaxf(s[0][2 * i2], s[0][2 * i2 + 1]), fmaxf(s[1][2 * i2], s[1][2 * i2 + 1]));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float m_new = fmaxf(m_run[i2], mx);
    const float m_use = m_new == -INFINITY ? 0.0f : m_new;
    alpha[i2] = exp2f(m_run[i2] - m_use);
    m_run[i2] = m_new;
    float sum = 0.0f;
#pragma unroll
    for (int nt = 0; nt < 2; ++nt) {
      s[nt][2 * i2] = exp2f(s[nt][2 * i2] - m_use);
      s[nt][2 * i2 + 1] = exp2f(s[nt][2 * i2 + 1] - m_use);
      sum += s[nt][2 * i2] + s[nt][2 * i2 + 1];
    }
    l_run[i2] = l_run[i2] * alpha[i2] + sum;
  }
  if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f)) {
#pragma unroll
    for (int dt = 0; dt < D / 8; ++dt) {
      o[dt][0] *= alpha[0];
      o[dt][1] *= alpha[0];
      o[dt][2] *= alpha[1];
      o[dt][3] *= alpha[1];
    }
  }
  // O += P V: the S accumulator layout is mma's A layout once packed to 16 bits.
  uint32_t a[4];
  a[0] = dev::pack2<T>(s[0][0], s[0][1]);
  a[1] = dev::pack2<T>(s[0][2], s[0][3]);
  a[2] = dev::pack2<T>(s[1][0], s[1][1]);
  a[3] = dev::pack2<T>(s[1][2], s[1][3]);
#pragma unroll
  for (int dq = 0; dq < D / 16; ++dq) {
    uint32_t b0[2], b1[2];
    const int r = (lane % 8) + 8 * ((lane / 8) % 2);
    dev::ldmatrix_x4_trans(dev::smem_u32(tV + dswz<D>(r, 2 * dq + lane / 16)), b0[0], b0[1], b1[0], b1[1]);
    dev::mma_16816<T>(o[2 * dq], a, b0);
    dev::mma_16816<T>(o[2 * dq + 1], a, b1);
  }
}

// Issues tile i of a warp's walk into ring slot `slot` (sK / sV: the warp's ring). pf_page: the page
// batch that holds tile i (lane j: tile (i / 32) * 32 + j). NPASS, row_base: as in decode_tile_load.
template <typename T, int D, int NPASS = DecodeTraits<D>::PASSES>
__device__ __forceinline__ void decode_walk_tile_load(const AttentionParams& p, const DecodeWalk& walk, int i,
                                                      int slot, int end, int kvh, int lane, T* sK, T* sV,
                                                      int pf_page, int row_base = 0) {
  using Tr = DecodeTraits<D>;
  const int key0 = walk.key0(i, Tr::TILE);
  int64_t tile_row = 0;
  if (walk.tile_in_page) tile_row = int64_t(__shfl_sync(0xffffffffu, pf_page, i % 32)) * walk.P + key0 % walk.P;
  decode_tile_load<T, D, NPASS>(p, walk.bt, walk.tile_in_page, tile_row, key0, end, kvh, lane,
                                sK + slot * Tr::TILE_ELEMS, sV + slot * Tr::TILE_ELEMS, row_base);
}

// One warp's pass over its tiles of [start, end) (tiles walk.first, walk.first + walk.stride, ...)
// of one item: the online softmax state o, m_run, l_run as in decode_tile_compute.
// sK / sV: this warp's ring. pf_page: the walk's first prefetched page batch (fetch_pages(0)).
// issued: how many of the first STAGES - 1 tiles the caller already issued into slots 0, 1, ..., one
// cp.async group each (the split kernel issues tiles older than the step's new tokens before its
// dependency wait); the rest of the prologue is issued here.
// PAIRED (flash_decode_pair_kernel): two warps share the ring, each issuing NPASS passes of every tile
// from tile row row_base (its half); after each wait a 64-thread named barrier (bar_id) makes both
// halves visible and tells both warps that the slot read in the last iteration is free: one barrier per
// tile. compute false: the warp only loads (its row group holds no query row of this sequence).
template <typename T, int D, int STAGES = DecodeTraits<D>::STAGES, int NPASS = DecodeTraits<D>::PASSES,
          bool PAIRED = false>
__device__ __forceinline__ void decode_stream(const AttentionParams& p, const DecodeWalk& walk, int end, int kvh,
                                              int lane, T* sK, T* sV, int pf_page, int issued,
                                              const uint32_t (&qf)[D / 16][4], const int (&lim)[2],
                                              float (&o)[D / 8][4], float (&m_run)[2], float (&l_run)[2],
                                              int row_base = 0, int bar_id = 0, bool compute = true) {
  using Tr = DecodeTraits<D>;
  constexpr int TILE = Tr::TILE;
  const int my_tiles = walk.my_tiles<TILE>(end);

  auto load_tile = [&](int i, int slot) {
    if (walk.tile_in_page && i > 0 && i % 32 == 0) pf_page = walk.fetch_pages<TILE>(i, lane);  // warp-uniform, in order
    decode_walk_tile_load<T, D, NPASS>(p, walk, i, slot, end, kvh, lane, sK, sV, pf_page, row_base);
  };

#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  m_run[0] = m_run[1] = -INFINITY;
  l_run[0] = l_run[1] = 0.0f;

#pragma unroll
  for (int i = 0; i < STAGES - 1; ++i) {
    if (i < issued) continue;
    if (i < my_tiles) load_tile(i, i);
    dev::cp_async_commit();
  }
  for (int i = 0; i < my_tiles; ++i) {
    dev::cp_async_wait<STAGES - 2>();
    if constexpr (PAIRED) {
      dev::named_barrier_sync(bar_id, 64);
    } else {
      __syncwarp();
    }
    if (i == 0) PAGODA_DECODE_PROBE(1);  // first tile of warp 0 in shared memory
    // Refill the slot this warp (and its partner) finished reading last iteration.
    if (i + STAGES - 1 < my_tiles) load_tile(i + STAGES - 1, (i + STAGES - 1) % STAGES);
    dev::cp_async_commit();
    const int slot = i % STAGES;
    if (compute)
      decode_tile_compute<T, D>(sK + slot * Tr::TILE_ELEMS, sV + slot * Tr::TILE_ELEMS, walk.key0(i, TILE), end,
                                p.scale_log2, lane, qf, lim, o, m_run, l_run);
    if constexpr (!PAIRED) __syncwarp();
  }
  dev::cp_async_wait<0>();
  if constexpr (PAIRED) {
    // A ring with one tile fewer than ring 0 passes its pair barrier once more, so that every warp of the CTA
    // has passed the same number of named barriers before the caller's __syncthreads. Not needed for
    // correctness; compute-sanitizer's racecheck reports false hazards across later __syncthreads when the
    // counts differ (dev/kernels/named_barrier_racecheck2.cu, notes 35).
    const int ring0_tiles = ((end - walk.start + TILE - 1) / TILE + walk.stride - 1) / walk.stride;
    if (my_tiles < ring0_tiles) dev::named_barrier_sync(bar_id, 64);
  }
}

// The fused split merge of one item, run by the last split to arrive: nthreads threads (tid in
// [0, nthreads)) combine the partials of rows [row0, row0 + nrows) in slot order, in batches of
// MERGE_BATCH slots whose loads are all issued before any is used (one L2 round trip per batch
// rather than one per slot: the loads are volatile asm, see dev::ld_cg_issue), and write out (and lse).
// The slots are first + k * stride for k < count: STRIDE 1 (the splits, or a group of them) keeps every
// load of a batch at a constant offset from one base; STRIDE 0 takes the runtime `stride` (the group
// results of the two-level merge, at most DECODE_MERGE_GROUPS). TO_PARTIAL: the result goes to partial
// slot `first` (normalised, with its log2-sum-exp) instead of out and lse (a group merge).
template <typename T, int D, int MERGE_BATCH, int STRIDE = 1, bool TO_PARTIAL = false>
__device__ __forceinline__ void decode_merge(const DecodeParams& dp, int q_start, int kvh, int row0, int nrows,
                                             int count, int tid, int nthreads, int first = 0, int stride = STRIDE) {
  const int slot_stride = STRIDE > 0 ? STRIDE : stride;
  constexpr int C4 = D / 4;  // float4 columns per row
  const AttentionParams& p = dp.attn;
  const int G = p.group, H = p.num_heads, S = dp.num_splits;
  for (int idx = tid; idx < nrows * C4; idx += nthreads) {
    const int r = idx / C4, c = idx % C4;
    const int rho = row0 + r;
    const int64_t row = (int64_t(q_start) + rho / G) * H + kvh * G + rho % G;
    // The row's splits lie D floats apart: every load of a batch is one base plus a constant.
    const float* lse_row = dp.partial_lse + row * S + first;
    const float4* out_row = reinterpret_cast<const float4*>(dp.partial_out + (row * S + first) * D) + c;
    float M = -INFINITY, L = 0.0f;
    float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
    for (int s0 = 0; s0 < count; s0 += MERGE_BATCH) {
      float ls[MERGE_BATCH];
      float4 v[MERGE_BATCH];
#pragma unroll
      for (int u = 0; u < MERGE_BATCH; ++u) {
        ls[u] = -INFINITY;
        v[u] = make_float4(0.f, 0.f, 0.f, 0.f);
        if (s0 + u < count) {  // past the last slot: stale workspace, never read
          ls[u] = dev::ld_cg_issue(lse_row + (s0 + u) * slot_stride);
          v[u] = dev::ld_cg_issue(out_row + (s0 + u) * slot_stride * C4);
        }
      }
      // Max first, then independent weights: no serial rescale chain through the batch. The
      // sums still run in split order, so the result does not depend on arrival order.
      float mb = -INFINITY;
#pragma unroll
      for (int u = 0; u < MERGE_BATCH; ++u) mb = fmaxf(mb, ls[u]);
      if (mb == -INFINITY) continue;  // no split of this batch saw a key for this row
      const float m_new = fmaxf(M, mb);
      const float sc = exp2f(M - m_new);  // 0 while M is -inf
      float lb = 0.0f;
      float4 ab = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
      for (int u = 0; u < MERGE_BATCH; ++u) {
        // A split that saw no key for this row (LSE -inf), or none at all: weight 0.
        const float wt = exp2f(ls[u] - m_new);
        lb += wt;
        ab.x = fmaf(wt, v[u].x, ab.x);
        ab.y = fmaf(wt, v[u].y, ab.y);
        ab.z = fmaf(wt, v[u].z, ab.z);
        ab.w = fmaf(wt, v[u].w, ab.w);
      }
      L = fmaf(L, sc, lb);
      acc.x = fmaf(acc.x, sc, ab.x);
      acc.y = fmaf(acc.y, sc, ab.y);
      acc.z = fmaf(acc.z, sc, ab.z);
      acc.w = fmaf(acc.w, sc, ab.w);
      M = m_new;
    }
    const float inv = L > 0.0f ? 1.0f / L : 0.0f;
    if constexpr (TO_PARTIAL) {
      const int64_t prow = row * S + first;
      reinterpret_cast<float4*>(dp.partial_out + prow * D)[c] =
          make_float4(acc.x * inv, acc.y * inv, acc.z * inv, acc.w * inv);
      if (c == 0) dp.partial_lse[prow] = L > 0.0f ? M + log2f(L) : -INFINITY;
    } else {
      T* dst = static_cast<T*>(p.out) + row * D + c * 4;
      *reinterpret_cast<uint2*>(dst) =
          make_uint2(dev::pack2<T>(acc.x * inv, acc.y * inv), dev::pack2<T>(acc.z * inv, acc.w * inv));
      if (c == 0 && p.lse != nullptr) p.lse[row] = L > 0.0f ? (M + log2f(L)) * dev::LN2 : -INFINITY;
    }
  }
}

// The in-CTA combine of the split and pair kernels, in three steps shared by both.
// 1. A warp's softmax state of its real rows (my_row0 + g, + 8 of its 16) to shared memory, at warp slot `slot`:
//    o [slot][16][OS], m and l [slot][16]. The row stride OS = D + 8 puts rows g = 0..3 of a half warp's float2
//    stores in different banks (at stride D all 8 rows hit the same bank: 8-way conflicts, ncu on B1 32k).
template <int D>
__device__ __forceinline__ void decode_stash_state(float* sm_o, float* sm_m, float* sm_l, int slot, int my_row0,
                                                   int rows_total, int lane, const float (&o)[D / 8][4],
                                                   const float (&m_run)[2], const float (&l_run)[2]) {
  constexpr int ROWS = DecodeTraits<D>::ROWS, OS = DecodeTraits<D>::COMBINE_STRIDE;
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int i2 = 0; i2 < 2; ++i2) {
    float l = l_run[i2];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const int r = g + 8 * i2;
    if (my_row0 + r >= rows_total) continue;  // padding row: never read
    float* dst = sm_o + (slot * ROWS + r) * OS;
#pragma unroll
    for (int dt = 0; dt < D / 8; ++dt)
      *reinterpret_cast<float2*>(dst + dt * 8 + 2 * t) = make_float2(o[dt][2 * i2], o[dt][2 * i2 + 1]);
    if (t == 0) {
      sm_m[slot * ROWS + r] = m_run[i2];
      sm_l[slot * ROWS + r] = l;
    }
  }
}

// 2. Float4 column c of row r16 combined over warp slots w0 .. w0 + NW - 1 (after a barrier): the normalised
//    sum (acc * inv) and the row's log2-sum-exp of this split. ROWS, OS: the stash's rows per warp slot and row
//    stride (the keys-major kernel stashes 8 rows at its own stride).
template <int D, int NW, int ROWS = DecodeTraits<D>::ROWS, int OS = DecodeTraits<D>::COMBINE_STRIDE>
__device__ __forceinline__ void decode_combine_row(const float* sm_o, const float* sm_m, const float* sm_l, int w0,
                                                   int r16, int c, float4& acc, float& inv, float& lse2) {
  float M = -INFINITY;
#pragma unroll
  for (int k = 0; k < NW; ++k) M = fmaxf(M, sm_m[(w0 + k) * ROWS + r16]);
  const float m_use = M == -INFINITY ? 0.0f : M;
  float L = 0.0f;
  acc = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
  for (int k = 0; k < NW; ++k) {
    const int w = w0 + k;
    const float wt = exp2f(sm_m[w * ROWS + r16] - m_use);
    L += sm_l[w * ROWS + r16] * wt;
    const float4 v = reinterpret_cast<const float4*>(sm_o + (w * ROWS + r16) * OS)[c];
    acc.x = fmaf(wt, v.x, acc.x);
    acc.y = fmaf(wt, v.y, acc.y);
    acc.z = fmaf(wt, v.z, acc.z);
    acc.w = fmaf(wt, v.w, acc.w);
  }
  inv = L > 0.0f ? 1.0f / L : 0.0f;
  lse2 = L > 0.0f ? m_use + log2f(L) : -INFINITY;
}

// 3. The combined column to out (and lse) when the item has one active split, else to this split's partial.
template <typename T, int D>
__device__ __forceinline__ void decode_store_row(const DecodeParams& dp, int64_t row, int c, int split, int active,
                                                 const float4& acc, float inv, float lse2) {
  const AttentionParams& p = dp.attn;
  if (active == 1) {
    T* dst = static_cast<T*>(p.out) + row * D + c * 4;
    *reinterpret_cast<uint2*>(dst) =
        make_uint2(dev::pack2<T>(acc.x * inv, acc.y * inv), dev::pack2<T>(acc.z * inv, acc.w * inv));
    if (c == 0 && p.lse != nullptr) p.lse[row] = lse2 * dev::LN2;
  } else {
    const int64_t prow = row * dp.num_splits + split;
    reinterpret_cast<float4*>(dp.partial_out + prow * D)[c] =
        make_float4(acc.x * inv, acc.y * inv, acc.z * inv, acc.w * inv);
    if (c == 0) dp.partial_lse[prow] = lse2;
  }
}

// After its partials are written, a CTA counts itself in on a counter that expects `arrivals` CTAs; true (in
// every thread) for the last to arrive, which then merges. Thread 0 takes an acq_rel ticket between two
// barriers: the first puts the CTA's partial stores before its release, the second its acquire before every
// thread's partial loads (one fence and one atomic trip; a fence in every thread, a reset atomic and a
// second fence cost the last CTA a trip more, notes 49). counter(): the counter's address, asked for by
// thread 0 after the barrier (computing it before moved the one-level kernels' schedule).
// decode_last_split: the item's counter.
template <typename Counter>
__device__ __forceinline__ bool decode_count_in(Counter counter, int arrivals, int tid, int& s_last) {
  __syncthreads();
  if (tid == 0) s_last = dev::ticket_last_acq_rel(counter(), arrivals);
  __syncthreads();
  return s_last;
}
__device__ __forceinline__ bool decode_last_split(const DecodeParams& dp, int arrivals, int tid, int& s_last) {
  return decode_count_in([&] { return dp.counters + int64_t(blockIdx.z) * gridDim.y + blockIdx.y; }, arrivals, tid,
                         s_last);
}

// The split merge of rows [row0, row0 + nrows) of this CTA's item, once its partial is written (more than one
// active split). One level: the last split to arrive merges every split. Two levels (kernels instantiated with
// TWO_LEVEL, dp.merge_group_splits = gs > 0 and more than gs active splits): the last CTA of each group of gs
// splits merges the group into the group's first slot, and the last of those merges the group results. A
// one-CTA merge of 16-32 rows x 64+ splits reads 0.5-1 MB through one SM (8.5 us of a 28 us MQA B1 64k decode,
// notes 35); two levels spread it over up to DECODE_MERGE_GROUPS SMs. Every sum runs in a fixed order: the
// result does not depend on arrival order. The two levels are a separate instantiation because their code
// moved the one-level kernel's schedule (B1 512 keys +2.7% inlined, +8.5% as one shared merge body).
// MB: splits whose partials a merge thread loads at once in the one-level merge (registers: 5 per split).
template <typename T, int D, int THREADS, bool TWO_LEVEL, int MB = DecodeTraits<D>::MERGE_BATCH>
__device__ __forceinline__ void decode_split_merge(const DecodeParams& dp, int q_start, int kvh, int row0,
                                                   int nrows, int split, int active, int tid, int& s_last) {
  using Tr = DecodeTraits<D>;
  const AttentionParams& p = dp.attn;  // for the probe points
  (void)p;
  if constexpr (TWO_LEVEL) {
    const int gs = dp.merge_group_splits;
    if (gs > 0 && active > gs) {
      const int g = split / gs, first = g * gs, n = min(gs, active - first);
      if (n > 1) {  // a group of one split is its own result
        const auto group_counter = [&] {
          return dp.group_counters + (int64_t(blockIdx.z) * gridDim.y + blockIdx.y) * DECODE_MERGE_GROUPS + g;
        };
        if (!decode_count_in(group_counter, n, tid, s_last)) return;
        decode_merge<T, D, Tr::MERGE_BATCH, 1, true>(dp, q_start, kvh, row0, nrows, n, tid, THREADS, first);
      }
      const int groups = (active + gs - 1) / gs;
      if (!decode_last_split(dp, groups, tid, s_last)) return;
      PAGODA_DECODE_PROBE(4);
      decode_merge<T, D, DECODE_MERGE_GROUPS, 0>(dp, q_start, kvh, row0, nrows, groups, tid, THREADS, 0, gs);
      return;
    }
  }
  if (!decode_last_split(dp, active, tid, s_last)) return;
  PAGODA_DECODE_PROBE(4);
  decode_merge<T, D, MB>(dp, q_start, kvh, row0, nrows, active, tid, THREADS);
}

// The start of a split CTA (16-row and pair kernels): its walk over the split (tiles first, first +
// stride, ...), the first page batch asked for together with the sequence's q range and KV length (so
// the first K/V request waits on one round trip, not three), and whether the CTA takes part: rows at
// row0 exist, and the split begins inside the KV (split 0 always runs, so that an empty KV still
// writes its zero output; splits past the end are not counted). Reads only what the previous kernel
// of a programmatic launch does not write.
struct DecodeCtaStart {
  DecodeWalk walk;
  int pf_page, q_start, q_len, kv_len, rows_total, end, active;
};
template <int TILE>
__device__ __forceinline__ bool decode_cta_start(const DecodeParams& dp, int b, int split, int first, int stride,
                                                 int row0, int lane, DecodeCtaStart& c) {
  const AttentionParams& p = dp.attn;
  c.walk.bt = p.block_table + int64_t(b) * p.max_pages;
  c.walk.start = split * dp.split_tokens;
  c.walk.first = first;
  c.walk.stride = stride;
  c.walk.tiles_cap = dp.split_tokens / TILE;
  c.walk.P = p.page_size;
  c.walk.max_pages = p.max_pages;
  c.walk.tile_in_page = p.page_size % TILE == 0;
  c.pf_page = c.walk.fetch_pages<TILE>(0, lane);
  c.q_start = p.cu_seqlens_q[b];
  c.q_len = p.cu_seqlens_q[b + 1] - c.q_start;
  c.kv_len = max(p.kv_lens[b], 0);  // loaded before the first use of the loads above
  c.rows_total = c.q_len * p.group;
  if (row0 >= c.rows_total) return false;
  if (split > 0 && c.walk.start >= c.kv_len) return false;
  c.end = min(c.kv_len, c.walk.start + dp.split_tokens);
  c.active = max(1, (c.kv_len + dp.split_tokens - 1) / dp.split_tokens);
  return true;
}

// The warp's first tiles whose keys all precede the step's new tokens, issued before the dependency
// wait so they land while the previous kernel finishes (one cp.async group each). Tiles are walked in
// key order, so these are a prefix of the prologue; a tile holding a new row, and all after it, are
// issued after the wait. Returns how many were issued (decode_stream's `issued`).
template <typename T, int D, int STAGES, int NPASS = DecodeTraits<D>::PASSES>
__device__ __forceinline__ int decode_prewait_tiles(const AttentionParams& p, const DecodeCtaStart& c, int kvh,
                                                    int lane, T* sK, T* sV, int row_base = 0) {
  constexpr int TILE = DecodeTraits<D>::TILE;
  int issued = 0;
  const int old_end = c.kv_len - c.q_len;  // keys at or past it are the step's new tokens
  const int my_tiles = c.walk.my_tiles<TILE>(c.end);
#pragma unroll
  for (int i = 0; i < STAGES - 1; ++i) {
    if (issued == i && i < my_tiles && c.walk.key0(i, TILE) + TILE <= old_end) {
      decode_walk_tile_load<T, D, NPASS>(p, c.walk, i, i, c.end, kvh, lane, sK, sV, c.pf_page, row_base);
      dev::cp_async_commit();
      ++issued;
    }
  }
  return issued;
}

// Grid: (num_splits, Hkv * row_groups, B). Block: 128 threads. Dynamic smem: SMEM_BYTES.
template <typename T, int D, bool TWO_LEVEL = false>
__global__ void __launch_bounds__(128) flash_decode_kernel(const DecodeParams dp) {
  using Tr = DecodeTraits<D>;
  constexpr int ROWS = Tr::ROWS, TILE = Tr::TILE, STAGES = Tr::STAGES, WARPS = Tr::WARPS;
  const AttentionParams& p = dp.attn;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  __shared__ int s_last;

  // Launched as a programmatic dependent (when the plan asks), the CTA may run while the previous
  // kernel (the step's KV append) still writes. Before griddepcontrol.wait it reads only what that
  // kernel cannot write: the lengths, the block table and the K/V rows older than the step's new
  // tokens (the last q_len of each sequence); q and the new rows are read after it.
  PAGODA_DECODE_PROBE(0);
  const int split = blockIdx.x;
  const int row_groups = gridDim.y / p.num_kv_heads;
  const int kvh = blockIdx.y / row_groups;
  const int rg = blockIdx.y % row_groups;
  const int b = blockIdx.z;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int row0 = rg * ROWS;
  DecodeCtaStart cta;
  // A CTA that leaves here has read only what the previous kernel does not write.
  if (!decode_cta_start<TILE>(dp, b, split, warp, WARPS, row0, lane, cta)) return;
  const DecodeWalk& walk = cta.walk;
  const int pf_page = cta.pf_page, q_start = cta.q_start, q_len = cta.q_len, kv_len = cta.kv_len;
  const int rows_total = cta.rows_total, end = cta.end, active = cta.active;
  const int G = p.group, H = p.num_heads;

  // This warp's ring: [STAGES][TILE][D] for K, then V.
  T* sK = reinterpret_cast<T*>(smem_raw) + warp * STAGES * 2 * Tr::TILE_ELEMS;
  T* sV = sK + STAGES * Tr::TILE_ELEMS;
  const int issued = decode_prewait_tiles<T, D, STAGES>(p, cta, kvh, lane, sK, sV);
  // Returns at once in a plain launch. The next kernel may place its CTAs once every CTA is past here.
  dev::grid_dependency_wait();
  dev::launch_dependents();

  uint32_t qf[D / 16][4];
  int lim[2];
  decode_load_q<T, D>(p, q_start, rows_total, row0, kvh, kv_len - q_len, kv_len, lane, qf, lim);

  float o[D / 8][4];
  float m_run[2], l_run[2];
  decode_stream<T, D>(p, walk, end, kvh, lane, sK, sV, pf_page, issued, qf, lim, o, m_run, l_run);
  __syncthreads();  // every warp is done with its ring: the smem becomes the combine area
  PAGODA_DECODE_PROBE(2);

  // Per-warp state of the real rows to shared memory (o [WARPS][ROWS][OS], m, l [WARPS][ROWS]), combined
  // over the warps into the output or this split's partial.
  constexpr int OS = Tr::COMBINE_STRIDE;
  float* sm_o = reinterpret_cast<float*>(smem_raw);
  float* sm_m = sm_o + WARPS * ROWS * OS;
  float* sm_l = sm_m + WARPS * ROWS;
  decode_stash_state<D>(sm_o, sm_m, sm_l, warp, row0, rows_total, lane, o, m_run, l_run);
  __syncthreads();

  const int nrows = min(ROWS, rows_total - row0);
  constexpr int C4 = D / 4;  // float4 columns per row
  for (int idx = tid; idx < nrows * C4; idx += Tr::THREADS) {
    const int r = idx / C4, c = idx % C4;
    float4 acc;
    float inv, lse2;
    decode_combine_row<D, WARPS>(sm_o, sm_m, sm_l, 0, r, c, acc, inv, lse2);
    const int rho = row0 + r;
    const int64_t row = (int64_t(q_start) + rho / G) * H + kvh * G + rho % G;
    decode_store_row<T, D>(dp, row, c, split, active, acc, inv, lse2);
  }
  PAGODA_DECODE_PROBE(3);
  if (active == 1) return;

  // Fused merge by the last CTA of this (sequence, KV head, row group) to arrive (or of its split group).
  decode_split_merge<T, D, Tr::THREADS, TWO_LEVEL>(dp, q_start, kvh, row0, nrows, split, active, tid, s_last);
  PAGODA_DECODE_PROBE(5);
}

// The pair kernel's shape: 2 row groups (32 packed rows) x KS key streams. Warps w and w + KS share
// ring w (warp w computes rows 0-15 and warp w + KS rows 16-31 on the same tiles), so each K/V tile is
// loaded into the SM once for 32 rows. STAGES 5 keeps 4 tiles in flight per ring: with KS 2 (4 warps,
// 2 CTAs per SM) or KS 4 (8 warps, 1 CTA per SM) that is 4 rings x 4 tiles x 8 KB = 128 KB per SM at
// D = 128, as the 16-row kernel (2 CTAs x 4 warps x 2 tiles).
template <int D, int KS>
struct DecodePairTraits {
  using Tr = DecodeTraits<D>;
  static constexpr int RG = 2;
  static constexpr int WARPS = RG * KS;
  static constexpr int THREADS = 32 * WARPS;
  static constexpr int ROWS = RG * Tr::ROWS;
  static constexpr int STAGES = 5;
  static constexpr int MIN_CTAS = KS == 2 ? 2 : 1;  // per SM, for __launch_bounds__
  static constexpr int RING_BYTES = STAGES * 2 * Tr::TILE_ELEMS * 2;
  static constexpr int SMEM_PIPE = KS * RING_BYTES;
  static constexpr int SMEM_COMBINE = WARPS * Tr::ROWS * (Tr::COMBINE_STRIDE + 2) * 4;
  static constexpr int SMEM_BYTES = SMEM_PIPE > SMEM_COMBINE ? SMEM_PIPE : SMEM_COMBINE;
  static_assert(Tr::PASSES % 2 == 0, "each warp of a pair issues half of a tile's passes");
  static_assert(KS == 2 || KS == 4, "2 or 4 key streams");
};

// Grid: (num_splits, Hkv * row_blocks, B), a row block being 32 packed rows. Block: 64 * KS threads.
// Dynamic smem: DecodePairTraits::SMEM_BYTES. As flash_decode_kernel (same pre-wait reads, in-CTA
// combine, partials and fused merge), but one CTA serves both 16-row groups of its block from one pass
// over the split's K/V (MQA; q_len x G > 16): each ring's tiles are issued half by each warp of its pair.
template <typename T, int D, int KS, bool TWO_LEVEL = false>
__global__ void __launch_bounds__(DecodePairTraits<D, KS>::THREADS, DecodePairTraits<D, KS>::MIN_CTAS)
    flash_decode_pair_kernel(const DecodeParams dp) {
  using Tr = DecodeTraits<D>;
  using Pr = DecodePairTraits<D, KS>;
  constexpr int TILE = Tr::TILE, STAGES = Pr::STAGES, ROWS = Pr::ROWS, RG_ROWS = Tr::ROWS;
  constexpr int NPASS = Tr::PASSES / 2;
  const AttentionParams& p = dp.attn;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  __shared__ int s_last;

  PAGODA_DECODE_PROBE(0);
  const int split = blockIdx.x;
  const int row_blocks = gridDim.y / p.num_kv_heads;
  const int kvh = blockIdx.y / row_blocks;
  const int rb = blockIdx.y % row_blocks;
  const int b = blockIdx.z;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int ring = warp % KS, rg = warp / KS;  // warps ring and ring + KS share ring `ring`
  const int row0 = rb * ROWS;
  DecodeCtaStart cta;
  if (!decode_cta_start<TILE>(dp, b, split, ring, KS, row0, lane, cta)) return;
  const DecodeWalk& walk = cta.walk;
  const int pf_page = cta.pf_page, q_start = cta.q_start, q_len = cta.q_len, kv_len = cta.kv_len;
  const int rows_total = cta.rows_total, end = cta.end, active = cta.active;
  const int G = p.group, H = p.num_heads;
  const int my_row0 = row0 + rg * RG_ROWS;         // this warp's 16 rows
  const bool has_rows = my_row0 < rows_total;      // a short sequence of a ragged batch may leave group 1 empty
  const int half_row = rg * (TILE / 2);            // this warp issues tile rows half_row .. half_row + 7

  T* sK = reinterpret_cast<T*>(smem_raw) + ring * STAGES * 2 * Tr::TILE_ELEMS;
  T* sV = sK + STAGES * Tr::TILE_ELEMS;
  // Pre-wait tiles as in flash_decode_kernel; both warps of a pair take the same decisions (same walk).
  const int issued = decode_prewait_tiles<T, D, STAGES, NPASS>(p, cta, kvh, lane, sK, sV, half_row);
  dev::grid_dependency_wait();
  dev::launch_dependents();

  uint32_t qf[D / 16][4];
  int lim[2];
  decode_load_q<T, D>(p, q_start, rows_total, my_row0, kvh, kv_len - q_len, kv_len, lane, qf, lim);

  float o[D / 8][4];
  float m_run[2], l_run[2];
  decode_stream<T, D, STAGES, NPASS, true>(p, walk, end, kvh, lane, sK, sV, pf_page, issued, qf, lim, o, m_run,
                                           l_run, half_row, 1 + ring, has_rows);
  __syncthreads();  // every ring is drained: the smem becomes the combine area
  PAGODA_DECODE_PROBE(2);

  // Per-warp state of the real rows (o [warp][16][OS], m, l [warp][16]; warp = rg * KS + ring), each row
  // combined over the KS warps of its group.
  constexpr int OS = Tr::COMBINE_STRIDE;
  float* sm_o = reinterpret_cast<float*>(smem_raw);
  float* sm_m = sm_o + Pr::WARPS * RG_ROWS * OS;
  float* sm_l = sm_m + Pr::WARPS * RG_ROWS;
  decode_stash_state<D>(sm_o, sm_m, sm_l, warp, my_row0, rows_total, lane, o, m_run, l_run);
  __syncthreads();

  const int nrows = min(ROWS, rows_total - row0);
  constexpr int C4 = D / 4;
  for (int idx = tid; idx < nrows * C4; idx += Pr::THREADS) {
    const int r = idx / C4, c = idx % C4;
    float4 acc;
    float inv, lse2;
    decode_combine_row<D, KS>(sm_o, sm_m, sm_l, (r / RG_ROWS) * KS, r % RG_ROWS, c, acc, inv, lse2);
    const int rho = row0 + r;
    const int64_t row = (int64_t(q_start) + rho / G) * H + kvh * G + rho % G;
    decode_store_row<T, D>(dp, row, c, split, active, acc, inv, lse2);
  }
  PAGODA_DECODE_PROBE(3);
  if (active == 1) return;

  // Fused merge of the block's rows (up to 32), by the last CTA of this (sequence, KV head, row block).
  decode_split_merge<T, D, Pr::THREADS, TWO_LEVEL>(dp, q_start, kvh, row0, nrows, split, active, tid, s_last);
  PAGODA_DECODE_PROBE(5);
}

// Grid: (num_splits, ceil(Hkv * row_groups / (WARPS * items_per_warp)), B). Block: 32 * WARPS threads.
// Warp w of CTA y runs items [(y * WARPS + w) * items_per_warp, + items_per_warp) of sequence
// blockIdx.z (item = kvh * row_groups + rg; row groups past the sequence's query rows are skipped)
// back to back through one ring: the next item's first tiles are in flight while this one finishes,
// and the items share the block-table row, the lengths and the page prefetch. Dynamic smem: WARPS
// rings. No CTA barrier anywhere: a warp with no item, or past its sequence's end, simply returns.
template <typename T, int D, int WARPS>
__global__ void __launch_bounds__(32 * WARPS) flash_decode_warp_kernel(const DecodeParams dp) {
  using Tr = DecodeTraits<D>;
  constexpr int ROWS = Tr::ROWS, TILE = Tr::TILE, STAGES = Tr::STAGES, TE = Tr::TILE_ELEMS;
  const AttentionParams& p = dp.attn;
  extern __shared__ __align__(128) unsigned char smem_raw[];

  dev::grid_dependency_wait();
  dev::launch_dependents();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int RG = dp.row_groups;
  const int items = p.num_kv_heads * RG;
  const int item_lo = (int(blockIdx.y) * WARPS + warp) * dp.items_per_warp;
  if (item_lo >= items) return;
  const int item_hi = min(items, item_lo + dp.items_per_warp);
  const int split = blockIdx.x;
  const int b = blockIdx.z;
  const int32_t* bt = p.block_table + int64_t(b) * p.max_pages;
  const int start = split * dp.split_tokens;
  const int P = p.page_size;
  // split_tokens is a multiple of TILE, so with P % TILE == 0 a tile never crosses a page.
  const bool tile_in_page = P % TILE == 0;
  const int tiles_cap = dp.split_tokens / TILE;
  // Block-table prefetch as in DecodeWalk: lane j holds the page of tile (base + j) of the split,
  // asked for with the lengths; every item of this warp reads the same pages.
  auto fetch_pages = [&](int base) {
    const int tile = base + lane;
    const int key0 = start + tile * TILE;
    return (tile_in_page && tile < tiles_cap && key0 / P < p.max_pages) ? __ldg(bt + key0 / P) : 0;
  };
  int pf_page = fetch_pages(0);
  int pf_base = 0;
  const int q_start = p.cu_seqlens_q[b];
  const int q_len = p.cu_seqlens_q[b + 1] - q_start;
  const int kv_len = max(p.kv_lens[b], 0);
  const int G = p.group, H = p.num_heads;
  const int rows_total = q_len * G;
  const int live_groups = (rows_total + ROWS - 1) / ROWS;  // row groups with at least one query row
  if (split > 0 && start >= kv_len) return;
  const int end = min(kv_len, start + dp.split_tokens);
  const int active = max(1, (kv_len + dp.split_tokens - 1) / dp.split_tokens);
  const int n_tiles = max(0, (end - start + TILE - 1) / TILE);
  const int g = lane / 4, t = lane % 4;
  auto next_item = [&](int it) {
    while (it < item_hi && it % RG >= live_groups) ++it;
    return it;
  };

  T* sK = reinterpret_cast<T*>(smem_raw) + warp * STAGES * 2 * TE;
  T* sV = sK + STAGES * TE;
  // Load side of the ring: the next tile to ask for is tile ld_t of item ld_item.
  int ld_item = next_item(item_lo), ld_t = 0, ld_slot = 0;
  auto load_next = [&]() {
    if (ld_item < item_hi && n_tiles > 0) {
      const int key0 = start + ld_t * TILE;
      int64_t tile_row = 0;
      if (tile_in_page) {
        if (ld_t / 32 != pf_base) {  // warp-uniform; a fresh batch every 32 tiles (and back at a new item)
          pf_base = ld_t / 32;
          pf_page = fetch_pages(pf_base * 32);
        }
        tile_row = int64_t(__shfl_sync(0xffffffffu, pf_page, ld_t % 32)) * P + key0 % P;
      }
      decode_tile_load<T, D>(p, bt, tile_in_page, tile_row, key0, end, ld_item / RG, lane, sK + ld_slot * TE,
                             sV + ld_slot * TE);
      if (++ld_t == n_tiles) {
        ld_t = 0;
        ld_item = next_item(ld_item + 1);
      }
    }
    ld_slot = ld_slot + 1 == STAGES ? 0 : ld_slot + 1;
    dev::cp_async_commit();  // an empty group past the last tile keeps the wait counts uniform
  };
#pragma unroll
  for (int i = 0; i < STAGES - 1; ++i) load_next();

  int cs = 0;  // compute side: the slot of the next tile to fold in
  for (int it = next_item(item_lo); it < item_hi; it = next_item(it + 1)) {
    const int kvh = it / RG, row0 = (it % RG) * ROWS;
    uint32_t qf[D / 16][4];
    int lim[2];
    decode_load_q<T, D>(p, q_start, rows_total, row0, kvh, kv_len - q_len, kv_len, lane, qf, lim);
    float o[D / 8][4];
#pragma unroll
    for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    float m_run[2] = {-INFINITY, -INFINITY};
    float l_run[2] = {0.0f, 0.0f};
    for (int ti = 0; ti < n_tiles; ++ti) {
      dev::cp_async_wait<STAGES - 2>();
      __syncwarp();
      load_next();  // refills the slot folded in last iteration (possibly with the next item's tile)
      decode_tile_compute<T, D>(sK + cs * TE, sV + cs * TE, start + ti * TILE, end, p.scale_log2, lane, qf, lim, o,
                                m_run, l_run);
      cs = cs + 1 == STAGES ? 0 : cs + 1;
      __syncwarp();
    }

    // The item's result from registers: thread (g, t) holds rows g and g + 8, columns 8 dt + 2 t (+1).
#pragma unroll
    for (int i2 = 0; i2 < 2; ++i2) {
      float L = l_run[i2];
      L += __shfl_xor_sync(0xffffffffu, L, 1);
      L += __shfl_xor_sync(0xffffffffu, L, 2);
      const int rho = row0 + g + 8 * i2;
      if (rho >= rows_total) continue;
      const float m_use = m_run[i2] == -INFINITY ? 0.0f : m_run[i2];
      const float inv = L > 0.0f ? 1.0f / L : 0.0f;
      const float lse2 = L > 0.0f ? m_use + log2f(L) : -INFINITY;
      const int64_t row = (int64_t(q_start) + rho / G) * H + kvh * G + rho % G;
      if (active == 1) {
        T* dst = static_cast<T*>(p.out) + row * D + 2 * t;
#pragma unroll
        for (int dt = 0; dt < D / 8; ++dt)
          *reinterpret_cast<uint32_t*>(dst + dt * 8) = dev::pack2<T>(o[dt][2 * i2] * inv, o[dt][2 * i2 + 1] * inv);
        if (t == 0 && p.lse != nullptr) p.lse[row] = lse2 * dev::LN2;
      } else {
        const int64_t prow = row * dp.num_splits + split;
        float* dst = dp.partial_out + prow * D + 2 * t;
#pragma unroll
        for (int dt = 0; dt < D / 8; ++dt)
          *reinterpret_cast<float2*>(dst + dt * 8) = make_float2(o[dt][2 * i2] * inv, o[dt][2 * i2 + 1] * inv);
        if (t == 0) dp.partial_lse[prow] = lse2;
      }
    }
    if (active == 1) continue;
    // Fused merge, as in flash_decode_kernel but per warp (the next item's tiles stay in flight):
    // the last split of this item to arrive combines every split. Lane 0 takes the acq_rel ticket
    // between two warp barriers (as decode_count_in does between CTA barriers).
    __syncwarp();
    int last = 0;
    if (lane == 0) last = dev::ticket_last_acq_rel(dp.counters + int64_t(b) * items + it, active);
    __syncwarp();
    if (__shfl_sync(0xffffffffu, last, 0)) {
      decode_merge<T, D, Tr::WARP_MERGE_BATCH>(dp, q_start, kvh, row0, min(ROWS, rows_total - row0), active, lane,
                                               32);
    }
  }
  dev::cp_async_wait<0>();
}

}  // namespace pagoda::cuda
