// Keys-major Flash-Decoding for at most 8 packed query rows per KV head (GQA up to 8 at one token,
// G 4 at two), or 16 with NT = 2 n-tiles of rows (G 4 at four tokens, G 8 at two, G 16). The split
// kernel's frame (flash_decode.cuh: one CTA per (sequence, KV head, split), each warp walking tiles
// warp, warp + WARPS, ... through its own cp.async ring, tiles older than the
// step's new tokens issued before the dependency wait, in-CTA combine, partials and the fused merge)
// with the tensor-core roles swapped. The 16 keys of a tile are the mma's M: S^T = K Q^T with the
// query rows as N = 8, and O^T = V^T P^T with the head dim as M. Per 16-key tile at D = 128 that is
// 8 + 8 mma.sync instead of 16 + 16 (the 16-row kernel pads 4 real rows to 16), and O^T lives in 32
// registers instead of 64, Q^T in 16 instead of 32: room for more warps per SM. P^T reaches the B
// operand layout by two movmatrix transposes, and a row's softmax max takes 3 shuffle rounds (its 16
// keys are spread over lanes) instead of 2.
#pragma once

#include "backend/cuda/attention/flash_decode.cuh"

namespace pagoda::cuda {

template <int D, int WARPS_, int STAGES_, int NT_ = 1>
struct DecodeKeysTraits {
  using Tr = DecodeTraits<D>;
  static constexpr int WARPS = WARPS_;
  static constexpr int STAGES = STAGES_;  // tiles per warp ring
  static constexpr int NT = NT_;          // n-tiles of 8 packed query rows
  static constexpr int THREADS = 32 * WARPS;
  static constexpr int ROWS = 8 * NT;  // packed query rows: the mma's N
  static constexpr int RING_BYTES = STAGES * 2 * Tr::TILE_ELEMS * 2;
  static constexpr int SMEM_PIPE = WARPS * RING_BYTES;
  // Stash row stride (floats): a warp's scalar stores of rows 2t and 2t + 1 at column g fall in 32 banks.
  static constexpr int OS = D + 4;
  static constexpr int SMEM_COMBINE = WARPS * ROWS * (OS + 2) * 4;
  static constexpr int SMEM_BYTES = SMEM_PIPE > SMEM_COMBINE ? SMEM_PIPE : SMEM_COMBINE;
  // Two CTAs per SM where two fit in the 228 KB (1 KB of it reserved per CTA), so that a programmatic
  // dependent launch's CTA can be placed beside a running one.
  static constexpr int MIN_CTAS = 2 * (SMEM_BYTES + 1024) <= 228 * 1024 ? 2 : 1;
  // Splits per merge batch: 16 keeps the merge's loads (5 registers per split) inside two CTAs' register share.
  static constexpr int MERGE_BATCH = 16;
  static_assert(STAGES >= 2, "a ring refills one slot while computing another");
};

// Q^T as mma B fragments: for n-tile n, lane (g, t) holds row 8 n + g's head-dim pairs 16 kk + 2 t and + 8
// (rows past the sequence's query rows are zeros), and the last visible key of rows 8 n + 2 t and 8 n + 2 t + 1
// (the columns of S^T and O^T this lane holds).
template <typename T, int D, int NT>
__device__ __forceinline__ void decode_keys_load_q(const AttentionParams& p, int q_start, int rows_total, int kvh,
                                                   int q_off, int kv_len, int lane, uint32_t (&qb)[NT][D / 16][2],
                                                   int (&lim)[NT][2]) {
  const int G = p.group, H = p.num_heads;
  const int g = lane / 4, t = lane % 4;
  const T* q = static_cast<const T*>(p.q);
#pragma unroll
  for (int n = 0; n < NT; ++n) {
    const bool ok = 8 * n + g < rows_total;
    const int rho = ok ? 8 * n + g : 0;
    const uint32_t* src =
        reinterpret_cast<const uint32_t*>(q + (int64_t(q_start + rho / G) * H + kvh * G + rho % G) * D);
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      qb[n][kk][0] = ok ? __ldg(src + kk * 8 + t) : 0u;
      qb[n][kk][1] = ok ? __ldg(src + kk * 8 + 4 + t) : 0u;
    }
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int r = 8 * n + 2 * t + i;
      lim[n][i] = r >= rows_total || !p.causal ? kv_len - 1 : min(q_off + r / G, kv_len - 1);
    }
  }
}

// One tile (tK, tV in shared memory, keys from key0) folded into a warp's online-softmax state. Lane (g, t)
// holds S^T and O^T entries of keys / head dims g and g + 8 for rows 8 n + 2 t and 8 n + 2 t + 1 of n-tile n:
// o[mt][n] is O^T's m16n8 accumulator for head dims 16 mt .. 16 mt + 15; m_run (log2 domain) and l_run (this
// lane's partial sums over its keys) are per row 8 n + 2 t + i.
template <typename T, int D, int NT>
__device__ __forceinline__ void decode_keys_tile_compute(const T* tK, const T* tV, int key0, int end, float scale_log2,
                                                         int lane, const uint32_t (&qb)[NT][D / 16][2],
                                                         const int (&lim)[NT][2], float (&o)[D / 16][NT][4],
                                                         float (&m_run)[NT][2], float (&l_run)[NT][2]) {
  constexpr int KSTEPS = D / 16;
  // Independent mma accumulation chains over the head dim (the n-tiles are independent chains already).
  constexpr int CHAINS = NT > 1 ? 2 : KSTEPS >= 4 ? 4 : 2;
  const int g = lane / 4;
  // S^T [16 keys x 8 NT rows] = K Q^T: K as the A operand straight from its [key][d] tile.
  float sc[CHAINS][NT][4];
#pragma unroll
  for (int c = 0; c < CHAINS; ++c)
#pragma unroll
    for (int n = 0; n < NT; ++n) sc[c][n][0] = sc[c][n][1] = sc[c][n][2] = sc[c][n][3] = 0.0f;
#pragma unroll
  for (int kk = 0; kk < KSTEPS; ++kk) {
    uint32_t a[4];
    const int r = (lane % 8) + 8 * ((lane / 8) % 2);
    dev::ldmatrix_x4(dev::smem_u32(tK + dswz<D>(r, 2 * kk + lane / 16)), a[0], a[1], a[2], a[3]);
#pragma unroll
    for (int n = 0; n < NT; ++n) dev::mma_16816<T>(sc[kk % CHAINS][n], a, qb[n][kk]);
  }
  float s[NT][4];
  int lim_min = lim[0][0];
#pragma unroll
  for (int n = 0; n < NT; ++n) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      s[n][e] = sc[0][n][e] + sc[1][n][e];
#pragma unroll
      for (int c = 2; c < CHAINS; ++c) s[n][e] += sc[c][n][e];
    }
    lim_min = min(lim_min, min(lim[n][0], lim[n][1]));
  }
  // s[n][0], s[n][1]: key g, rows 8n + 2t, + 1; s[n][2], s[n][3]: key g + 8. Scale into the log2 domain; mask keys
  // past the split or past a row's causal limit (only a tile that reaches one needs the per-key tests).
  if (key0 + 16 <= end && key0 + 15 <= lim_min) {
#pragma unroll
    for (int n = 0; n < NT; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[n][e] *= scale_log2;
  } else {
#pragma unroll
    for (int n = 0; n < NT; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int key = key0 + g + 8 * (e / 2);
        s[n][e] = (key < end && key <= lim[n][e % 2]) ? s[n][e] * scale_log2 : -INFINITY;
      }
  }
  // Online softmax per row: a row's 16 keys lie in lanes g = 0..7 (two each), so its max takes 3 rounds.
  float alpha[NT][2];
  bool moved = false;
#pragma unroll
  for (int n = 0; n < NT; ++n)
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      float mx = fmaxf(s[n][i], s[n][2 + i]);
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 4));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 8));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 16));
      const float m_new = fmaxf(m_run[n][i], mx);
      const float m_use = m_new == -INFINITY ? 0.0f : m_new;
      alpha[n][i] = exp2f(m_run[n][i] - m_use);
      m_run[n][i] = m_new;
      s[n][i] = exp2f(s[n][i] - m_use);
      s[n][2 + i] = exp2f(s[n][2 + i] - m_use);
      l_run[n][i] = l_run[n][i] * alpha[n][i] + s[n][i] + s[n][2 + i];
      moved |= alpha[n][i] != 1.0f;
    }
  if (__any_sync(0xffffffffu, moved)) {
#pragma unroll
    for (int mt = 0; mt < KSTEPS; ++mt)
#pragma unroll
      for (int n = 0; n < NT; ++n) {
        o[mt][n][0] *= alpha[n][0];
        o[mt][n][1] *= alpha[n][1];
        o[mt][n][2] *= alpha[n][0];
        o[mt][n][3] *= alpha[n][1];
      }
  }
  // P^T as the B operand [k = key][n = row]: each 8-key half of S^T, packed to 16 bits, is an 8x8 matrix in
  // fragment layout [key][row]; its transpose puts row g's keys 2t, 2t+1 in lane (g, t), as B wants.
  uint32_t pb[NT][2];
#pragma unroll
  for (int n = 0; n < NT; ++n) {
    pb[n][0] = dev::movmatrix_trans(dev::pack2<T>(s[n][0], s[n][1]));
    pb[n][1] = dev::movmatrix_trans(dev::pack2<T>(s[n][2], s[n][3]));
  }
  // O^T += V^T P^T: V^T as the A operand, transposed out of the [key][d] tile by ldmatrix.
#pragma unroll
  for (int mt = 0; mt < KSTEPS; ++mt) {
    uint32_t a[4];
    const int r = (lane % 8) + 8 * (lane / 16);
    dev::ldmatrix_x4_trans(dev::smem_u32(tV + dswz<D>(r, 2 * mt + (lane / 8) % 2)), a[0], a[1], a[2], a[3]);
#pragma unroll
    for (int n = 0; n < NT; ++n) dev::mma_16816<T>(o[mt][n], a, pb[n]);
  }
}

// One warp's pass over its tiles of [start, end), as decode_stream (flash_decode.cuh) with the keys-major
// tile: `issued` of the first STAGES - 1 tiles are already in slots 0, 1, ... (one cp.async group each).
template <typename T, int D, int STAGES, int NT>
__device__ __forceinline__ void decode_keys_stream(const AttentionParams& p, const DecodeWalk& walk, int end, int kvh,
                                                   int lane, T* sK, T* sV, int pf_page, int issued,
                                                   const uint32_t (&qb)[NT][D / 16][2], const int (&lim)[NT][2],
                                                   float (&o)[D / 16][NT][4], float (&m_run)[NT][2],
                                                   float (&l_run)[NT][2]) {
  using Tr = DecodeTraits<D>;
  constexpr int TILE = Tr::TILE;
  const int my_tiles = walk.my_tiles<TILE>(end);
  auto load_tile = [&](int i, int slot) {
    if (walk.tile_in_page && i > 0 && i % 32 == 0) pf_page = walk.fetch_pages<TILE>(i, lane);  // warp-uniform, in order
    decode_walk_tile_load<T, D>(p, walk, i, slot, end, kvh, lane, sK, sV, pf_page);
  };
#pragma unroll
  for (int i = 0; i < D / 16; ++i)
#pragma unroll
    for (int n = 0; n < NT; ++n) o[i][n][0] = o[i][n][1] = o[i][n][2] = o[i][n][3] = 0.0f;
#pragma unroll
  for (int n = 0; n < NT; ++n) {
    m_run[n][0] = m_run[n][1] = -INFINITY;
    l_run[n][0] = l_run[n][1] = 0.0f;
  }
#pragma unroll
  for (int i = 0; i < STAGES - 1; ++i) {
    if (i < issued) continue;
    if (i < my_tiles) load_tile(i, i);
    dev::cp_async_commit();
  }
  for (int i = 0; i < my_tiles; ++i) {
    dev::cp_async_wait<STAGES - 2>();
    __syncwarp();  // the tile is visible to every lane, and every lane is done with the slot refilled next
    if (i + STAGES - 1 < my_tiles) load_tile(i + STAGES - 1, (i + STAGES - 1) % STAGES);
    dev::cp_async_commit();
    const int slot = i % STAGES;
    decode_keys_tile_compute<T, D, NT>(sK + slot * Tr::TILE_ELEMS, sV + slot * Tr::TILE_ELEMS, walk.key0(i, TILE),
                                       end, p.scale_log2, lane, qb, lim, o, m_run, l_run);
  }
  dev::cp_async_wait<0>();
}

// Grid: (num_splits, Hkv, B). Block: 32 * WARPS threads. Dynamic smem: DecodeKeysTraits::SMEM_BYTES. Every
// sequence has at most 8 NT packed query rows (q_len x G <= 8 NT; the host checks). With dp.early_trigger the
// CTA lets the next programmatic dependent start before its own dependency wait (so that launch's CTAs
// may take the SM slots this launch leaves while it still merges), else after it as the other kernels.
template <typename T, int D, int WARPS, int STAGES, int NT = 1>
__global__ void __launch_bounds__(DecodeKeysTraits<D, WARPS, STAGES, NT>::THREADS,
                                  DecodeKeysTraits<D, WARPS, STAGES, NT>::MIN_CTAS)
    flash_decode_keys_kernel(const DecodeParams dp) {
  using Tr = DecodeTraits<D>;
  using Kt = DecodeKeysTraits<D, WARPS, STAGES, NT>;
  constexpr int ROWS = Kt::ROWS, OS = Kt::OS, TILE = Tr::TILE;
  const AttentionParams& p = dp.attn;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  __shared__ int s_last;

  const int split = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  DecodeCtaStart cta;
  if (!decode_cta_start<TILE>(dp, b, split, warp, WARPS, 0, lane, cta)) return;
  PAGODA_DECODE_PROBE(0);
  const int q_start = cta.q_start, q_len = cta.q_len, kv_len = cta.kv_len;
  const int rows_total = cta.rows_total, end = cta.end, active = cta.active;
  const int G = p.group, H = p.num_heads;

  T* sK = reinterpret_cast<T*>(smem_raw) + warp * STAGES * 2 * Tr::TILE_ELEMS;
  T* sV = sK + STAGES * Tr::TILE_ELEMS;
  const int issued = decode_prewait_tiles<T, D, STAGES>(p, cta, kvh, lane, sK, sV);
  if (dp.early_trigger) dev::launch_dependents();
  dev::grid_dependency_wait();
  if (!dp.early_trigger) dev::launch_dependents();
  PAGODA_DECODE_PROBE(1);

  uint32_t qb[NT][D / 16][2];
  int lim[NT][2];
  decode_keys_load_q<T, D, NT>(p, q_start, rows_total, kvh, kv_len - q_len, kv_len, lane, qb, lim);
  float o[D / 16][NT][4];
  float m_run[NT][2], l_run[NT][2];
  decode_keys_stream<T, D, STAGES, NT>(p, cta.walk, end, kvh, lane, sK, sV, cta.pf_page, issued, qb, lim, o, m_run,
                                       l_run);
  __syncthreads();  // every ring is drained: the smem becomes the combine area
  PAGODA_DECODE_PROBE(2);

  // Each warp's state of the real rows to shared memory: o [WARPS][ROWS][OS] (row-major, as the combine reads
  // it), m and l [WARPS][ROWS]. Lane (g, t) holds head dims 16 mt + g (+ 8) of rows 8n + 2t, 8n + 2t + 1.
  float* sm_o = reinterpret_cast<float*>(smem_raw);
  float* sm_m = sm_o + WARPS * ROWS * OS;
  float* sm_l = sm_m + WARPS * ROWS;
  {
    const int g = lane / 4, t = lane % 4;
#pragma unroll
    for (int n = 0; n < NT; ++n) {
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        float l = l_run[n][i];
        l += __shfl_xor_sync(0xffffffffu, l, 4);
        l += __shfl_xor_sync(0xffffffffu, l, 8);
        l += __shfl_xor_sync(0xffffffffu, l, 16);
        const int r = 8 * n + 2 * t + i;
        if (r >= rows_total) continue;  // padding row: never read
        float* dst = sm_o + (warp * ROWS + r) * OS + g;
#pragma unroll
        for (int mt = 0; mt < D / 16; ++mt) {
          dst[16 * mt] = o[mt][n][i];
          dst[16 * mt + 8] = o[mt][n][2 + i];
        }
        if (g == 0) {
          sm_m[warp * ROWS + r] = m_run[n][i];
          sm_l[warp * ROWS + r] = l;
        }
      }
    }
  }
  __syncthreads();

  const int nrows = min(ROWS, rows_total);
  constexpr int C4 = D / 4;  // float4 columns per row
  for (int idx = tid; idx < nrows * C4; idx += Kt::THREADS) {
    const int r = idx / C4, c = idx % C4;
    float4 acc;
    float inv, lse2;
    decode_combine_row<D, WARPS, ROWS, OS>(sm_o, sm_m, sm_l, 0, r, c, acc, inv, lse2);
    const int64_t row = (int64_t(q_start) + r / G) * H + kvh * G + r % G;
    decode_store_row<T, D>(dp, row, c, split, active, acc, inv, lse2);
  }
  PAGODA_DECODE_PROBE(3);
  if (active == 1) return;
  decode_split_merge<T, D, Kt::THREADS, false, Kt::MERGE_BATCH>(dp, q_start, kvh, 0, nrows, split, active, tid, s_last);
  PAGODA_DECODE_PROBE(5);
}

}  // namespace pagoda::cuda
