// Each non-attention CUDA op against the CPU backend in fp32 (and the GEMMs in bf16): GEMM through
// cuBLASLt and GEMV, fused add+RMSNorm, fused bias+RoPE+KV append, SwiGLU, the exact attention,
// embedding and argmax. Outputs are poisoned (NaN) first so unwritten elements fail.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "backend/cpu/ops.hpp"
#include "backend/cuda/gemm/gemm.hpp"
#include "backend/cuda/ops/ops.hpp"
#include "core/error.hpp"
#include "model/model_cuda.hpp"
#include "model/llama_cuda_buffers.hpp"

namespace pagoda {
namespace {

#define SKIP_WITHOUT_GPU() \
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device"

std::vector<float> rnd(size_t n, uint32_t seed, float sd = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

cuda::DeviceBuffer up(const std::vector<float>& v) {
  cuda::DeviceBuffer b(v.size() * 4);
  PAGODA_CUDA_CHECK(cudaMemcpy(b.get(), v.data(), v.size() * 4, cudaMemcpyHostToDevice));
  return b;
}
template <typename T>
cuda::DeviceBuffer up_raw(const std::vector<T>& v) {
  cuda::DeviceBuffer b(v.size() * sizeof(T));
  PAGODA_CUDA_CHECK(cudaMemcpy(b.get(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return b;
}
cuda::DeviceBuffer poisoned(size_t n) {
  cuda::DeviceBuffer b(n * 4);
  PAGODA_CUDA_CHECK(cudaMemset(b.get(), 0xff, n * 4));  // NaN
  return b;
}
std::vector<float> down(const cuda::DeviceBuffer& b, size_t n) {
  PAGODA_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<float> v(n);
  PAGODA_CUDA_CHECK(cudaMemcpy(v.data(), b.get(), n * 4, cudaMemcpyDeviceToHost));
  return v;
}
std::vector<float> down_bf16(const cuda::DeviceBuffer& b, size_t n) {
  PAGODA_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<uint16_t> h(n);
  PAGODA_CUDA_CHECK(cudaMemcpy(h.data(), b.get(), n * 2, cudaMemcpyDeviceToHost));
  std::vector<float> f(n);
  for (size_t i = 0; i < n; ++i) f[i] = bf16_to_f32(h[i]);
  return f;
}
double rel(const std::vector<float>& a, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    num += (double(a[i]) - ref[i]) * (double(a[i]) - ref[i]);
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

TEST(OpsCuda, GemmFp32AndBf16) {
  SKIP_WITHOUT_GPU();
  cuda::Gemm g;
  for (int64_t M : {1, 3, 16, 37}) {
    const int64_t N = 200, K = 136;
    auto x = rnd(size_t(M * K), 1), w = rnd(size_t(N * K), 2);
    std::vector<float> ref(size_t(M * N));
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += double(x[size_t(m * K + k)]) * w[size_t(n * K + k)];
        ref[size_t(m * N + n)] = float(s);
      }
    auto dx = up(x), dw = up(w);
    auto dy = poisoned(size_t(M * N));
    g.run(dx.get(), dw.get(), dy.get(), M, N, K, DType::DTYPE_F32, DType::DTYPE_F32, nullptr);
    EXPECT_LT(rel(down(dy, size_t(M * N)), ref), 1e-6) << "fp32 M=" << M;
    cuda::DeviceBuffer bx(size_t(M * K) * 2), bw(size_t(N * K) * 2);
    cuda::convert_from_f32(static_cast<const float*>(dx.get()), bx.get(), DType::DTYPE_BF16, M * K, nullptr);
    cuda::convert_from_f32(static_cast<const float*>(dw.get()), bw.get(), DType::DTYPE_BF16, N * K, nullptr);
    for (auto algo : {cuda::GemmAlgo::GEMM_ALGO_CUBLASLT, cuda::GemmAlgo::GEMM_ALGO_GEMV}) {
      auto dy2 = poisoned(size_t(M * N));
      g.run(bx.get(), bw.get(), dy2.get(), M, N, K, DType::DTYPE_BF16, DType::DTYPE_F32, nullptr, algo);
      EXPECT_LT(rel(down(dy2, size_t(M * N)), ref), 1e-2) << "bf16 M=" << M << " algo " << int(algo);
    }
  }
}

// Every K split and row count of the GEMV against a float64 product of the same bf16-rounded
// inputs: N and K chosen so column blocks and K slices end mid-chunk.
// A host f32 array on the device as bf16, with the rounded values read back so that references see
// exactly what the kernels see.
struct Bf16Operand {
  cuda::DeviceBuffer dev;
  std::vector<float> rounded;
};
Bf16Operand bf16_operand(const std::vector<float>& v) {
  const int64_t n = static_cast<int64_t>(v.size());
  auto f32 = up(v);
  Bf16Operand o{cuda::DeviceBuffer(v.size() * 2), {}};
  cuda::convert_from_f32(static_cast<const float*>(f32.get()), o.dev.get(), DType::DTYPE_BF16, n, nullptr);
  o.rounded = down_bf16(o.dev, v.size());
  return o;
}

// x [M, K] . w [N, K]^T in float64.
std::vector<double> xwt_f64(const std::vector<float>& x, const std::vector<float>& w, int64_t M, int64_t N, int64_t K) {
  std::vector<double> y(size_t(M * N));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += double(x[size_t(m * K + k)]) * w[size_t(n * K + k)];
      y[size_t(m * N + n)] = s;
    }
  return y;
}

TEST(OpsCuda, GemvEveryKsplit) {
  SKIP_WITHOUT_GPU();
  const int64_t N = 203, K = 4104;
  for (int64_t M : {1, 2, 3, 5, 8, 9, 16}) {
    const Bf16Operand bx = bf16_operand(rnd(size_t(M * K), 11)), bw = bf16_operand(rnd(size_t(N * K), 12, 0.05f));
    const std::vector<double> y64 = xwt_f64(bx.rounded, bw.rounded, M, N, K);
    const std::vector<float> ref(y64.begin(), y64.end());
    for (int ks : {1, 2, 4, 8}) {
      auto dy = poisoned(size_t(M * N));
      cuda::gemv(bx.dev.get(), bw.dev.get(), dy.get(), M, N, K, DType::DTYPE_BF16, DType::DTYPE_F32, nullptr, ks);
      EXPECT_LT(rel(down(dy, size_t(M * N)), ref), 1e-6) << "M=" << M << " ksplit=" << ks;
    }
  }
}

// The gate|up GEMV with SwiGLU as its epilogue: bit-equal to the GEMV (bf16 out) followed by
// silu_mul at every K split and row count, and within bf16 rounding of a float64 SwiGLU of the same
// inputs. F is not a multiple of the block's column pairs, so the last block is partial.
TEST(OpsCuda, GemvSiluMulEqualsGemvThenSiluMul) {
  SKIP_WITHOUT_GPU();
  const int64_t F = 203, K = 2056;
  for (int64_t M : {1, 2, 5, 16}) {
    const Bf16Operand bx = bf16_operand(rnd(size_t(M * K), 31)), bw = bf16_operand(rnd(size_t(2 * F * K), 32, 0.05f));
    const std::vector<double> gu = xwt_f64(bx.rounded, bw.rounded, M, 2 * F, K);  // [M, 2F]: gate | up
    std::vector<float> ref(size_t(M * F));
    for (int64_t m = 0; m < M; ++m)
      for (int64_t f = 0; f < F; ++f) {
        const double g = gu[size_t(m * 2 * F + f)], u = gu[size_t(m * 2 * F + F + f)];
        ref[size_t(m * F + f)] = float(g / (1.0 + std::exp(-g)) * u);
      }
    for (int ks : {1, 2, 4}) {
      cuda::DeviceBuffer gu_out(size_t(M * 2 * F) * 2), two_pass(size_t(M * F) * 2), fused(size_t(M * F) * 2);
      PAGODA_CUDA_CHECK(cudaMemset(fused.get(), 0xff, size_t(M * F) * 2));  // NaN in bf16
      cuda::gemv(bx.dev.get(), bw.dev.get(), gu_out.get(), M, 2 * F, K, DType::DTYPE_BF16, DType::DTYPE_BF16, nullptr, ks);
      cuda::silu_mul(gu_out.get(), M, F, two_pass.get(), DType::DTYPE_BF16, nullptr);
      cuda::gemv_silu_mul(bx.dev.get(), bw.dev.get(), fused.get(), M, F, K, DType::DTYPE_BF16, nullptr, ks);
      const auto a = down_bf16(two_pass, size_t(M * F)), b = down_bf16(fused, size_t(M * F));
      EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << "M=" << M << " ksplit=" << ks;
      EXPECT_LT(rel(b, ref), 1e-2) << "M=" << M << " ksplit=" << ks;  // gate, up and out each rounded to bf16
    }
  }
  cuda::DeviceBuffer b(64);
  EXPECT_THROW(cuda::gemv_silu_mul(b.get(), b.get(), b.get(), 1, 8, 8, DType::DTYPE_BF16, nullptr, 8), Error);
}

// A chain of dependent GEMVs and norms on a non-default stream, launched as programmatic dependents
// (sm_90): each kernel must see its predecessor's complete output. Compared with the same chain
// run one launch at a time with a device synchronisation between launches.
TEST(OpsCuda, GemvChainUnderProgrammaticLaunch) {
  SKIP_WITHOUT_GPU();
  const int64_t D = 2048, steps = 24;
  auto w = rnd(size_t(D * D), 21, 1.0f / 45.0f), nw = rnd(size_t(D), 22);
  for (auto& v : nw) v = 1.0f + 0.1f * v;
  auto x0 = rnd(size_t(D), 23);
  auto dw32 = up(w), dnw = up(nw), dx0 = up(x0);
  cuda::DeviceBuffer bw(size_t(D * D) * 2);
  cuda::convert_from_f32(static_cast<const float*>(dw32.get()), bw.get(), DType::DTYPE_BF16, D * D, nullptr);
  // The chain runs on a non-blocking stream, which does not wait for the legacy default stream:
  // the setup above must be finished first (without this the test raced its own inputs and failed
  // under compute-sanitizer, whose slower launches changed who won).
  PAGODA_CUDA_CHECK(cudaDeviceSynchronize());
  cuda::Gemm gemm;
  const auto run = [&](cudaStream_t st, bool sync_each) {
    cuda::DeviceBuffer x(size_t(D) * 4), h(size_t(D) * 2), y(size_t(D) * 2);
    PAGODA_CUDA_CHECK(cudaMemcpyAsync(x.get(), dx0.get(), size_t(D) * 4, cudaMemcpyDeviceToDevice, st));
    for (int64_t i = 0; i < steps; ++i) {
      cuda::add_rmsnorm(static_cast<float*>(x.get()), i == 0 ? nullptr : y.get(), static_cast<const float*>(dnw.get()),
                        1, D, 1e-5f, h.get(), DType::DTYPE_BF16, st);
      if (sync_each) PAGODA_CUDA_CHECK(cudaStreamSynchronize(st));
      if (i % 5 == 4)  // through the Gemm wrapper's own choice
        gemm.run(h.get(), bw.get(), y.get(), 1, D, D, DType::DTYPE_BF16, DType::DTYPE_BF16, st);
      else
        cuda::gemv(h.get(), bw.get(), y.get(), 1, D, D, DType::DTYPE_BF16, DType::DTYPE_BF16, st, int(1 << (i % 4)));
      if (sync_each) PAGODA_CUDA_CHECK(cudaStreamSynchronize(st));
    }
    PAGODA_CUDA_CHECK(cudaStreamSynchronize(st));
    return down(x, size_t(D));
  };
  cudaStream_t st;
  PAGODA_CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  const auto serial = run(st, true);
  for (int rep = 0; rep < 5; ++rep) {
    const auto chained = run(st, false);
    EXPECT_EQ(std::memcmp(serial.data(), chained.data(), serial.size() * 4), 0) << "rep " << rep;
  }
  PAGODA_CUDA_CHECK(cudaStreamDestroy(st));
}

TEST(OpsCuda, AddRmsnormAndSilu) {
  SKIP_WITHOUT_GPU();
  const int64_t T = 5, D = 300;
  auto x = rnd(size_t(T * D), 3), d = rnd(size_t(T * D), 4), w = rnd(size_t(D), 5);
  std::vector<float> xs = x;
  for (size_t i = 0; i < xs.size(); ++i) xs[i] += d[i];
  std::vector<float> ref(xs.size());
  cpu::rmsnorm(xs.data(), w.data(), T, D, 1e-5f, ref.data());
  auto dx = up(x), dd = up(d), dw = up(w);
  auto out = poisoned(size_t(T * D));
  cuda::add_rmsnorm(static_cast<float*>(dx.get()), dd.get(), static_cast<float*>(dw.get()), T, D, 1e-5f, out.get(),
                    DType::DTYPE_F32, nullptr);
  EXPECT_LT(rel(down(out, ref.size()), ref), 1e-6);
  EXPECT_LT(rel(down(dx, xs.size()), xs), 1e-7);
  auto gu = rnd(size_t(T * 2 * D), 6);
  std::vector<float> g(size_t(T * D)), u(size_t(T * D)), sref(size_t(T * D));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t f = 0; f < D; ++f) g[size_t(t * D + f)] = gu[size_t(t * 2 * D + f)], u[size_t(t * D + f)] = gu[size_t(t * 2 * D + D + f)];
  cpu::silu_mul(g.data(), u.data(), T * D, sref.data());
  auto dgu = up(gu);
  auto so = poisoned(size_t(T * D));
  cuda::silu_mul(dgu.get(), T, D, so.get(), DType::DTYPE_F32, nullptr);
  EXPECT_LT(rel(down(so, sref.size()), sref), 1e-6);
}

// Shapes: (D, rope_dim, H, Hkv). The 16-byte path takes D % 8 == 0 with rope_dim % 16 == 0 (full
// and partial rotary, head counts that leave the last block of heads partial); rope_dim 40 takes
// the one-pair-per-thread path. Positions up to ~5000 so the f64 angle reduction matters.
TEST(OpsCuda, QkvRopeAppendAndExactAttention) {
  SKIP_WITHOUT_GPU();
  struct Shape {
    int32_t D, rope_dim, H, Hkv;
  };
  for (const Shape sh : {Shape{64, 64, 4, 2}, Shape{128, 64, 5, 1}, Shape{128, 128, 9, 3}, Shape{64, 40, 4, 2}})
  for (bool interleaved : {false, true}) {
    const int32_t H = sh.H, Hkv = sh.Hkv, D = sh.D, P = 4, T = 11, R = sh.rope_dim;
    SCOPED_TRACE(testing::Message() << "D " << D << " rope " << R << " H " << H << " Hkv " << Hkv
                                    << " interleaved " << interleaved);
    const int64_t width = int64_t(H + 2 * Hkv) * D;
    auto qkv = rnd(size_t(T * width), 7), bias = rnd(size_t(width), 8, 0.5f);
    std::vector<int32_t> pos(T);
    std::vector<int64_t> slots(T);
    for (int t = 0; t < T; ++t) pos[size_t(t)] = t * 487, slots[size_t(t)] = t;  // pages 0..2 in order
    std::vector<float> inv(size_t(R / 2));
    for (int i = 0; i < R / 2; ++i) inv[size_t(i)] = float(std::pow(10000.0, -2.0 * i / R));
    // CPU: bias, split, rope, append, attention.
    std::vector<float> q(size_t(T * H * D)), k(size_t(T * Hkv * D)), v(size_t(T * Hkv * D));
    for (int t = 0; t < T; ++t)
      for (int64_t e = 0; e < width; ++e) {
        const float val = qkv[size_t(t * width + e)] + bias[size_t(e)];
        if (e < H * D) q[size_t(t * H * D + e)] = val;
        else if (e < (H + Hkv) * D) k[size_t(t * Hkv * D + e - H * D)] = val;
        else v[size_t(t * Hkv * D + e - (H + Hkv) * D)] = val;
      }
    cpu::rope_apply(q.data(), T, H, D, R, pos.data(), inv.data(), interleaved);
    cpu::rope_apply(k.data(), T, Hkv, D, R, pos.data(), inv.data(), interleaved);
    const int64_t pages = 4;
    std::vector<float> kc(size_t(pages * P * Hkv * D)), vc(kc.size());
    PagedKvView cv{kc.data(), vc.data(), PagedKvLayout{P, Hkv, D, DType::DTYPE_F32}, pages};
    cpu::kv_append(cv, k.data(), v.data(), T, slots.data());
    std::vector<int32_t> cu = {0, 5, T}, kvl = {5, 6}, bt = {0, 1, 2, 3, 2, 3, 0, 1};
    // Sequence 1's tokens 5..10 are its positions 0..5 but live in slots 5..10; remap its table.
    bt = {0, 1, 0, 0, 1, 2, 0, 0};
    std::vector<float> aref(size_t(T * H * D));
    // Positions: seq0 tokens 0..4 (pos 0..4), seq1 tokens 5..10: pos 5..10 with kv_len 6 would
    // misplace; use one sequence instead for a clean oracle.
    cu = {0, T};
    kvl = {T};
    bt = {0, 1, 2, 3};
    const float scale = 1.0f / std::sqrt(float(D));
    AttentionBatch ab{1, cu.data(), kvl.data(), bt.data(), 4, true, scale};
    cpu::attention_paged(q.data(), H, cv, ab, aref.data());

    auto dqkv = up(qkv), dbias = up(bias), dinv = up(inv);
    auto dpos = up_raw(pos), dslots = up_raw(slots);
    auto dq = poisoned(size_t(T * H * D)), dkc = poisoned(kc.size()), dvc = poisoned(kc.size());
    cuda::QkvRopeAppendArgs a;
    a.qkv = dqkv.get();
    a.bias = static_cast<const float*>(dbias.get());
    a.positions = static_cast<const int32_t*>(dpos.get());
    a.slot_mapping = static_cast<const int64_t*>(dslots.get());
    a.inv_freq = static_cast<const float*>(dinv.get());
    a.rope_dim = R;
    a.interleaved = interleaved;
    a.T = T;
    a.H = H;
    a.q_out = dq.get();
    a.cache = PagedKvView{dkc.get(), dvc.get(), PagedKvLayout{P, Hkv, D, DType::DTYPE_F32}, pages};
    cuda::qkv_rope_append(a, DType::DTYPE_F32, nullptr);
    EXPECT_LT(rel(down(dq, q.size()), q), 1e-6) << "q interleaved=" << interleaved;
    auto gk = down(dkc, kc.size()), gv = down(dvc, vc.size());
    gk.resize(size_t(T * Hkv * D));
    gv.resize(size_t(T * Hkv * D));
    EXPECT_LT(rel(gk, std::vector<float>(kc.begin(), kc.begin() + T * Hkv * D)), 1e-6) << "k";
    EXPECT_LT(rel(gv, std::vector<float>(vc.begin(), vc.begin() + T * Hkv * D)), 1e-7) << "v";
    auto dcu = up_raw(cu), dkvl = up_raw(kvl), dbt = up_raw(bt);
    std::vector<int32_t> seq(T, 0);
    auto dseq = up_raw(seq);
    AttentionBatch dab{1, static_cast<const int32_t*>(dcu.get()), static_cast<const int32_t*>(dkvl.get()),
                       static_cast<const int32_t*>(dbt.get()), 4, true, scale};
    auto dout = poisoned(aref.size());
    cuda::attention_exact(dq.get(), H, a.cache, dab, T, static_cast<const int32_t*>(dseq.get()), dout.get(),
                          DType::DTYPE_F32, nullptr);
    EXPECT_LT(rel(down(dout, aref.size()), aref), 1e-5) << "attention";
  }
}

TEST(OpsCuda, EmbeddingAndArgmax) {
  SKIP_WITHOUT_GPU();
  const int64_t V = 50, Dm = 33;
  auto table = rnd(size_t(V * Dm), 9);
  std::vector<int32_t> ids = {3, 49, 0, 3};
  auto dt = up(table), dids = up_raw(ids);
  auto dx = poisoned(size_t(4 * Dm));
  cuda::embedding_gather(dt.get(), DType::DTYPE_F32, static_cast<const int32_t*>(dids.get()), 4, Dm,
                         static_cast<float*>(dx.get()), nullptr);
  auto x = down(dx, size_t(4 * Dm));
  for (int r = 0; r < 4; ++r)
    for (int64_t i = 0; i < Dm; ++i) EXPECT_EQ(x[size_t(r * Dm + i)], table[size_t(ids[size_t(r)] * Dm + i)]);
  cuda::DeviceBuffer out(8 * 4);
  cuda::argmax_rows(static_cast<const float*>(dt.get()), 8, Dm * V / 8, static_cast<int32_t*>(out.get()), nullptr);
  PAGODA_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<int32_t> got(8);
  PAGODA_CUDA_CHECK(cudaMemcpy(got.data(), out.get(), 32, cudaMemcpyDeviceToHost));
  const int64_t L = Dm * V / 8;
  for (int r = 0; r < 8; ++r)
    EXPECT_EQ(got[size_t(r)], std::max_element(table.begin() + r * L, table.begin() + (r + 1) * L) - (table.begin() + r * L));
}

}  // namespace
}  // namespace pagoda
