// FlashAttention-2 forward over the paged KV cache (sm_80 mma.sync path; also what runs on sm_90
// today): mma.sync m16n8k16 with fp32 accumulation, ldmatrix from XOR-swizzled shared memory,
// cp.async double-buffered K/V tiles, online softmax in registers in the log2 domain (max over raw
// scores, then one FFMA + ex2 per score). Never materialises the T x T score matrix.
// FA2 warp layout: 4 warps x 32 rows (two 16-row mma tiles per warp), so each K/V fragment read
// from shared memory feeds two MMAs; Q fragments are re-read from shared memory per k-step
// instead of living in registers (that leaves room for the 32-row accumulators).
// GQA-native: a CTA's 128 rows are packed (token, head-in-group) pairs of one KV head, so each K/V
// tile is loaded once for the whole query-head group. Grid: (row tiles, Hkv, B), heaviest tiles
// first for causal load balance; all row tiles of one (sequence, KV head) run side by side and share
// its K/V in L2 (a global heaviest-first order over a flat grid measured 3% slower at 8k-16k).
// v3: page-table lookups (one per key, by BN threads) run two tiles ahead into a small shared
// array, so no load of the K/V loop waits on the block table; the O rescale is skipped when no
// row max of the warp moved; P is packed to 16 bits right after ex2.
#pragma once

#include <cfloat>

#include "backend/cuda/attention/attention_params.hpp"
#include "backend/cuda/device_utils.cuh"
#include "backend/cuda/attention/flash_prefill_work.cuh"

namespace pagoda::cuda {

template <typename T, int D, int BN_ = 64>
struct PrefillTraits {
  static constexpr int WM = 2;           // 16-row mma tiles per warp
  static constexpr int WARPS = 4;
  static constexpr int BM = 16 * WM * WARPS;  // packed query rows per CTA
  static constexpr int BN = BN_;         // keys per tile
  static constexpr int THREADS = 32 * WARPS;
  static constexpr int CHUNKS = D / 8;   // 16-byte chunks per row
  static constexpr int LOAD_ITERS = BN * CHUNKS / THREADS;  // chunks per thread per K or V tile
  static constexpr int ROW_STEP = THREADS / CHUNKS;         // rows between one thread's chunks
  // Q, K[2], V[2], then the element offsets of two key tiles' cache rows (int64, -1 past the end).
  static constexpr int SMEM_BYTES = (BM + 4 * BN) * D * int(sizeof(T)) + 2 * BN * int(sizeof(int64_t));
  static_assert(D == 64 || D == 128, "head dim 64 or 128");
  static_assert(BN <= THREADS, "one thread per key computes the tile's cache rows");
};

// Element offset of 16-byte chunk c of row r in a [rows, D] tile: chunk index XOR (row % 8) so that
// ldmatrix's 8 rows at one logical chunk land in 8 different bank groups.
template <int D>
__device__ __forceinline__ int swz(int r, int c) {
  return r * D + ((c ^ (r & 7)) << 3);
}

template <typename T, int D, int BN_>
__global__ void __launch_bounds__(128, 2) flash_prefill_kernel(const AttentionParams p) {
  using Tr = PrefillTraits<T, D, BN_>;
  constexpr int BM = Tr::BM, BN = Tr::BN, CHUNKS = Tr::CHUNKS, LI = Tr::LOAD_ITERS, WM = Tr::WM;
  constexpr int ROW_STEP = Tr::ROW_STEP;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);
  T* sK = sQ + BM * D;  // [2][BN][D]
  T* sV = sK + 2 * BN * D;
  int64_t* sRow = reinterpret_cast<int64_t*>(sV + 2 * BN * D);  // [2][BN] offsets of a key tile's rows

  PrefillWork w;
  if (!prefill_work_make<BM, BN>(p, w)) return;
  const int32_t* bt = p.block_table + int64_t(w.b) * p.max_pages;
  const int P = p.page_size;
  const int H = p.num_heads, Hkv = p.num_kv_heads;

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  // Keys <= no_mask_lim are visible to every row of the tile: such tiles skip masking.
  const int no_mask_lim = p.causal ? min(w.q_off + w.row0 / w.G, w.kv_len - 1) : w.kv_len - 1;

  const T* q = static_cast<const T*>(p.q);

  // Q tile: rows are (token, head) pairs; rows past the end are zero-filled and never written.
#pragma unroll
  for (int i = 0; i < BM * CHUNKS / Tr::THREADS; ++i) {
    const int idx = tid + i * Tr::THREADS;
    const int r = idx / CHUNKS, c = idx % CHUNKS;
    const int rho = w.row0 + r;
    const bool ok = rho < w.rows_total;
    const T* src = ok ? q + (int64_t(w.q_start + rho / w.G) * H + w.kvh * w.G + rho % w.G) * D + c * 8 : q;
    dev::cp_async_16(dev::smem_u32(sQ + swz<D>(r, c)), src, ok ? 16 : 0);
  }

  // Byte offset of key `key`'s row of this KV head ((page * P + slot) * Hkv + kvh) * D * 2, or -1 past
  // the sequence; one thread per key.
  constexpr int RB = D * int(sizeof(T));  // bytes per row
  const int64_t row_bytes = int64_t(Hkv) * RB;
  auto cache_row = [&](int key) -> int64_t {
    return key < w.kv_len ? (bt[key / P] * P + key % P) * row_bytes + w.kvh * RB : int64_t(-1);
  };
  if (tid < BN) {
    sRow[tid] = cache_row(tid);
    if (w.n_tiles > 1) sRow[BN + tid] = cache_row(BN + tid);
  }
  __syncthreads();

  // Each thread loads the same chunk column of LI rows of every K/V tile, at the rows sRow holds.
  const int ld_c = tid % CHUNKS;
  const int ld_r0 = tid / CHUNKS;
  static_assert(ROW_STEP % 8 == 0, "a thread's rows share one swizzle phase");
  const char* kc_t = static_cast<const char*>(p.k) + ld_c * 16;
  const char* vc_t = static_cast<const char*>(p.v) + ld_c * 16;
  const uint32_t ld_dst = swz<D>(ld_r0, ld_c) * int(sizeof(T));  // byte offset inside a tile
  // Full tiles (every key inside the sequence, all but the last) skip the zero-fill bookkeeping.
  auto load_tile = [&](const char* base, uint32_t dst, const int64_t* rows, int tile) {
    if ((tile + 1) * BN <= w.kv_len) {
#pragma unroll
      for (int i = 0; i < LI; ++i) dev::cp_async_16(dst + ld_dst + i * ROW_STEP * RB, base + rows[ld_r0 + i * ROW_STEP]);
    } else {
#pragma unroll
      for (int i = 0; i < LI; ++i) {
        const int64_t off = rows[ld_r0 + i * ROW_STEP];
        const bool ok = off >= 0;
        dev::cp_async_16(dst + ld_dst + i * ROW_STEP * RB, base + (ok ? off : 0), ok ? 16 : 0);
      }
    }
  };
  const uint32_t sK_u = dev::smem_u32(sK), sV_u = dev::smem_u32(sV);

  if (w.n_tiles > 0) load_tile(kc_t, sK_u, sRow, 0);
  dev::cp_async_commit();
  if (w.n_tiles > 0) load_tile(vc_t, sV_u, sRow, 0);
  dev::cp_async_commit();

  // Per thread: rows g and g + 8 of each of the warp's two 16-row tiles; columns 2t, 2t + 1 of each
  // 8-wide tile.
  const int g = lane / 4, t = lane % 4;

  float o[WM][D / 8][4];
#pragma unroll
  for (int mi = 0; mi < WM; ++mi)
#pragma unroll
    for (int i = 0; i < D / 8; ++i) o[mi][i][0] = o[mi][i][1] = o[mi][i][2] = o[mi][i][3] = 0.0f;
  // Running max in the raw-score domain (scale > 0 is checked on the host), running sum of 2^(...).
  float m_run[WM][2], l_run[WM][2];
#pragma unroll
  for (int mi = 0; mi < WM; ++mi) {
    m_run[mi][0] = m_run[mi][1] = -INFINITY;
    l_run[mi][0] = l_run[mi][1] = 0.0f;
  }
  // ldmatrix addresses. Row r's 16-byte chunk 2k + b (b = 0, 1) sits at byte ((2k + b) ^ (r % 8)) * 16
  // = (k * 32) ^ ((b ^ (r % 8)) * 16) of the row, so each thread keeps one row address and one low
  // part per operand and forms every k-step's address with one XOR and one add.
  const int q_lrow = warp * 16 * WM + (lane % 8) + 8 * ((lane / 8) % 2);
  const uint32_t q_addr = dev::smem_u32(sQ) + q_lrow * RB;
  const uint32_t q_low = ((lane / 16) ^ (lane % 8)) << 4;
  const uint32_t k_addr0 = sK_u + ((lane % 8) + 8 * (lane / 16)) * RB;
  const uint32_t k_low = (((lane / 8) % 2) ^ (lane % 8)) << 4;
  const uint32_t v_addr0 = sV_u + ((lane % 8) + 8 * ((lane / 8) % 2)) * RB;
  const uint32_t v_low = ((lane / 16) ^ (lane % 8)) << 4;
  const float sl2 = p.scale_log2;

  for (int j = 0; j < w.n_tiles; ++j) {
    dev::cp_async_wait<1>();
    __syncthreads();
    if (j + 1 < w.n_tiles) load_tile(kc_t, sK_u + ((j + 1) & 1) * BN * RB, sRow + ((j + 1) & 1) * BN, j + 1);
    dev::cp_async_commit();
    // Block-table read for tile j + 2, consumed (stored to sRow) only after the second barrier, so
    // its latency hides under this tile's QK^T and softmax.
    const bool row_ahead = tid < BN && j + 2 < w.n_tiles;
    const int64_t row_next = row_ahead ? cache_row((j + 2) * BN + tid) : int64_t(-1);

    // S = Q K^T for this warp's 32 rows x BN keys; each K fragment feeds both row tiles.
    const uint32_t k_addr = k_addr0 + (j & 1) * BN * RB;
    float s[WM][BN / 8][4];
#pragma unroll
    for (int mi = 0; mi < WM; ++mi)
#pragma unroll
      for (int i = 0; i < BN / 8; ++i) s[mi][i][0] = s[mi][i][1] = s[mi][i][2] = s[mi][i][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t qa[WM][4];
#pragma unroll
      for (int mi = 0; mi < WM; ++mi)
        dev::ldmatrix_x4(q_addr + mi * 16 * RB + (q_low ^ (kk << 5)), qa[mi][0], qa[mi][1], qa[mi][2], qa[mi][3]);
#pragma unroll
      for (int np = 0; np < BN / 16; ++np) {
        uint32_t b0[2], b1[2];
        dev::ldmatrix_x4(k_addr + np * 16 * RB + (k_low ^ (kk << 5)), b0[0], b0[1], b1[0], b1[1]);
#pragma unroll
        for (int mi = 0; mi < WM; ++mi) {
          dev::mma_16816<T>(s[mi][2 * np], qa[mi], b0);
          dev::mma_16816<T>(s[mi][2 * np + 1], qa[mi], b1);
        }
      }
    }

    const int n0 = j * BN;
    if (n0 + BN - 1 > no_mask_lim) {  // diagonal or last tile: mask keys past each row's limit
#pragma unroll
      for (int mi = 0; mi < WM; ++mi)
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          const int rho = min(w.row0 + warp * 16 * WM + mi * 16 + g + 8 * i, w.rows_total - 1);
          const int lim = p.causal ? min(w.q_off + rho / w.G, w.kv_len - 1) : w.kv_len - 1;
#pragma unroll
          for (int nt = 0; nt < BN / 8; ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e)
              if (n0 + nt * 8 + 2 * t + e > lim) s[mi][nt][2 * i + e] = -INFINITY;
        }
    }

    // Online softmax (log2 domain): max over raw scores, p = 2^(s * scale - m * scale) as one FFMA
    // and one ex2. Row sums stay thread-local until the end.
    uint32_t pk[WM][BN / 16][4];  // P packed to 16 bits: mma's A-operand layout for P V
    bool moved = false;
    float alpha[WM][2];
#pragma unroll
    for (int mi = 0; mi < WM; ++mi)
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        float mx = m_run[mi][i];
#pragma unroll
        for (int nt = 0; nt < BN / 8; ++nt) mx = fmaxf(mx, fmaxf(s[mi][nt][2 * i], s[mi][nt][2 * i + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        moved |= mx > m_run[mi][i];
        const float m_sc = mx == -INFINITY ? 0.0f : mx * sl2;
        alpha[mi][i] = dev::fast_exp2(fmaf(m_run[mi][i], sl2, -m_sc));
        m_run[mi][i] = mx;
        float sum = 0.0f;
#pragma unroll
        for (int nt = 0; nt < BN / 8; ++nt) {
          s[mi][nt][2 * i] = dev::fast_exp2(fmaf(s[mi][nt][2 * i], sl2, -m_sc));
          s[mi][nt][2 * i + 1] = dev::fast_exp2(fmaf(s[mi][nt][2 * i + 1], sl2, -m_sc));
          sum += s[mi][nt][2 * i] + s[mi][nt][2 * i + 1];
        }
        l_run[mi][i] = fmaf(l_run[mi][i], alpha[mi][i], sum);
      }
#pragma unroll
    for (int mi = 0; mi < WM; ++mi)
#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk) {
        pk[mi][kk][0] = dev::pack2<T>(s[mi][2 * kk][0], s[mi][2 * kk][1]);
        pk[mi][kk][1] = dev::pack2<T>(s[mi][2 * kk][2], s[mi][2 * kk][3]);
        pk[mi][kk][2] = dev::pack2<T>(s[mi][2 * kk + 1][0], s[mi][2 * kk + 1][1]);
        pk[mi][kk][3] = dev::pack2<T>(s[mi][2 * kk + 1][2], s[mi][2 * kk + 1][3]);
      }
    // alpha = 1 exactly (ex2(0)) for rows whose max did not move, so a warp with no moved row skips
    // the D/2 multiplies per row; past the first tiles of a long row that is most tiles.
    if (__any_sync(0xffffffffu, moved)) {
#pragma unroll
      for (int mi = 0; mi < WM; ++mi)
#pragma unroll
        for (int i = 0; i < 2; ++i) {
#pragma unroll
          for (int dt = 0; dt < D / 8; ++dt) {
            o[mi][dt][2 * i] *= alpha[mi][i];
            o[mi][dt][2 * i + 1] *= alpha[mi][i];
          }
        }
    }

    dev::cp_async_wait<1>();
    __syncthreads();
    if (j + 1 < w.n_tiles) load_tile(vc_t, sV_u + ((j + 1) & 1) * BN * RB, sRow + ((j + 1) & 1) * BN, j + 1);
    dev::cp_async_commit();
    // sRow[j & 1] (tile j) was last read before this iteration's first barrier; tile j + 2 is read
    // after the next iteration's first barrier.
    if (row_ahead) sRow[(j & 1) * BN + tid] = row_next;

    // O += P V; each V fragment feeds both row tiles.
    const uint32_t v_addr = v_addr0 + (j & 1) * BN * RB;
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
#pragma unroll
      for (int dq = 0; dq < D / 16; ++dq) {
        uint32_t b0[2], b1[2];
        dev::ldmatrix_x4_trans(v_addr + kk * 16 * RB + (v_low ^ (dq << 5)), b0[0], b0[1], b1[0], b1[1]);
#pragma unroll
        for (int mi = 0; mi < WM; ++mi) {
          dev::mma_16816<T>(o[mi][2 * dq], pk[mi][kk], b0);
          dev::mma_16816<T>(o[mi][2 * dq + 1], pk[mi][kk], b1);
        }
      }
    }
  }
  dev::cp_async_wait<0>();

#pragma unroll
  for (int mi = 0; mi < WM; ++mi)
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      float l = l_run[mi][i];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      prefill_store_row<T, D>(p, w, w.row0 + warp * 16 * WM + mi * 16 + g + 8 * i, l, m_run[mi][i], t,
                              [&](int c) { return make_float2(o[mi][c][2 * i], o[mi][c][2 * i + 1]); });
    }
}

}  // namespace pagoda::cuda
