// Row-wise and element-wise ops of the llama block: rmsnorm, residual add, SwiGLU gate, RoPE.
// Precision choices favour being a good oracle: rmsnorm sums squares in f64; RoPE angles are
// formed and rotated through f64 cos/sin. Parallel over rows when the work is large enough.
#include <cmath>
#include <vector>

#include "backend/cpu/ops.hpp"
#include "core/error.hpp"
#include "core/threads.hpp"

namespace pagoda::cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 15;  // elements below which a parallel region costs more than it saves
}

void rmsnorm(const float* x, const float* w, int64_t T, int64_t D, float eps, float* out) {
  PAGODA_CHECK(T >= 0 && D > 0, "rmsnorm: bad shape [{}, {}]", T, D);
#pragma omp parallel for num_threads(threads_get()) schedule(static) if (T * D >= kParallelMin)
  for (int64_t t = 0; t < T; ++t) {
    const float* xr = x + t * D;
    double ss = 0.0;
#pragma omp simd reduction(+ : ss)
    for (int64_t i = 0; i < D; ++i) ss += double(xr[i]) * xr[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(ss / double(D) + double(eps)));
    float* o = out + t * D;
#pragma omp simd
    for (int64_t i = 0; i < D; ++i) o[i] = (xr[i] * scale) * w[i];
  }
}

void add_inplace(float* x, const float* y, int64_t n) {
#pragma omp parallel for simd num_threads(threads_get()) schedule(static) if (n >= 4 * kParallelMin)
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void silu_mul(const float* gate, const float* up, int64_t n, float* out) {
#pragma omp parallel for simd num_threads(threads_get()) schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void rope_apply(float* x, int64_t T, int64_t H, int64_t D, int64_t rope_dim, const int32_t* positions,
                const float* inv_freq, bool interleaved) {
  PAGODA_CHECK(rope_dim > 0 && rope_dim % 2 == 0 && rope_dim <= D, "rope: rope_dim {} must be even and <= {}",
               rope_dim, D);
  const int64_t half = rope_dim / 2;
  thread_local std::vector<double> cs;  // [T, half, 2] cos, sin: computed once per token, used by all heads
  cs.resize(static_cast<size_t>(T * half * 2));
  double* c = cs.data();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < half; ++i) {
      const double a = double(positions[t]) * double(inv_freq[i]);
      c[(t * half + i) * 2] = std::cos(a);
      c[(t * half + i) * 2 + 1] = std::sin(a);
    }
#pragma omp parallel for num_threads(threads_get()) schedule(static) if (T * H * D >= kParallelMin)
  for (int64_t th = 0; th < T * H; ++th) {
    const double* ct = c + (th / H) * half * 2;
    float* v = x + th * D;
    for (int64_t i = 0; i < half; ++i) {
      const int64_t i0 = interleaved ? 2 * i : i, i1 = interleaved ? 2 * i + 1 : i + half;
      const double x0 = v[i0], x1 = v[i1], co = ct[2 * i], si = ct[2 * i + 1];
      v[i0] = static_cast<float>(x0 * co - x1 * si);
      v[i1] = static_cast<float>(x0 * si + x1 * co);
    }
  }
}

}  // namespace pagoda::cpu
