// What the decode timeline probes (decode_probe.cu: the 16-row split kernel; decode_keys_probe.cu: the
// keys-major kernel) share: the stamp written at each PAGODA_DECODE_PROBE point (thread 0 of a CTA: its
// %globaltimer and SM id, at [launch][cta][point]; the launch is found from the output buffer it writes)
// and the B1 case they run (H 32, D 128, bf16, P 16 pages in shuffled order, rotating KV copies). Include
// before the kernel headers: it defines PAGODA_DECODE_PROBE, which they leave empty otherwise.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

__device__ unsigned long long* g_probe;
__device__ const char* g_out_base;  // launch k writes g_out_base + k * g_out_stride
__device__ long long g_out_stride;
__device__ __forceinline__ void probe(int pt, const void* out) {
  if (threadIdx.x != 0) return;
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  unsigned sm;
  asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
  const int ncta = gridDim.x * gridDim.y * gridDim.z;
  const long long launch = (static_cast<const char*>(out) - g_out_base) / g_out_stride;
  const long long cta = launch * ncta + blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  g_probe[cta * 8 + pt] = t;
  g_probe[cta * 8 + 7] = sm;
}
#define PAGODA_DECODE_PROBE(pt) probe(pt, p.out)  // p: the AttentionParams in scope at every point

#include "backend/cuda/attention/attention_params.hpp"

// The B1 decode case: `copies` KV copies of ctx keys (the same random bf16 data), one query token of 32 heads,
// an output buffer per launch, partials for `splits`, a zeroed counter block, and the stamp buffer for
// `launches` x `ncta` CTAs. dp points at all of it (k, v: copy 0; out: launch 0).
struct ProbeB1 {
  static constexpr int P = 16, H = 32, D = 128;
  std::vector<void*> ks, vs;
  char* out = nullptr;
  long long out_stride = H * D * 2;
  void* stamps = nullptr;
  pagoda::cuda::DecodeParams dp;

  ProbeB1(int ctx, int hkv, int splits, int split_tokens, int launches, int ncta, int copies) {
    const int pages = ctx / P;
    const size_t kv_elems = size_t(pages) * P * hkv * D;
    std::mt19937 rng(7);
    std::vector<int32_t> bt(pages);
    std::iota(bt.begin(), bt.end(), 0);
    std::shuffle(bt.begin(), bt.end(), rng);
    std::vector<__nv_bfloat16> hk(kv_elems);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (auto& x : hk) x = __float2bfloat16(u(rng));
    ks.resize(copies);
    vs.resize(copies);
    for (int c = 0; c < copies; ++c) {
      cudaMalloc(&ks[c], kv_elems * 2);
      cudaMalloc(&vs[c], kv_elems * 2);
      cudaMemcpy(ks[c], hk.data(), kv_elems * 2, cudaMemcpyHostToDevice);
      cudaMemcpy(vs[c], hk.data(), kv_elems * 2, cudaMemcpyHostToDevice);
    }
    std::vector<__nv_bfloat16> hq(H * D);
    for (auto& x : hq) x = __float2bfloat16(u(rng));
    void *q, *d_bt, *cu, *kvl, *part, *plse, *ctr;
    cudaMalloc(&q, H * D * 2);
    cudaMemcpy(q, hq.data(), H * D * 2, cudaMemcpyHostToDevice);
    cudaMalloc(&out, size_t(launches) * out_stride);
    cudaMemcpyToSymbol(g_out_base, &out, sizeof(out));
    cudaMemcpyToSymbol(g_out_stride, &out_stride, sizeof(out_stride));
    cudaMalloc(&d_bt, pages * 4);
    cudaMemcpy(d_bt, bt.data(), pages * 4, cudaMemcpyHostToDevice);
    int hcu[2] = {0, 1}, hkvl[1] = {ctx};
    cudaMalloc(&cu, 8);
    cudaMemcpy(cu, hcu, 8, cudaMemcpyHostToDevice);
    cudaMalloc(&kvl, 4);
    cudaMemcpy(kvl, hkvl, 4, cudaMemcpyHostToDevice);
    cudaMalloc(&part, size_t(splits) * H * D * 4);
    cudaMalloc(&plse, size_t(splits) * H * 4);
    cudaMalloc(&ctr, 256);
    cudaMemset(ctr, 0, 256);
    cudaMalloc(&stamps, size_t(launches) * ncta * 64);
    cudaMemcpyToSymbol(g_probe, &stamps, sizeof(stamps));

    pagoda::cuda::AttentionParams& p = dp.attn;
    p.q = q;
    p.k = ks[0];
    p.v = vs[0];
    p.out = out;
    p.cu_seqlens_q = static_cast<int32_t*>(cu);
    p.kv_lens = static_cast<int32_t*>(kvl);
    p.block_table = static_cast<int32_t*>(d_bt);
    p.num_seqs = 1;
    p.max_pages = pages;
    p.num_heads = H;
    p.num_kv_heads = hkv;
    p.group = H / hkv;
    p.page_size = P;
    p.scale_log2 = 1.4426950408889634f / sqrtf(float(D));
    dp.num_splits = splits;
    dp.split_tokens = split_tokens;
    dp.partial_out = static_cast<float*>(part);
    dp.partial_lse = static_cast<float*>(plse);
    dp.counters = static_cast<int32_t*>(ctr);
  }

  // `chain` launches of kernel as PDL dependents in one CUDA graph (bench_attention's way of timing; launch k
  // over KV copy k % copies, writing output k), replayed `reps` times with the stamps zeroed before each. Returns
  // the last replay's microseconds per launch; h: its stamps, [chain][ncta][8].
  template <typename K>
  double run_chain(K kernel, dim3 grid, int threads, int smem, int chain, int ncta, int reps,
                   std::vector<unsigned long long>& h) {
    cudaStream_t s;
    cudaStreamCreate(&s);
    cudaGraph_t g;
    cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal);
    pagoda::cuda::DecodeParams d = dp;
    for (int k = 0; k < chain; ++k) {
      d.attn.k = ks[k % ks.size()];
      d.attn.v = vs[k % vs.size()];
      d.attn.out = out + k * out_stride;
      cudaLaunchConfig_t cfg = {};
      cfg.gridDim = grid;
      cfg.blockDim = dim3(threads);
      cfg.dynamicSmemBytes = smem;
      cfg.stream = s;
      cudaLaunchAttribute attr;
      attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
      attr.val.programmaticStreamSerializationAllowed = 1;
      cfg.attrs = &attr;
      cfg.numAttrs = 1;
      cudaLaunchKernelEx(&cfg, kernel, d);
    }
    cudaStreamEndCapture(s, &g);
    cudaGraphExec_t ge;
    cudaGraphInstantiate(&ge, g, 0);
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    float ms = 0;
    for (int rep = 0; rep < reps; ++rep) {
      cudaMemsetAsync(stamps, 0, size_t(chain) * ncta * 64, s);
      cudaEventRecord(e0, s);
      cudaGraphLaunch(ge, s);
      cudaEventRecord(e1, s);
      cudaEventSynchronize(e1);
      cudaEventElapsedTime(&ms, e0, e1);
    }
    h.assign(size_t(chain) * ncta * 8, 0);
    cudaMemcpy(h.data(), stamps, h.size() * 8, cudaMemcpyDeviceToHost);
    return double(ms) * 1e3 / chain;
  }
};
