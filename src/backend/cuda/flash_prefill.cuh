// FlashAttention-2 forward over the paged KV cache (sm_80 mma.sync path; also what runs on sm_90
// today): mma.sync m16n8k16 with fp32 accumulation, ldmatrix from XOR-swizzled shared memory,
// cp.async double-buffered K/V tiles, online softmax in registers in the log2 domain (exp2 with the
// scale pre-multiplied by log2 e). Never materialises the T x T score matrix.
// FA2 warp layout: 4 warps x 32 rows (two 16-row mma tiles per warp), so each K/V fragment read
// from shared memory feeds two MMAs; Q fragments are re-read from shared memory per k-step
// instead of living in registers (that leaves room for the 32-row accumulators).
// GQA-native: a CTA's 128 rows are packed (token, head-in-group) pairs of one KV head, so each K/V
// tile is loaded once for the whole query-head group. Grid: (row tiles, Hkv, B), heaviest tiles
// first for causal load balance.
#pragma once

#include <cfloat>

#include "backend/cuda/attention_params.hpp"
#include "backend/cuda/device_utils.cuh"

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
  static constexpr int SMEM_BYTES = (BM + 4 * BN) * D * int(sizeof(T));
  static_assert(D == 64 || D == 128, "head dim 64 or 128");
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
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);
  T* sK = sQ + BM * D;  // [2][BN][D]
  T* sV = sK + 2 * BN * D;

  const int b = blockIdx.z;
  const int kvh = blockIdx.y;
  const int m_block = gridDim.x - 1 - blockIdx.x;
  const int q_start = p.cu_seqlens_q[b];
  const int q_len = p.cu_seqlens_q[b + 1] - q_start;
  const int G = p.group;
  const int rows_total = q_len * G;
  const int row0 = m_block * BM;
  if (row0 >= rows_total) return;
  const int kv_len = p.kv_lens[b];
  const int q_off = kv_len - q_len;
  const int32_t* bt = p.block_table + int64_t(b) * p.max_pages;
  const int P = p.page_size;
  const int H = p.num_heads, Hkv = p.num_kv_heads;

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int last_row = min(row0 + BM, rows_total) - 1;
  const int kv_end = p.causal ? min(kv_len, q_off + last_row / G + 1) : kv_len;
  // Keys <= no_mask_lim are visible to every row of the tile: such tiles skip masking.
  const int no_mask_lim = p.causal ? min(q_off + row0 / G, kv_len - 1) : kv_len - 1;
  const int n_tiles = (kv_end + BN - 1) / BN;

  const T* q = static_cast<const T*>(p.q);
  const T* kc = static_cast<const T*>(p.k);
  const T* vc = static_cast<const T*>(p.v);

  // Q tile: rows are (token, head) pairs; rows past the end are zero-filled and never written.
#pragma unroll
  for (int i = 0; i < BM * CHUNKS / Tr::THREADS; ++i) {
    const int idx = tid + i * Tr::THREADS;
    const int r = idx / CHUNKS, c = idx % CHUNKS;
    const int rho = row0 + r;
    const bool ok = rho < rows_total;
    const T* src = ok ? q + (int64_t(q_start + rho / G) * H + kvh * G + rho % G) * D + c * 8 : q;
    dev::cp_async_16(dev::smem_u32(sQ + swz<D>(r, c)), src, ok ? 16 : 0);
  }

  // Each thread loads the same chunk column of LI rows of every K/V tile; the row offsets (one page
  // lookup each) are computed with K and reused for V of the same tile.
  const int ld_c = tid % CHUNKS;
  const int ld_r0 = tid / CHUNKS;
  constexpr int ROW_STEP = Tr::THREADS / CHUNKS;
  // Cache rows (page * P + slot, < 2^31) rather than 64-bit offsets: half the registers.
  int32_t kv_row[LI];
  const int64_t row_stride = int64_t(Hkv) * D;
  const T* kc_h = kc + int64_t(kvh) * D + ld_c * 8;
  const T* vc_h = vc + int64_t(kvh) * D + ld_c * 8;
  auto compute_offsets = [&](int tile) {
#pragma unroll
    for (int i = 0; i < LI; ++i) {
      const int key = tile * BN + ld_r0 + i * ROW_STEP;
      kv_row[i] = key < kv_len ? bt[key / P] * P + key % P : -1;
    }
  };
  auto load_tile = [&](const T* base, T* dst) {
#pragma unroll
    for (int i = 0; i < LI; ++i) {
      const bool ok = kv_row[i] >= 0;
      dev::cp_async_16(dev::smem_u32(dst + swz<D>(ld_r0 + i * ROW_STEP, ld_c)), base + (ok ? kv_row[i] * row_stride : 0),
                       ok ? 16 : 0);
    }
  };

  if (n_tiles > 0) {
    compute_offsets(0);
    load_tile(kc_h, sK);
  }
  dev::cp_async_commit();
  if (n_tiles > 0) load_tile(vc_h, sV);
  dev::cp_async_commit();

  // Per thread: rows g and g + 8 of each of the warp's two 16-row tiles; columns 2t, 2t + 1 of each
  // 8-wide tile.
  const int g = lane / 4, t = lane % 4;
  int lim[WM][2];
#pragma unroll
  for (int mi = 0; mi < WM; ++mi)
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int rho = min(row0 + warp * 16 * WM + mi * 16 + g + 8 * i, rows_total - 1);
      lim[mi][i] = p.causal ? min(q_off + rho / G, kv_len - 1) : kv_len - 1;
    }

  float o[WM][D / 8][4];
#pragma unroll
  for (int mi = 0; mi < WM; ++mi)
#pragma unroll
    for (int i = 0; i < D / 8; ++i) o[mi][i][0] = o[mi][i][1] = o[mi][i][2] = o[mi][i][3] = 0.0f;
  float m_run[WM][2], l_run[WM][2];
#pragma unroll
  for (int mi = 0; mi < WM; ++mi) {
    m_run[mi][0] = m_run[mi][1] = -INFINITY;
    l_run[mi][0] = l_run[mi][1] = 0.0f;
  }
  const int q_lrow = warp * 16 * WM + (lane % 8) + 8 * ((lane / 8) % 2);

  for (int j = 0; j < n_tiles; ++j) {
    dev::cp_async_wait<1>();
    __syncthreads();
    if (j + 1 < n_tiles) {
      compute_offsets(j + 1);
      load_tile(kc_h, sK + ((j + 1) & 1) * BN * D);
    }
    dev::cp_async_commit();

    // S = Q K^T for this warp's 32 rows x BN keys; each K fragment feeds both row tiles.
    const T* sKj = sK + (j & 1) * BN * D;
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
        dev::ldmatrix_x4(dev::smem_u32(sQ + swz<D>(q_lrow + mi * 16, 2 * kk + lane / 16)), qa[mi][0], qa[mi][1],
                         qa[mi][2], qa[mi][3]);
#pragma unroll
      for (int np = 0; np < BN / 16; ++np) {
        uint32_t b0[2], b1[2];
        const int r = np * 16 + (lane % 8) + 8 * (lane / 16);
        dev::ldmatrix_x4(dev::smem_u32(sKj + swz<D>(r, 2 * kk + (lane / 8) % 2)), b0[0], b0[1], b1[0], b1[1]);
#pragma unroll
        for (int mi = 0; mi < WM; ++mi) {
          dev::mma_16816<T>(s[mi][2 * np], qa[mi], b0);
          dev::mma_16816<T>(s[mi][2 * np + 1], qa[mi], b1);
        }
      }
    }

    const int n0 = j * BN;
    const bool need_mask = n0 + BN - 1 > no_mask_lim;
#pragma unroll
    for (int mi = 0; mi < WM; ++mi)
#pragma unroll
      for (int nt = 0; nt < BN / 8; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          float v = s[mi][nt][e] * p.scale_log2;
          if (need_mask) {
            const int key = n0 + nt * 8 + 2 * t + (e & 1);
            if (key > lim[mi][e / 2]) v = -INFINITY;
          }
          s[mi][nt][e] = v;
        }
      }

    // Online softmax (log2 domain); row sums stay thread-local until the end.
#pragma unroll
    for (int mi = 0; mi < WM; ++mi)
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        float mx = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < BN / 8; ++nt) mx = fmaxf(mx, fmaxf(s[mi][nt][2 * i], s[mi][nt][2 * i + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float m_new = fmaxf(m_run[mi][i], mx);
        const float m_use = m_new == -INFINITY ? 0.0f : m_new;
        const float alpha = dev::fast_exp2(m_run[mi][i] - m_use);
        m_run[mi][i] = m_new;
        float sum = 0.0f;
#pragma unroll
        for (int nt = 0; nt < BN / 8; ++nt) {
          s[mi][nt][2 * i] = dev::fast_exp2(s[mi][nt][2 * i] - m_use);
          s[mi][nt][2 * i + 1] = dev::fast_exp2(s[mi][nt][2 * i + 1] - m_use);
          sum += s[mi][nt][2 * i] + s[mi][nt][2 * i + 1];
        }
        l_run[mi][i] = l_run[mi][i] * alpha + sum;
#pragma unroll
        for (int dt = 0; dt < D / 8; ++dt) {
          o[mi][dt][2 * i] *= alpha;
          o[mi][dt][2 * i + 1] *= alpha;
        }
      }

    dev::cp_async_wait<1>();
    __syncthreads();
    if (j + 1 < n_tiles) load_tile(vc_h, sV + ((j + 1) & 1) * BN * D);
    dev::cp_async_commit();

    // O += P V: the S accumulator layout is exactly mma's A-operand layout once packed to 16 bits;
    // each V fragment feeds both row tiles.
    const T* sVj = sV + (j & 1) * BN * D;
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      uint32_t a[WM][4];
#pragma unroll
      for (int mi = 0; mi < WM; ++mi) {
        a[mi][0] = dev::pack2<T>(s[mi][2 * kk][0], s[mi][2 * kk][1]);
        a[mi][1] = dev::pack2<T>(s[mi][2 * kk][2], s[mi][2 * kk][3]);
        a[mi][2] = dev::pack2<T>(s[mi][2 * kk + 1][0], s[mi][2 * kk + 1][1]);
        a[mi][3] = dev::pack2<T>(s[mi][2 * kk + 1][2], s[mi][2 * kk + 1][3]);
      }
#pragma unroll
      for (int dq = 0; dq < D / 16; ++dq) {
        uint32_t b0[2], b1[2];
        const int r = kk * 16 + (lane % 8) + 8 * ((lane / 8) % 2);
        dev::ldmatrix_x4_trans(dev::smem_u32(sVj + swz<D>(r, 2 * dq + lane / 16)), b0[0], b0[1], b1[0], b1[1]);
#pragma unroll
        for (int mi = 0; mi < WM; ++mi) {
          dev::mma_16816<T>(o[mi][2 * dq], a[mi], b0);
          dev::mma_16816<T>(o[mi][2 * dq + 1], a[mi], b1);
        }
      }
    }
  }
  dev::cp_async_wait<0>();

  T* out = static_cast<T*>(p.out);
#pragma unroll
  for (int mi = 0; mi < WM; ++mi)
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      float l = l_run[mi][i];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const int rho = row0 + warp * 16 * WM + mi * 16 + g + 8 * i;
      if (rho >= rows_total) continue;
      const float inv = l > 0.0f ? 1.0f / l : 0.0f;
      const int64_t tok = q_start + rho / G;
      const int head = kvh * G + rho % G;
      T* dst = out + (tok * H + head) * D;
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt) {
        const uint32_t v = dev::pack2<T>(o[mi][dt][2 * i] * inv, o[mi][dt][2 * i + 1] * inv);
        *reinterpret_cast<uint32_t*>(dst + dt * 8 + 2 * t) = v;
      }
      if (p.lse != nullptr && t == 0) {
        p.lse[tok * H + head] = l > 0.0f ? (m_run[mi][i] + log2f(l)) * dev::LN2 : -INFINITY;
      }
    }
}

}  // namespace pagoda::cuda
