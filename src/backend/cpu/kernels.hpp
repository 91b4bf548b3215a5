// The per-ISA kernel table behind the CPU ops: one table per instruction set (scalar, AVX2+FMA,
// AVX-512 with VNNI/BF16), chosen once from CPUID (or PAGODA_CPU_ISA=scalar|avx2|avx512).
// Tests reach every table directly to check each path against the scalar one; the public ops in
// ops.hpp only use kernels_active(). Nothing here threads: the drivers in matmul.cpp etc. do.
#pragma once

#include <cstdint>

#include "backend/paged_kv.hpp"
#include "core/dtype.hpp"

namespace pagoda::cpu {

enum class CpuIsa : uint8_t { CPU_ISA_SCALAR, CPU_ISA_AVX2, CPU_ISA_AVX512 };

const char* cpu_isa_name(CpuIsa isa);

// A matmul micro-kernel: y[t * ldy + r] = sum_k W[r, k] * A[t, k] for r < nr, t < nt, where
// nr <= tile_rows and nt <= tile_toks of the table. W rows are whole rows of the weight format,
// w_stride bytes apart; A rows are in the activation format that the weight format pairs with
// (act_format()), a_stride bytes apart; k is the row length in elements.
using TileFn = void (*)(int64_t k, const void* w, uint64_t w_stride, int nr, const void* a, uint64_t a_stride,
                        int nt, float* y, int64_t ldy);

// Quantizes (or copies) one activation row of k floats.
using QuantizeFn = void (*)(const float* x, void* dst, int64_t k);

// Dequantizes one row of n elements (n a whole number of blocks).
using DequantizeFn = void (*)(const void* src, float* dst, int64_t n);

// Batch-1 (T == 1) matmul fast path for one quantized weight format. prep re-lays one activation
// row (already quantized to act_format(weight), k elements) into prep_bytes(k) bytes that run reads
// for every weight row, so per-row work is only weight decoding; run computes y[r] for r < nr with
// the same block semantics as the tile (int dot per block, then scale). run is null where the ISA
// has no such path; matmul then uses the tile with nt = 1.
struct GemvKernel {
  uint64_t (*prep_bytes)(int64_t k);
  void (*prep)(int64_t k, const void* a, void* dst);
  void (*run)(int64_t k, const void* w, uint64_t ws, int64_t nr, const void* prep, float* y);
};

struct AttentionArgs {
  const float* q;  // [T, H, D]
  int64_t num_heads;  // H
  const PagedKvView* cache;
  const AttentionBatch* batch;
  float* out;  // [T, H, D]
  float* lse;  // [T, H] or null
};

struct CpuKernels {
  CpuIsa isa;
  int tile_rows;  // most weight rows per TileFn call
  int tile_toks;  // most tokens per TileFn call

  QuantizeFn quantize_q8_0;  // llama.cpp quantize_row_q8_0 semantics (round half away, fp16 d)
  QuantizeFn quantize_q8_1;  // plus s = fp16(d * sum(q))

  TileFn tile_q8_0;  // Q8_0 weights x Q8_0 activations
  TileFn tile_q4_0;  // Q4_0 weights x Q8_0 activations
  TileFn tile_q4_1;  // Q4_1 weights x Q8_1 activations
  TileFn tile_f32;   // F32 weights x F32 activations
  TileFn tile_f16;   // F16 weights x F32 activations (exact: weights widened to f32, f32 FMA)
  TileFn tile_bf16;  // BF16 weights x F32 activations (exact, as above)

  DequantizeFn dequantize_q4_k;  // used by matmul for K-quant weights (dequantize, then tile_f32)
  DequantizeFn dequantize_q6_k;

  // One work item of paged attention: sequence b, KV head g, query tokens [q_begin, q_end).
  void (*attention_item)(const AttentionArgs& args, int32_t b, int32_t g, int32_t q_begin, int32_t q_end);

  GemvKernel gemv_q8_0;  // Q8_0 weights x Q8_0 activations, T == 1
  GemvKernel gemv_q4_1;  // Q4_1 weights x Q8_1 activations, T == 1
};

bool cpu_isa_available(CpuIsa isa);  // compiled in and supported by this CPU
const CpuKernels& kernels_for(CpuIsa isa);  // fails if not available
const CpuKernels& kernels_active();  // best available, or PAGODA_CPU_ISA

// Per-ISA tables, defined in kernels_<isa>.cpp.
const CpuKernels& kernels_scalar();
const CpuKernels& kernels_avx2();
const CpuKernels& kernels_avx512();

// The activation format a weight format's tile expects (F32 for float and K-quant weights).
DType act_format(DType weight);

}  // namespace pagoda::cpu

#include "backend/cpu/ops.hpp"

namespace pagoda::cpu {

// The public ops with an explicit table (ops.hpp's versions use kernels_active()).
void matmul_with(const CpuKernels& k, const WeightView& w, const float* x, int64_t T, float* y, const float* bias);
void attention_paged_with(const CpuKernels& k, const float* q, int64_t H, const PagedKvView& cache,
                          const AttentionBatch& batch, float* out, float* lse);

}  // namespace pagoda::cpu
