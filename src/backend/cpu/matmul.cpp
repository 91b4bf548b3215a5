// matmul driver: y [T, N] = x [T, K] · W [N, K]^T. Quantizes x once into the weight format's
// activation format, then walks (token block, row block) work items in parallel; each item runs the
// ISA's register-tiled micro-kernel so one weight block load serves several tokens and one
// activation block serves several rows. T == 1 is the same loop: a GEMV split by rows, each weight
// row streamed once. K-quant weights are dequantized per row block into a thread-local f32 buffer.
#include <algorithm>
#include <vector>

#include "backend/cpu/kernels.hpp"
#include "backend/cpu/ops.hpp"
#include "core/error.hpp"
#include "core/threads.hpp"

namespace pagoda::cpu {

namespace {
constexpr int64_t kRowBlock = 16;  // rows per work item (a multiple of every table's tile_rows)
constexpr int64_t kTokBlock = 64;  // tokens per work item: keeps the item's activations in L2

void check_weight(const WeightView& w) {
  PAGODA_CHECK(w.rows >= 0 && w.cols > 0, "matmul: bad weight shape [{}, {}]", w.rows, w.cols);
  auto rb = dtype_row_bytes(w.dtype, static_cast<uint64_t>(w.cols));
  PAGODA_CHECK(rb && *rb == w.row_bytes, "matmul: {} columns of {} do not make rows of {} bytes", w.cols,
               dtype_info(w.dtype).name, w.row_bytes);
  PAGODA_CHECK(w.data != nullptr || w.rows == 0, "matmul: weight has no data");
}
}  // namespace

void matmul_with(const CpuKernels& kr, const WeightView& w, const float* x, int64_t T, float* y, const float* bias) {
  check_weight(w);
  PAGODA_CHECK(T >= 0, "matmul: negative token count {}", T);
  const int64_t N = w.rows, K = w.cols;
  if (T == 0 || N == 0) return;

  TileFn tile = nullptr;
  DequantizeFn deq = nullptr;
  switch (w.dtype) {
    case DType::DTYPE_F32: tile = kr.tile_f32; break;
    case DType::DTYPE_F16: tile = kr.tile_f16; break;
    case DType::DTYPE_BF16: tile = kr.tile_bf16; break;
    case DType::DTYPE_Q8_0: tile = kr.tile_q8_0; break;
    case DType::DTYPE_Q4_0: tile = kr.tile_q4_0; break;
    case DType::DTYPE_Q4_1: tile = kr.tile_q4_1; break;
    case DType::DTYPE_Q4_K: tile = kr.tile_f32; deq = kr.dequantize_q4_k; break;
    case DType::DTYPE_Q6_K: tile = kr.tile_f32; deq = kr.dequantize_q6_k; break;
    default: fail("matmul: weights of type {} are not supported", dtype_info(w.dtype).name);
  }
  const int nth = threads_get();

  // Activations in the format the tile expects; the buffer belongs to the calling thread and only grows.
  const DType af = act_format(w.dtype);
  const void* act = x;
  uint64_t as = static_cast<uint64_t>(K) * sizeof(float);
  if (af != DType::DTYPE_F32) {
    as = *dtype_row_bytes(af, static_cast<uint64_t>(K));
    thread_local std::vector<uint8_t> abuf;
    if (abuf.size() < as * T) abuf.resize(as * T);
    const QuantizeFn quant = af == DType::DTYPE_Q8_1 ? kr.quantize_q8_1 : kr.quantize_q8_0;
    uint8_t* ab = abuf.data();
#pragma omp parallel for num_threads(nth) schedule(static) if (T >= 8)
    for (int64_t t = 0; t < T; ++t) quant(x + t * K, ab + t * as, K);
    act = ab;
  }

  // Formats with a row-streaming kernel (AVX-512 GEMV) use it for every token count, so each
  // (row, token) result is the same arithmetic whatever else is in the batch: a request's greedy
  // output is bit-identical alone and batched. Activation rows are prepared once; for T > 1 a work
  // item runs its rows (hot in L1) against each token of its token block.
  const GemvKernel* gemv = w.dtype == DType::DTYPE_Q8_0   ? &kr.gemv_q8_0
                           : w.dtype == DType::DTYPE_Q4_1 ? &kr.gemv_q4_1
                                                          : nullptr;
  if (gemv && gemv->run) {
    thread_local std::vector<uint8_t> pbuf;
    const uint64_t pb = gemv->prep_bytes(K);
    if (pbuf.size() < pb * T) pbuf.resize(pb * T);
    uint8_t* prep = pbuf.data();
#pragma omp parallel for num_threads(nth) schedule(static) if (T >= 8)
    for (int64_t t = 0; t < T; ++t) gemv->prep(K, static_cast<const char*>(act) + t * as, prep + t * pb);
    const char* wbase = static_cast<const char*>(w.data);
    if (T == 1) {  // decode: each thread streams one contiguous row range once
      const int64_t n_chunks = std::min<int64_t>(nth, (N + kRowBlock - 1) / kRowBlock);
      const int64_t chunk = ((N + n_chunks - 1) / n_chunks + kRowBlock - 1) / kRowBlock * kRowBlock;
#pragma omp parallel for num_threads(nth) schedule(static) if (n_chunks > 1)
      for (int64_t c = 0; c < n_chunks; ++c) {
        const int64_t r0 = c * chunk, r1 = std::min(N, r0 + chunk);
        if (r0 >= r1) continue;
        gemv->run(K, wbase + r0 * w.row_bytes, w.row_bytes, r1 - r0, prep, y + r0);
        if (bias)
          for (int64_t r = r0; r < r1; ++r) y[r] += bias[r];
      }
      return;
    }
    const int64_t n_rb = (N + kRowBlock - 1) / kRowBlock, n_tb = (T + kTokBlock - 1) / kTokBlock;
    const int64_t items = n_rb * n_tb;
#pragma omp parallel for num_threads(nth) schedule(static) if (items > 1 && nth > 1)
    for (int64_t it = 0; it < items; ++it) {
      const int64_t r0 = (it % n_rb) * kRowBlock, r1 = std::min(N, r0 + kRowBlock);
      const int64_t t0 = (it / n_rb) * kTokBlock, t1 = std::min(T, t0 + kTokBlock);
      for (int64_t t = t0; t < t1; ++t) {
        gemv->run(K, wbase + r0 * w.row_bytes, w.row_bytes, r1 - r0, prep + t * pb, y + t * N + r0);
        if (bias)
          for (int64_t r = r0; r < r1; ++r) y[t * N + r] += bias[r];
      }
    }
    return;
  }

  const int64_t n_rb = (N + kRowBlock - 1) / kRowBlock, n_tb = (T + kTokBlock - 1) / kTokBlock;
  const int64_t items = n_rb * n_tb;
  const int tr = kr.tile_rows, tt = kr.tile_toks;
#pragma omp parallel for num_threads(nth) schedule(static) if (items > 1 && nth > 1)
  for (int64_t it = 0; it < items; ++it) {
    const int64_t r0 = (it % n_rb) * kRowBlock, r1 = std::min(N, r0 + kRowBlock);
    const int64_t t0 = (it / n_rb) * kTokBlock, t1 = std::min(T, t0 + kTokBlock);
    const char* wp = static_cast<const char*>(w.data) + r0 * w.row_bytes;
    uint64_t ws = w.row_bytes;
    if (deq) {
      thread_local std::vector<float> wbuf;
      if (wbuf.size() < static_cast<size_t>(kRowBlock * K)) wbuf.resize(kRowBlock * K);
      for (int64_t r = r0; r < r1; ++r) deq(wp + (r - r0) * w.row_bytes, wbuf.data() + (r - r0) * K, K);
      wp = reinterpret_cast<const char*>(wbuf.data());
      ws = K * sizeof(float);
    }
    for (int64_t t = t0; t < t1; t += tt) {
      const int nt = static_cast<int>(std::min<int64_t>(tt, t1 - t));
      const char* ap = static_cast<const char*>(act) + t * as;
      for (int64_t r = r0; r < r1; r += tr) {
        const int nr = static_cast<int>(std::min<int64_t>(tr, r1 - r));
        tile(K, wp + (r - r0) * ws, ws, nr, ap, as, nt, y + t * N + r, N);
      }
    }
    if (bias)
      for (int64_t t = t0; t < t1; ++t)
        for (int64_t r = r0; r < r1; ++r) y[t * N + r] += bias[r];
  }
}

void matmul(const WeightView& w, const float* x, int64_t T, float* y, const float* bias) {
  matmul_with(kernels_active(), w, x, T, y, bias);
}

}  // namespace pagoda::cpu
