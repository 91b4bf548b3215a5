// Test support for the CUDA attention kernels: device buffers, a random paged KV cache built on the
// host (shuffled page ids), and a float64 reference attention over the same paged view.
// The reference is independent of the kernels (plain loops in double); it is what they must match.
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "backend/paged_kv.hpp"
#include "core/dtype.hpp"

namespace pagoda::test {

#define CUDA_OK(expr) ASSERT_EQ((expr), cudaSuccess) << #expr

inline bool gpu_present() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  std::size_t count = 0;
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n) : count(n) {
    void* p = nullptr;
    ptr = cudaMalloc(&p, std::max<std::size_t>(n, 1) * sizeof(T)) == cudaSuccess ? static_cast<T*>(p) : nullptr;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr(o.ptr), count(o.count) { o.ptr = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr, o.ptr);
    std::swap(count, o.count);
    return *this;
  }
  ~DeviceBuffer() { cudaFree(ptr); }
  void upload(const std::vector<T>& h) {
    ASSERT_LE(h.size(), count) << "upload larger than the buffer";
    cudaMemcpy(ptr, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice);
  }
  std::vector<T> download() const {
    std::vector<T> h(count);
    cudaMemcpy(h.data(), ptr, count * sizeof(T), cudaMemcpyDeviceToHost);
    return h;
  }
  // Poison: 0xFF bytes are NaN in bf16, fp16 and fp32, so an unwritten element fails the check.
  void poison() { cudaMemset(ptr, 0xFF, count * sizeof(T)); }
};

inline uint16_t to_half_bits(DType t, float f) { return t == DType::DTYPE_BF16 ? f32_to_bf16(f) : f32_to_f16(f); }
inline float from_half_bits(DType t, uint16_t h) { return t == DType::DTYPE_BF16 ? bf16_to_f32(h) : f16_to_f32(h); }

// Tolerances per dtype: bf16 keeps 8 mantissa bits, fp16 11; P is rounded to 16 bits before P V.
struct Tolerance {
  double atol, rtol, rel_l2;
};
inline Tolerance tolerance_for(DType t) {
  return t == DType::DTYPE_BF16 ? Tolerance{1e-2, 2e-2, 1e-2} : Tolerance{2e-3, 4e-3, 2e-3};
}

// A ragged batch over a shuffled paged cache, with host copies of everything (16-bit values).
struct PagedCase {
  DType dtype = DType::DTYPE_BF16;
  int H = 8, Hkv = 2, D = 128, P = 16;
  bool causal = true;
  std::vector<int32_t> q_lens, kv_lens, cu_q, block_table;
  int max_pages = 0;
  int64_t num_pages = 0;
  std::vector<uint16_t> q, k, v;  // q [T, H, D]; k, v [num_pages, P, Hkv, D]
  // A case with this dtype and head layout (lengths are set afterwards, then build()).
  static PagedCase heads(DType dtype, int D, int H, int Hkv, int P) {
    PagedCase c;
    c.dtype = dtype;
    c.D = D;
    c.H = H;
    c.Hkv = Hkv;
    c.P = P;
    return c;
  }
  int64_t T() const { return cu_q.back(); }
  double scale() const { return 1.0 / std::sqrt(double(D)); }

  void build(std::mt19937& rng, double q_mult = 2.0) {
    const int B = int(q_lens.size());
    cu_q.assign(B + 1, 0);
    for (int b = 0; b < B; ++b) cu_q[b + 1] = cu_q[b] + q_lens[b];
    max_pages = 1;
    for (int b = 0; b < B; ++b) max_pages = std::max(max_pages, (kv_lens[b] + P - 1) / P);
    num_pages = 0;
    for (int b = 0; b < B; ++b) num_pages += (kv_lens[b] + P - 1) / P;
    num_pages += 3;  // spare pages nobody points at
    std::vector<int32_t> ids(num_pages);
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    block_table.assign(std::size_t(B) * max_pages, 0);
    int64_t next = 0;
    for (int b = 0; b < B; ++b)
      for (int i = 0; i < (kv_lens[b] + P - 1) / P; ++i) block_table[std::size_t(b) * max_pages + i] = ids[next++];
    std::normal_distribution<float> nd(0.0f, 1.0f);
    q.resize(std::size_t(T()) * H * D);
    for (auto& x : q) x = to_half_bits(dtype, float(q_mult) * nd(rng));
    k.resize(std::size_t(num_pages) * P * Hkv * D);
    v.resize(k.size());
    for (auto& x : k) x = to_half_bits(dtype, nd(rng));
    for (auto& x : v) x = to_half_bits(dtype, nd(rng));
  }

  PagedKvLayout layout() const {
    PagedKvLayout L;
    L.page_size = P;
    L.num_kv_heads = Hkv;
    L.head_dim = D;
    L.dtype = dtype;
    return L;
  }
  std::size_t kv_index(int b, int pos, int h) const {
    const int page = block_table[std::size_t(b) * max_pages + pos / P];
    return ((std::size_t(page) * P + pos % P) * Hkv + h) * D;
  }

  // float64 reference for query token i of sequence b, head h: out [D] and natural-log LSE.
  void reference(int b, int i, int h, double* out, double* lse) const {
    const int G = H / Hkv, hk = h / G;
    const int kv = kv_lens[b];
    const int limit = causal ? kv - q_lens[b] + i : kv - 1;
    const uint16_t* qr = &q[(std::size_t(cu_q[b] + i) * H + h) * D];
    std::vector<double> qd(D), s(limit + 1);
    for (int d = 0; d < D; ++d) qd[d] = from_half_bits(dtype, qr[d]);
    double mx = -INFINITY;
    for (int j = 0; j <= limit; ++j) {
      const uint16_t* kr = &k[kv_index(b, j, hk)];
      double acc = 0.0;
      for (int d = 0; d < D; ++d) acc += qd[d] * from_half_bits(dtype, kr[d]);
      s[j] = acc * scale();
      mx = std::max(mx, s[j]);
    }
    double sum = 0.0;
    std::fill(out, out + D, 0.0);
    for (int j = 0; j <= limit; ++j) {
      const double w = std::exp(s[j] - mx);
      sum += w;
      const uint16_t* vr = &v[kv_index(b, j, hk)];
      for (int d = 0; d < D; ++d) out[d] += w * from_half_bits(dtype, vr[d]);
    }
    for (int d = 0; d < D; ++d) out[d] /= sum;
    *lse = mx + std::log(sum);
  }

  // Compares out [T, H, D] (16-bit) and lse [T, H] with the reference on the checked query rows
  // (all rows of short sequences; first, last and every 17th of long ones). Returns failures.
  int check(const std::vector<uint16_t>& out, const std::vector<float>* lse, const char* label) const {
    const Tolerance tol = tolerance_for(dtype);
    int failures = 0;
    double err2 = 0.0, ref2 = 0.0, worst = 0.0;
    std::vector<double> ref(D);
    for (std::size_t b = 0; b < q_lens.size(); ++b) {
      for (int i = 0; i < q_lens[b]; ++i) {
        if (q_lens[b] > 48 && i >= 8 && i < q_lens[b] - 8 && i % 17 != 0) continue;
        for (int h = 0; h < H; ++h) {
          double ref_lse;
          reference(int(b), i, h, ref.data(), &ref_lse);
          const std::size_t row = std::size_t(cu_q[b] + i) * H + h;
          for (int d = 0; d < D; ++d) {
            const double got = from_half_bits(dtype, out[row * D + d]);
            const double e = std::abs(got - ref[d]);
            err2 += e * e;
            ref2 += ref[d] * ref[d];
            if (!(e <= tol.atol + tol.rtol * std::abs(ref[d]))) {
              if (failures < 5)
                ADD_FAILURE() << label << ": seq " << b << " token " << i << " head " << h << " dim " << d << " got "
                              << got << " want " << ref[d] << " (atol " << tol.atol << ", rtol " << tol.rtol << ")";
              ++failures;
            }
            worst = std::max(worst, std::isnan(e) ? INFINITY : e);
          }
          if (lse != nullptr) {
            const double got = (*lse)[row];
            if (!(std::abs(got - ref_lse) <= 1e-2 + 1e-3 * std::abs(ref_lse))) {
              if (failures < 5)
                ADD_FAILURE() << label << ": lse seq " << b << " token " << i << " head " << h << " got " << got
                              << " want " << ref_lse;
              ++failures;
            }
          }
        }
      }
    }
    const double rel = std::sqrt(err2 / std::max(ref2, 1e-30));
    if (!(rel <= tol.rel_l2)) {
      ADD_FAILURE() << label << ": relative L2 error " << rel << " > " << tol.rel_l2;
      ++failures;
    }
    return failures;
  }
};

}  // namespace pagoda::test
