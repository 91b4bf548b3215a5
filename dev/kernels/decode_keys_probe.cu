// Chain timeline of the keys-major decode kernel (flash_decode_keys.cuh, 8 warps x 3 stages) at B1, Hkv 8,
// H 32, D 128, bf16, P 16 shuffled pages: CHAIN launches back to back as PDL dependents in one CUDA graph over
// rotating KV copies (bench_attention's way of timing), thread 0 of every CTA stamping %globaltimer at the
// probe points (0 start, 1 past the dependency wait, 2 stream done, 3 partial written, 4 merge CTA chosen,
// 5 exit: merge done for the merging CTA) and its SM. For each launch, times are relative to the previous
// launch's last exit. The straggler columns ask whether the launch's last stream to end belongs to a CTA
// that started late because its SM still held a merging CTA of the launch before (notes 54).
// argv: keys (8192), splits (16), chain (24), early trigger (0), raw stamp file (none).
// Build: nvcc -std=c++17 -O3 -arch=sm_90a -Isrc dev/kernels/decode_keys_probe.cu -o <carry>/decode_keys_probe
#include <cstdio>
#include <cstdlib>

#include "decode_probe_common.cuh"
#include "backend/cuda/attention/flash_decode_keys.cuh"

using namespace pagoda::cuda;

int main(int argc, char** argv) {
  const int CTX = argc > 1 ? std::atoi(argv[1]) : 8192, SPLITS = argc > 2 ? std::atoi(argv[2]) : 16;
  const int CHAIN = argc > 3 ? std::atoi(argv[3]) : 24;
  const bool EARLY = argc > 4 && std::atoi(argv[4]) != 0;
  constexpr int HKV = 8, D = ProbeB1::D, COPIES = 6;
  using Kt = DecodeKeysTraits<D, 8, 3>;
  const int NCTA = SPLITS * HKV;
  ProbeB1 b1(CTX, HKV, SPLITS, (CTX / SPLITS + 15) / 16 * 16, CHAIN, NCTA, COPIES);
  DecodeParams& dp = b1.dp;
  dp.early_trigger = EARLY;
  auto kernel = flash_decode_keys_kernel<__nv_bfloat16, D, 8, 3>;
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Kt::SMEM_BYTES);

  std::vector<unsigned long long> h;
  const double us = b1.run_chain(kernel, dim3(SPLITS, HKV, 1), Kt::THREADS, Kt::SMEM_BYTES, CHAIN, NCTA, 5, h);
  printf("keys %d splits %d early %d: %s, %.2f us per launch over a graph of %d (event time / launches)\n", CTX,
         SPLITS, int(EARLY), cudaGetErrorString(cudaGetLastError()), us, CHAIN);
  auto at = [&](int k, int i, int pt) { return h[(size_t(k) * NCTA + i) * 8 + pt]; };
  auto end_of = [&](int k) {
    unsigned long long m = 0;
    for (int i = 0; i < NCTA; ++i) m = std::max(m, at(k, i, 5));
    return m;
  };
  printf("%-4s %7s | %6s %6s %6s | %6s %6s | %6s %6s | %6s %6s | %6s %6s | %4s | %6s %6s %3s  (us from the previous "
         "launch's last exit)\n",
         "k", "period", "st0", "stmed", "stmax", "waitmd", "waitmx", "strmed", "strmax", "partmd", "partmx", "mrgsel",
         "end", "late", "lstst", "lststr", "onM");
  for (int k = 2; k < CHAIN; ++k) {
    const double t0 = double(end_of(k - 1));
    auto rel = [&](unsigned long long t) { return (double(t) - t0) * 1e-3; };
    auto col = [&](int pt) {
      std::vector<double> v;
      for (int i = 0; i < NCTA; ++i)
        if (at(k, i, pt)) v.push_back(rel(at(k, i, pt)));
      std::sort(v.begin(), v.end());
      return v;
    };
    auto st = col(0), wt = col(1), sd = col(2), pw = col(3), m4 = col(4);
    if (st.empty() || sd.empty() || pw.empty() || m4.empty()) continue;
    // SMs that held a merging CTA of launch k - 1.
    std::vector<unsigned> msm;
    for (int i = 0; i < NCTA; ++i)
      if (at(k - 1, i, 4)) msm.push_back(unsigned(at(k - 1, i, 7)));
    int late = 0, last = 0;
    for (int i = 0; i < NCTA; ++i) {
      late += rel(at(k, i, 0)) > 0.0;
      if (at(k, i, 2) > at(k, last, 2)) last = i;
    }
    const bool on_m = std::find(msm.begin(), msm.end(), unsigned(at(k, last, 7))) != msm.end();
    auto med = [](const std::vector<double>& v) { return v[v.size() / 2]; };
    printf("%-4d %7.2f | %6.2f %6.2f %6.2f | %6.2f %6.2f | %6.2f %6.2f | %6.2f %6.2f | %6.2f %6.2f | %4d | %6.2f %6.2f %3s\n",
           k, (double(end_of(k)) - t0) * 1e-3, st.front(), med(st), st.back(), med(wt), wt.back(), med(sd), sd.back(),
           med(pw), pw.back(), m4.back(), rel(end_of(k)), late, rel(at(k, last, 0)), rel(at(k, last, 2)),
           on_m ? "yes" : "no");
  }
  // Raw stamps of launches 8 .. 13 (us from launch 8's first start), for per-SM hand-offs: argv[5] names the file.
  if (argc > 5 && CHAIN > 13) {
    FILE* f = std::fopen(argv[5], "w");
    unsigned long long base = ~0ull;
    for (int i = 0; i < NCTA; ++i) base = std::min(base, at(8, i, 0));
    std::fprintf(f, "launch cta sm start wait stream part merge exit\n");
    for (int k = 8; k <= 13; ++k)
      for (int i = 0; i < NCTA; ++i) {
        auto r = [&](int pt) { return at(k, i, pt) ? (double(at(k, i, pt)) - double(base)) * 1e-3 : -1.0; };
        std::fprintf(f, "%d %d %llu %.3f %.3f %.3f %.3f %.3f %.3f\n", k, i, at(k, i, 7), r(0), r(1), r(2), r(3), r(4),
                     r(5));
      }
    std::fclose(f);
  }
  return 0;
}
