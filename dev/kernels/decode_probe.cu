// Timeline probe for the split-KV decode kernel (flash_decode.cuh) at B1 (8k by default), Hkv 8, D 128, bf16,
// P 16 shuffled pages, 32 splits (argv: keys, splits, chain, Hkv; Hkv 1 is MQA: 2 row-group CTAs per split): thread 0 of every CTA stamps %globaltimer at the probe
// points (0 start, 1 first tile of warp 0 landed, 2 main loop done, 3 partial written, 4 merge CTA chosen,
// 5 merge done, 6 merge CTA past its fence: no longer stamped since the merge needs no fence after its acq_rel ticket, notes 49) and its SM id. Prints the timeline of one launch over a cold KV copy;
// with chain = N > 1 also N launches back to back as PDL dependents in one CUDA graph over rotating copies (the
// bench's way of timing), each launch's points relative to the end of the launch before it (its last merge).
// Each launch writes its own output buffer, which is how a stamp finds its launch.
// Build (here): nvcc -std=c++17 -O3 -arch=sm_90a -Isrc dev/kernels/decode_probe.cu -o build-attn4/carry/decode_probe
#include <cstdio>
#include <cstdlib>

#include "decode_probe_common.cuh"
#include "backend/cuda/attention/flash_decode.cuh"

using namespace pagoda::cuda;

// CHAIN launches back to back as PDL dependents, captured in one graph (as bench_attention times them); prints,
// for each launch after the first two, its points relative to the previous launch's end (its last merge done).
template <typename K>
void chain_timeline(ProbeB1& b1, K kernel, int NCTA, int CHAIN, dim3 grid, int threads, int smem) {
  std::vector<unsigned long long> h;
  const double us = b1.run_chain(kernel, grid, threads, smem, CHAIN, NCTA, 3, h);
  printf("chain of %d PDL launches in a graph: %s, %.2f us per launch (event time / launches)\n", CHAIN,
         cudaGetErrorString(cudaGetLastError()), us);
  auto pts = [&](int k, int pt) {
    std::vector<unsigned long long> v;
    for (int i = 0; i < NCTA; ++i)
      if (unsigned long long t = h[(size_t(k) * NCTA + i) * 8 + pt]) v.push_back(t);
    std::sort(v.begin(), v.end());
    return v;
  };
  auto end_of = [&](int k) {
    auto m = pts(k, 5);
    return m.empty() ? 0ull : m.back();
  };
  printf("%-6s %8s | %8s %8s | %8s | %8s %8s | %8s | %8s | %8s | %8s  (us from the previous launch's end)\n",
         "launch", "period", "start0", "startmed", "tile1med", "loopmed", "loopmax", "partmax", "mergesel", "fenced",
         "end");
  for (int k = 2; k < CHAIN; ++k) {
    const double t0 = double(end_of(k - 1));
    auto rel = [&](unsigned long long t) { return (double(t) - t0) * 1e-3; };
    auto st = pts(k, 0), ft = pts(k, 1), lp = pts(k, 2), pw = pts(k, 3), ms4 = pts(k, 4), f6 = pts(k, 6);
    if (st.empty() || lp.empty() || pw.empty() || ms4.empty() || f6.empty()) continue;
    printf("%-6d %8.2f | %8.2f %8.2f | %8.2f | %8.2f %8.2f | %8.2f | %8.2f | %8.2f | %8.2f\n", k,
           (double(end_of(k)) - t0) * 1e-3, rel(st.front()), rel(st[st.size() / 2]), rel(ft[ft.size() / 2]),
           rel(lp[lp.size() / 2]), rel(lp.back()), rel(pw.back()), rel(ms4.back()), rel(f6.back()), rel(end_of(k)));
  }
}

int main(int argc, char** argv) {
  // argv: keys (default 8192), splits (default 32), chain length (default 0: the cold launch only), Hkv (8).
  const int CTX = argc > 1 ? std::atoi(argv[1]) : 8192, SPLITS = argc > 2 ? std::atoi(argv[2]) : 32;
  const int CHAIN = argc > 3 ? std::atoi(argv[3]) : 0;
  const int HKV = argc > 4 ? std::atoi(argv[4]) : 8;
  const int LAUNCHES = std::max(CHAIN, 1);
  constexpr int D = ProbeB1::D, H = ProbeB1::H, COPIES = 6;
  const int GRID_Y = HKV * ((H / HKV + 15) / 16);  // 16-row groups per KV head (q_len 1)
  const int NCTA = SPLITS * GRID_Y;
  ProbeB1 b1(CTX, HKV, SPLITS, CTX / SPLITS, LAUNCHES, NCTA, COPIES);
  DecodeParams& dp = b1.dp;
  AttentionParams& p = dp.attn;
  const std::vector<void*>&ks = b1.ks, &vs = b1.vs;
  void* pr = b1.stamps;
  using Tr = DecodeTraits<D>;
  auto kernel = flash_decode_kernel<__nv_bfloat16, D>;
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Tr::SMEM_BYTES);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  float ms = 0;
  for (int rep = 0; rep < 3; ++rep) {
    for (int c = 0; c < COPIES; ++c) {
      p.k = ks[c];
      p.v = vs[c];
      cudaMemset(pr, 0, NCTA * 64);
      cudaEventRecord(e0);
      kernel<<<dim3(SPLITS, GRID_Y, 1), Tr::THREADS, Tr::SMEM_BYTES>>>(dp);
      cudaEventRecord(e1);
      cudaEventSynchronize(e1);
      cudaEventElapsedTime(&ms, e0, e1);
    }
  }
  printf("last launch: %s, event time %.2f us (plain launch, cold copy)\n", cudaGetErrorString(cudaGetLastError()),
         ms * 1e3);
  std::vector<unsigned long long> h(NCTA * 8);
  cudaMemcpy(h.data(), pr, h.size() * 8, cudaMemcpyDeviceToHost);
  unsigned long long t0 = ~0ull;
  for (int i = 0; i < NCTA; ++i) t0 = std::min(t0, h[i * 8]);
  auto stats = [&](int pt, const char* name) {
    std::vector<double> v;
    for (int i = 0; i < NCTA; ++i)
      if (h[i * 8 + pt]) v.push_back(double(h[i * 8 + pt] - t0) * 1e-3);
    if (v.empty()) return;
    std::sort(v.begin(), v.end());
    printf("%-28s n=%3zu  min %6.2f  p10 %6.2f  median %6.2f  p90 %6.2f  max %6.2f us\n", name, v.size(), v[0],
           v[v.size() / 10], v[v.size() / 2], v[v.size() * 9 / 10], v.back());
  };
  stats(0, "0 CTA start");
  stats(1, "1 first tile landed (w0)");
  stats(2, "2 main loop done");
  stats(3, "3 partial written");
  stats(4, "4 merge CTA chosen");
  stats(6, "6 merge CTA past its fence");
  stats(5, "5 merge done");
  std::vector<double> gap;
  for (int i = 0; i < NCTA; ++i) gap.push_back(double(h[i * 8 + 1] - h[i * 8]) * 1e-3);
  std::sort(gap.begin(), gap.end());
  printf("start -> first tile: median %.2f max %.2f us\n", gap[NCTA / 2], gap.back());
  std::vector<int> per_sm(256, 0);
  for (int i = 0; i < NCTA; ++i) per_sm[h[i * 8 + 7] % 256]++;
  int used = 0, two = 0;
  for (int c : per_sm) used += c > 0, two += c > 1;
  printf("SMs used %d, with 2+ CTAs %d\n", used, two);
  // globaltimer granularity: distinct start stamps
  std::vector<unsigned long long> st;
  for (int i = 0; i < NCTA; ++i) st.push_back(h[i * 8]);
  std::sort(st.begin(), st.end());
  printf("distinct start stamps %zu of %d\n", size_t(std::unique(st.begin(), st.end()) - st.begin()), NCTA);
  if (CHAIN > 1) chain_timeline(b1, kernel, NCTA, CHAIN, dim3(SPLITS, GRID_Y, 1), Tr::THREADS, Tr::SMEM_BYTES);
  return 0;
}
