// On-device sampling: one 512-thread block per row, a few passes over the row's logits (L2 resident
// for a block at a time). Cut points come from exact radix descents over an order-preserving
// 32-bit key of the scaled logit (counts for top-k, fixed-point probability mass for top-p), so no
// sort of V is needed; ties at a cut are resolved by a second descent over token ids (lower first).
// Sums use fixed reduction trees or integer atomics: a row's result is bit-reproducible.
#include "backend/cuda/ops/sampling.hpp"

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/ops/cuda_check.hpp"

namespace pagoda::cuda {

namespace {

// 512 threads: the unrolled passes need more than the 64 registers a 1024-thread block allows.
constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr int kUnroll = 6;        // float4 loads in flight per thread in each pass
constexpr int kDigitBits = 11;    // radix digit: 2048 bins, 3 passes over a 32-bit key
constexpr int kBins = 1 << kDigitBits;
constexpr int32_t kNoId = INT32_MAX;
constexpr double kMassScale = 0x1p62;  // fixed-point probability mass: sums of V floats <= 1 fit

// Order-preserving key: a > b as floats (with -0 == +0) iff key(a) > key(b) as integers.
__device__ __forceinline__ uint32_t float_key(float v) {
  if (v == 0.0f) v = 0.0f;
  const uint32_t b = __float_as_uint(v);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
__device__ __forceinline__ float key_float(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

// The kept prefix of the order (value desc, id asc): (key, id) ranks at or before (cut.key, cut.id).
struct Cut {
  uint32_t key = 0;
  int32_t id = kNoId;
};
__device__ __forceinline__ bool within(uint32_t k, int64_t i, Cut c) {
  return k > c.key || (k == c.key && i <= c.id);
}
__device__ __forceinline__ Cut earlier(Cut a, Cut b) {
  return (a.key > b.key || (a.key == b.key && a.id < b.id)) ? a : b;
}

struct Scratch {
  // 64-bit bins as two 32-bit words: shared-memory atomics are native for 32 bits only (64-bit
  // adds are compare-and-swap loops, which collide badly when most logits share a digit).
  uint32_t hist_lo[kBins], hist_hi[kBins];
  unsigned long long u64[kWarps];
  double f64[kWarps];
  uint32_t key[kWarps];
  int32_t id[kWarps];
  uint32_t out_key;
  int32_t out_id;
  unsigned long long out_a, out_b;
  double out_d;
};

// Calls f(i, x) for every element x = row[i], 24 loads in flight per thread (float4 when aligned):
// a block per row is bound by load latency unless each thread keeps several loads outstanding.
// Plain loads: the row was written (penalties) earlier in this kernel.
template <class F>
__device__ __forceinline__ void for_each(const float* row, int64_t V, F&& f) {
  const int64_t t = threadIdx.x;
  if ((V & 3) == 0 && (reinterpret_cast<uintptr_t>(row) & 15) == 0) {
    const float4* r4 = reinterpret_cast<const float4*>(row);
    const int64_t n4 = V >> 2;
    int64_t j = t;
    for (; j + (kUnroll - 1) * kThreads < n4; j += kUnroll * kThreads) {
      float4 v[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) v[u] = r4[j + u * kThreads];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t i = (j + u * kThreads) * 4;
        f(i, v[u].x), f(i + 1, v[u].y), f(i + 2, v[u].z), f(i + 3, v[u].w);
      }
    }
    for (; j < n4; j += kThreads) {
      const float4 v = r4[j];
      f(j * 4, v.x), f(j * 4 + 1, v.y), f(j * 4 + 2, v.z), f(j * 4 + 3, v.w);
    }
  } else {
    int64_t i = t;
    for (; i + (4 * kUnroll - 1) * kThreads < V; i += 4 * kUnroll * kThreads) {
      float v[4 * kUnroll];
#pragma unroll
      for (int u = 0; u < 4 * kUnroll; ++u) v[u] = row[i + u * kThreads];
#pragma unroll
      for (int u = 0; u < 4 * kUnroll; ++u) f(i + u * kThreads, v[u]);
    }
    for (; i < V; i += kThreads) f(i, row[i]);
  }
}

__device__ __forceinline__ void hist_add(Scratch& s, int b, unsigned long long w) {
  const uint32_t lo = static_cast<uint32_t>(w);
  const uint32_t old = atomicAdd(&s.hist_lo[b], lo);
  const uint32_t hi = static_cast<uint32_t>(w >> 32) + (old + lo < old ? 1u : 0u);  // carry
  if (hi) atomicAdd(&s.hist_hi[b], hi);
}
__device__ __forceinline__ unsigned long long hist_get(const Scratch& s, int b) {
  return (static_cast<unsigned long long>(s.hist_hi[b]) << 32) + s.hist_lo[b];
}

// Max key, lower id on ties, over the block; every thread gets the result.
__device__ void block_best(uint32_t& key, int32_t& id, Scratch& s) {
  for (int o = 16; o > 0; o >>= 1) {
    const uint32_t ok = __shfl_xor_sync(0xffffffffu, key, o);
    const int32_t oi = __shfl_xor_sync(0xffffffffu, id, o);
    if (ok > key || (ok == key && oi < id)) key = ok, id = oi;
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) s.key[warp] = key, s.id[warp] = id;
  __syncthreads();
  if (warp == 0) {
    key = lane < kWarps ? s.key[lane] : 0u;
    id = lane < kWarps ? s.id[lane] : kNoId;
    for (int o = 16; o > 0; o >>= 1) {
      const uint32_t ok = __shfl_xor_sync(0xffffffffu, key, o);
      const int32_t oi = __shfl_xor_sync(0xffffffffu, id, o);
      if (ok > key || (ok == key && oi < id)) key = ok, id = oi;
    }
    if (lane == 0) s.out_key = key, s.out_id = id;
  }
  __syncthreads();
  key = s.out_key, id = s.out_id;
  __syncthreads();
}

// Fixed-tree sums (same tree for every row and batch: reproducible).
__device__ double block_sum(double v, Scratch& s) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) s.f64[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kWarps ? s.f64[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) s.out_d = v;
  }
  __syncthreads();
  v = s.out_d;
  __syncthreads();
  return v;
}
__device__ unsigned long long block_sum(unsigned long long v, Scratch& s) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) s.u64[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kWarps ? s.u64[lane] : 0ull;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) s.out_a = v;
  }
  __syncthreads();
  v = s.out_a;
  __syncthreads();
  return v;
}

// Radix descent, kDigitBits a pass from bit BITS-1: among elements with member(i, x, &key), finds the key
// value T with W(key > T) < target <= W(key >= T), W summing weight(key). Returns false (and
// leaves T alone) when W(all) < target. above = W(key > T), at = W(key == T). Integer atomics:
// the result does not depend on the order the threads add in.
template <int BITS, class Member, class Weight>
__device__ bool radix_select(const float* row, int64_t V, Member member, Weight weight, unsigned long long target,
                             uint32_t& T, unsigned long long& above, unsigned long long& at, Scratch& s,
                             bool first_counted = false) {
  uint32_t prefix = 0, mask = 0;
  above = 0;
  for (int hi = BITS; hi > 0;) {
    const int lo = hi > kDigitBits ? hi - kDigitBits : 0;
    const uint32_t digit_mask = (1u << (hi - lo)) - 1u;
    const bool counted = first_counted && hi == BITS;  // the caller's pass filled the first digit
    if (!counted)
      for (int b = threadIdx.x; b < kBins; b += blockDim.x) s.hist_lo[b] = s.hist_hi[b] = 0;
    if (threadIdx.x == 0) s.out_key = 0xffffffffu;
    __syncthreads();
    if (!counted) {
      // Runs of one bin are added once: the first digit puts most logits in a few bins.
      int cur = -1;
      unsigned long long acc = 0;
      for_each(row, V, [&](int64_t i, float x) {
        uint32_t k;
        if (!member(i, x, k) || (k & mask) != prefix) return;
        const int b = static_cast<int>((k >> lo) & digit_mask);
        if (b != cur) {
          if (acc) hist_add(s, cur, acc);
          cur = b;
          acc = 0;
        }
        acc += weight(k);
      });
      if (acc) hist_add(s, cur, acc);
      __syncthreads();
    }
    if (threadIdx.x < 32) {
      constexpr int kPerLane = kBins / 32;
      const int lane = threadIdx.x;
      unsigned long long mine = 0;
      for (int j = 0; j < kPerLane; ++j) mine += hist_get(s, lane * kPerLane + j);
      unsigned long long suf = mine;  // inclusive suffix over lanes (bins from the top)
      for (int o = 1; o < 32; o <<= 1) {
        const unsigned long long v = __shfl_down_sync(0xffffffffu, suf, o);
        if (lane + o < 32) suf += v;
      }
      const unsigned long long a0 = above + (suf - mine);
      if (a0 < target && target <= above + suf) {  // exactly one lane, when W(all) >= target
        unsigned long long a = a0;
        int b = lane * kPerLane + kPerLane - 1;
        for (; b > lane * kPerLane; --b) {
          if (a + hist_get(s, b) >= target) break;
          a += hist_get(s, b);
        }
        s.out_key = static_cast<uint32_t>(b);
        s.out_a = a;
        s.out_b = hist_get(s, b);
      }
    }
    __syncthreads();
    const uint32_t b = s.out_key;
    const unsigned long long a = s.out_a, h = s.out_b;
    __syncthreads();
    if (b == 0xffffffffu) return false;
    above = a;
    at = h;
    prefix |= b << lo;
    mask |= digit_mask << lo;
    hi = lo;
  }
  T = prefix;
  return true;
}

// Philox4x32-10 (Salmon et al., SC'11), the generator of cuRAND's and Random123's Philox.
__device__ __forceinline__ uint4 philox4x32_10(uint4 c, uint2 k) {
#pragma unroll
  for (int i = 0; i < 10; ++i) {
    const uint32_t hi0 = __umulhi(0xD2511F53u, c.x), lo0 = 0xD2511F53u * c.x;
    const uint32_t hi1 = __umulhi(0xCD9E8D57u, c.z), lo1 = 0xCD9E8D57u * c.z;
    c = make_uint4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k.x += 0x9E3779B9u;
    k.y += 0xBB67AE85u;
  }
  return c;
}

// One Philox block serves tokens 2j and 2j + 1 (64 bits each), counter (j, 0, position).
__device__ __forceinline__ uint4 philox_pair(uint64_t seed, uint64_t position, int64_t pair) {
  return philox4x32_10(make_uint4(static_cast<uint32_t>(pair), 0u, static_cast<uint32_t>(position),
                                  static_cast<uint32_t>(position >> 32)),
                       make_uint2(static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)));
}
// E ~ Exp(1) from a token's 64 bits: -log(1 - u), u in [0, 1) with relative precision near 0.
__device__ __forceinline__ float exponential_of(uint4 r, bool odd) {
  const uint64_t h = odd ? (static_cast<uint64_t>(r.z) << 32) | r.w : (static_cast<uint64_t>(r.x) << 32) | r.y;
  const float u = __ull2float_rz(h) * 0x1p-64f;  // toward zero: u < 1
  return -log1pf(-u);
}
__device__ __forceinline__ float exponential(uint64_t seed, uint64_t position, int64_t token) {
  return exponential_of(philox_pair(seed, position, token >> 1), token & 1);
}

// The top-k survivors, sorted in shared memory when top_k <= kThreads (one per thread): the rest
// of the filter and the draw then run on them without more passes over V.
struct Sorted {
  uint32_t key[kThreads];
  int32_t id[kThreads];
  uint32_t count;
};

// Sorts s.key/s.id by (key desc, id asc) with a bitonic network, one element per thread.
__device__ void bitonic_sort(Sorted& c) {
  const unsigned t = threadIdx.x;
  for (unsigned size = 2; size <= kThreads; size <<= 1) {
    for (unsigned stride = size >> 1; stride > 0; stride >>= 1) {
      const unsigned o = t ^ stride;
      if (o > t) {
        const uint32_t ka = c.key[t], kb = c.key[o];
        const int32_t ia = c.id[t], ib = c.id[o];
        const bool a_first = ka > kb || (ka == kb && ia < ib);
        const bool descending = (t & size) == 0;  // this half of the network puts "first" at t
        if (a_first != descending) {
          c.key[t] = kb, c.key[o] = ka;
          c.id[t] = ib, c.id[o] = ia;
        }
      }
      __syncthreads();
    }
  }
}

// Inclusive prefix sum over the block in thread order (fixed tree).
__device__ double block_scan(double v, Scratch& s) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int o = 1; o < 32; o <<= 1) {
    const double u = __shfl_up_sync(0xffffffffu, v, o);
    if (lane >= o) v += u;
  }
  if (lane == 31) s.f64[warp] = v;
  __syncthreads();
  if (warp == 0) {
    double w = lane < kWarps ? s.f64[lane] : 0.0;
    for (int o = 1; o < 32; o <<= 1) {
      const double u = __shfl_up_sync(0xffffffffu, w, o);
      if (lane >= o) w += u;
    }
    if (lane < kWarps) s.f64[lane] = w;
  }
  __syncthreads();
  if (warp > 0) v += s.f64[warp - 1];
  __syncthreads();
  return v;
}

// The lowest thread index whose flag is set (kThreads when none).
__device__ int32_t block_first(bool flag, Scratch& s) {
  uint32_t k = flag ? 1u : 0u;
  int32_t i = static_cast<int32_t>(threadIdx.x);
  block_best(k, i, s);
  return k ? i : kThreads;
}

__global__ void __launch_bounds__(kThreads) sample_kernel(float* logits, int64_t V, const SampleRowParams* params,
                                                          const SamplePenalty* penalties, int32_t* ids, float* probs) {
  __shared__ Scratch s;
  __shared__ Sorted c;
  const int64_t r = blockIdx.x;
  float* row = logits + r * V;
  float* prow = probs ? probs + r * V : nullptr;
  const SampleRowParams p = params[r];

  // Penalties in place (at most one entry per token: no two threads touch one logit).
  for (int32_t j = p.penalty_begin + static_cast<int32_t>(threadIdx.x); j < p.penalty_end; j += blockDim.x) {
    const SamplePenalty e = penalties[j];
    if (e.token < 0 || e.token >= V) continue;
    float l = row[e.token];
    if (e.repetition) l = l > 0 ? __fdiv_rn(l, p.repetition_penalty) : __fmul_rn(l, p.repetition_penalty);
    row[e.token] = __fsub_rn(l, e.subtract);
  }
  __syncthreads();  // orders the global writes above before every thread's reads below

  auto write_probs = [&](auto value_of) {  // tests only
    if (prow) for_each(row, V, [&](int64_t i, float x) { prow[i] = value_of(i, x); });
  };

  if (!(p.inv_temperature > 0.0f)) {  // greedy: argmax of the penalised logits, lowest id on ties
    uint32_t bk = 0;
    int32_t bi = kNoId;
    for_each(row, V, [&](int64_t i, float v) {
      if (v != v || v == -INFINITY) return;  // as std::max_element: -inf only if every logit is
      const uint32_t k = float_key(v);
      if (k > bk || (k == bk && i < bi)) bk = k, bi = static_cast<int32_t>(i);
    });
    block_best(bk, bi, s);
    const int32_t id = bi == kNoId ? 0 : bi;
    if (threadIdx.x == 0) ids[r] = id;
    write_probs([&](int64_t i, float) { return i == id ? 1.0f : 0.0f; });
    return;
  }

  const float inv_t = p.inv_temperature;
  // Candidates are the logits the host keeps (finite or +inf); k is the key of logit * (1/T).
  auto candidate = [&](float l, uint32_t& k) -> bool {
    if (!(isfinite(l) || l > 0)) return false;
    k = float_key(__fmul_rn(l, inv_t));
    return true;
  };
  auto member_candidate = [&](int64_t, float x, uint32_t& k) { return candidate(x, k); };

  // Pass 1: the top candidate (its value is the softmax max), the candidate count, and when top-k
  // is on the first radix digit's counts (saves top-k one pass).
  const bool count_digit = p.top_k > 0;
  if (count_digit) {
    for (int b = threadIdx.x; b < kBins; b += blockDim.x) s.hist_lo[b] = s.hist_hi[b] = 0;
    __syncthreads();
  }
  uint32_t top_key = 0;
  int32_t top_id = kNoId;
  unsigned long long n = 0;
  int cur = -1;
  unsigned long long acc = 0;
  for_each(row, V, [&](int64_t i, float x) {
    uint32_t k;
    if (!candidate(x, k)) return;
    ++n;
    if (k > top_key || (k == top_key && i < top_id)) top_key = k, top_id = static_cast<int32_t>(i);
    if (count_digit) {
      const int b = static_cast<int>(k >> (32 - kDigitBits));
      if (b != cur) {
        if (acc) hist_add(s, cur, acc);
        cur = b;
        acc = 0;
      }
      ++acc;
    }
  });
  if (acc) hist_add(s, cur, acc);
  block_best(top_key, top_id, s);
  n = block_sum(n, s);
  if (n == 0) {  // every logit NaN or -inf: the host sampler throws; the device answers token 0
    if (threadIdx.x == 0) ids[r] = 0;
    write_probs([](int64_t, float) { return 0.0f; });
    return;
  }
  const float M = key_float(top_key);
  auto count1 = [](uint32_t) -> unsigned long long { return 1; };
  // The m-th lowest id among the members (key' = ~id over 24 bits: largest key' = lowest id).
  auto mth_lowest_id = [&](auto member_at_key, unsigned long long m) -> int32_t {
    auto by_id = [&](int64_t i, float x, uint32_t& k) -> bool {
      if (!member_at_key(i, x)) return false;
      k = ~static_cast<uint32_t>(i) & 0xffffffu;
      return true;
    };
    uint32_t T = 0;
    unsigned long long above = 0, at = 0;
    radix_select<24>(row, V, by_id, count1, m, T, above, at, s);
    return static_cast<int32_t>(~T & 0xffffffu);
  };

  // Top-k: the k-th key, then among the keys equal to it the lowest ids.
  Cut cut;
  const bool top_k_cuts = p.top_k > 0 && static_cast<unsigned long long>(p.top_k) < n;
  if (top_k_cuts) {
    uint32_t T = 0;
    unsigned long long above = 0, at = 0;
    radix_select<32>(row, V, member_candidate, count1, static_cast<unsigned long long>(p.top_k), T, above, at, s,
                     true);
    const unsigned long long m = static_cast<unsigned long long>(p.top_k) - above;
    cut.key = T;
    if (m < at)
      cut.id = mth_lowest_id([&](int64_t, float x) { uint32_t k; return candidate(x, k) && k == T; }, m);
  }
  const Cut cut_k = cut;
  auto kept_k = [&](int64_t i, float x, uint32_t& k) -> bool { return candidate(x, k) && within(k, i, cut_k); };

  if (top_k_cuts && p.top_k <= kThreads) {
    // Short path: gather the k survivors, sort them, and finish as the host does on its sorted list.
    if (threadIdx.x == 0) c.count = 0;
    c.key[threadIdx.x] = 0;  // padding sorts last
    c.id[threadIdx.x] = kNoId;
    __syncthreads();
    for_each(row, V, [&](int64_t i, float x) {
      uint32_t k;
      if (!kept_k(i, x, k)) return;
      const uint32_t slot = atomicAdd(&c.count, 1u);
      if (slot < kThreads) c.key[slot] = k, c.id[slot] = static_cast<int32_t>(i);
    });
    __syncthreads();
    bitonic_sort(c);  // exactly top_k entries, in the host's order
    const int j = threadIdx.x, K = p.top_k;
    const bool in = j < K;
    const uint32_t kj = c.key[j];
    const int32_t ij = c.id[j];
    const float e = in ? expf(__fsub_rn(key_float(kj), M)) : 0.0f;
    const double sum = block_sum(static_cast<double>(e), s);
    const float pj = in ? __double2float_rn(static_cast<double>(e) / sum) : 0.0f;
    int32_t keep = K;
    if (p.top_p < 1.0f) {
      const double cum = block_scan(static_cast<double>(pj), s);
      keep = min(keep, block_first(in && cum >= static_cast<double>(p.top_p), s) + 1);  // kThreads + 1: none
    }
    if (p.min_p > 0.0f) {
      const float threshold = __fmul_rn(p.min_p, __double2float_rn(1.0 / sum));  // p of the first is 1 / sum
      keep = min(keep, max(1, block_first(in && pj < threshold, s)));
    }
    uint32_t best = 0;  // ~key(score): the max is the smallest score
    int32_t best_id = kNoId;
    if (j < keep && e > 0.0f) best = ~float_key(__fdiv_rn(exponential(p.seed, p.position, ij), e)), best_id = ij;
    block_best(best, best_id, s);
    if (threadIdx.x == 0) ids[r] = best_id == kNoId ? top_id : best_id;
    if (prow) {
      const double z = block_sum(j < keep ? static_cast<double>(pj) : 0.0, s);
      write_probs([](int64_t, float) { return 0.0f; });
      __syncthreads();
      if (j < keep) prow[ij] = __double2float_rn(static_cast<double>(pj) / z);
    }
    return;
  }

  // General path: every stage is a pass over the row.
  // Softmax over the top-k survivors, as the host: e = exp(v - max) in float, sum in double,
  // p = float(e / sum).
  double sum = 0.0;
  for_each(row, V, [&](int64_t i, float x) {
    uint32_t k;
    if (kept_k(i, x, k)) sum += static_cast<double>(expf(__fsub_rn(key_float(k), M)));
  });
  sum = block_sum(sum, s);
  // e * (1 / sum) rather than e / sum: the two doubles differ by an ulp at most, which moves the
  // float only when it sits on a float rounding boundary (odds ~2^-29 per token).
  const double inv_sum = 1.0 / sum;
  auto prob = [&](uint32_t k) -> float {
    return __double2float_rn(static_cast<double>(expf(__fsub_rn(key_float(k), M))) * inv_sum);
  };

  // Top-p: the first element (in sorted order) where the running mass reaches top_p. Masses are
  // p * 2^62 as integers; an equal-key run shares one p, so the crossing inside it is arithmetic.
  if (p.top_p < 1.0f) {
    auto mass = [&](uint32_t k) -> unsigned long long {
      return __double2ull_rn(static_cast<double>(prob(k)) * kMassScale);
    };
    const unsigned long long target = static_cast<unsigned long long>(ceil(static_cast<double>(p.top_p) * kMassScale));
    uint32_t T = 0;
    unsigned long long above = 0, at = 0;
    if (radix_select<32>(row, V, kept_k, mass, target, T, above, at, s)) {
      const unsigned long long w = mass(T), count = at / w;
      const unsigned long long m = (target - above + w - 1) / w;
      Cut cp;
      cp.key = T;
      if (m < count)
        cp.id = mth_lowest_id([&](int64_t i, float x) { uint32_t k; return kept_k(i, x, k) && k == T; }, m);
      cut = earlier(cut, cp);
    }
  }

  // Min-p: keep p >= min_p * p_max (p is monotone in the key: a key threshold, whole tie runs).
  if (p.min_p > 0.0f) {
    const float threshold = __fmul_rn(p.min_p, __double2float_rn(1.0 / sum));  // e of the max is exp(0) = 1
    const Cut c0 = cut;
    uint32_t lowest = 0;  // as ~key, so block_best finds the minimum key
    int32_t unused = 0;
    for_each(row, V, [&](int64_t i, float x) {
      uint32_t k;
      if (candidate(x, k) && within(k, i, c0) && prob(k) >= threshold) lowest = max(lowest, ~k);
    });
    block_best(lowest, unused, s);
    Cut cm;
    cm.key = ~lowest;
    cut = earlier(cut, cm);
  }
  const Cut fin = cut;

  // Draw: the exponential race, argmin E_i / e_i over the kept tokens (ties: lower id).
  uint32_t best = 0;  // ~key(score), so the max is the smallest score
  int32_t best_id = kNoId;
  int64_t pair = -1;  // consecutive tokens share a Philox block
  uint4 bits = make_uint4(0, 0, 0, 0);
  for_each(row, V, [&](int64_t i, float x) {
    uint32_t k;
    if (!candidate(x, k) || !within(k, i, fin)) return;
    const float e = expf(__fsub_rn(key_float(k), M));
    if (!(e > 0.0f)) return;  // p = 0: never drawn
    if (pair != (i >> 1)) pair = i >> 1, bits = philox_pair(p.seed, p.position, pair);
    const uint32_t score = ~float_key(__fdiv_rn(exponential_of(bits, i & 1), e));
    if (score > best || (score == best && static_cast<int32_t>(i) < best_id)) best = score, best_id = static_cast<int32_t>(i);
  });
  block_best(best, best_id, s);
  if (threadIdx.x == 0) ids[r] = best_id == kNoId ? top_id : best_id;

  if (prow) {
    double z = 0.0;
    for_each(row, V, [&](int64_t i, float x) {
      uint32_t k;
      if (candidate(x, k) && within(k, i, fin)) z += static_cast<double>(prob(k));
    });
    z = block_sum(z, s);
    write_probs([&](int64_t i, float x) {
      uint32_t k;
      return candidate(x, k) && within(k, i, fin) ? __double2float_rn(static_cast<double>(prob(k)) / z) : 0.0f;
    });
  }
}

}  // namespace

void sample_rows(float* logits, int64_t R, int64_t V, const SampleRowParams* params, const SamplePenalty* penalties,
                 int32_t* ids, float* probs, cudaStream_t stream) {
  if (R == 0) return;
  if (V <= 0 || V >= (int64_t(1) << 24)) ops_fail("sample_rows: vocabulary size out of range");
  sample_kernel<<<static_cast<unsigned>(R), kThreads, 0, stream>>>(logits, V, params, penalties, ids, probs);
  PAGODA_CUDA_LAUNCH_CHECK();
}

}  // namespace pagoda::cuda
