// Times Pagoda's CUDA attention kernels with CUDA events (graph replays, rotating KV buffers so L2
// never holds the working set) and prints one JSON object per case on stdout.
// Not a test: correctness lives in tests/backend_cuda. Random bf16 data (never zeros).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/attention/attention.hpp"
#include "bench/attention/read_ceiling.hpp"
#include "backend/cuda/attention/flash_prefill_sm90.hpp"
#include "core/dtype.hpp"

namespace {

void ck(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

template <typename T>
T* dalloc(std::size_t n) {
  void* p = nullptr;
  ck(cudaMalloc(&p, n * sizeof(T)), "cudaMalloc");
  return static_cast<T*>(p);
}

template <typename T>
T* dupload(const std::vector<T>& h) {
  T* p = dalloc<T>(h.size());
  ck(cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice), "upload");
  return p;
}

// Fills device memory with random bf16 in [-2, 2) using a host pattern repeated (cheap, non-zero).
// The pattern is drawn once per process (the B1 sweep fills hundreds of buffers).
void fill_random(uint16_t* d, std::size_t n, std::mt19937& rng) {
  static std::vector<uint16_t> h;
  if (h.empty()) {
    h.resize(1 << 22);
    std::uniform_real_distribution<float> u(-2.0f, 2.0f);
    for (auto& x : h) x = pagoda::f32_to_bf16(u(rng));
  }
  for (std::size_t off = 0; off < n; off += h.size())
    ck(cudaMemcpy(d + off, h.data(), std::min(h.size(), n - off) * 2, cudaMemcpyHostToDevice), "fill");
}

struct Batch {
  int32_t *cu_q, *kv_lens, *bt;
  int max_pages;
};

// Page table with pages of each sequence shuffled across the pool (paged) or identity. kv_lo > 0:
// ragged KV lengths, uniform in [kv_lo, kv_len] (the serving steady state); *kv_sum gets their sum.
Batch batch_make(int B, int q_len, int kv_len, int P, bool shuffle, std::mt19937& rng, int kv_lo = 0,
                 int64_t* kv_sum = nullptr) {
  Batch b;
  std::vector<int32_t> cu(B + 1), kv(B, kv_len);
  for (int i = 0; i <= B; ++i) cu[i] = i * q_len;
  if (kv_lo > 0) {
    std::uniform_int_distribution<int> len(kv_lo, kv_len);
    for (auto& x : kv) x = len(rng);
  }
  if (kv_sum != nullptr) *kv_sum = std::accumulate(kv.begin(), kv.end(), int64_t(0));
  b.max_pages = (kv_len + P - 1) / P;
  std::vector<int32_t> ids(std::size_t(B) * b.max_pages);
  std::iota(ids.begin(), ids.end(), 0);
  if (shuffle) std::shuffle(ids.begin(), ids.end(), rng);
  b.cu_q = dupload(cu);
  b.kv_lens = dupload(kv);
  b.bt = dupload(ids);
  return b;
}

// Page table for sequences of the given query and KV lengths (pages shuffled across the pool).
Batch batch_make_lens(const std::vector<int32_t>& q_lens, const std::vector<int32_t>& kv_lens, int P,
                      std::mt19937& rng) {
  Batch b;
  const int B = int(q_lens.size());
  std::vector<int32_t> cu(B + 1, 0);
  for (int i = 0; i < B; ++i) cu[i + 1] = cu[i] + q_lens[i];
  b.max_pages = (*std::max_element(kv_lens.begin(), kv_lens.end()) + P - 1) / P;
  std::vector<int32_t> ids(std::size_t(B) * b.max_pages);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  b.cu_q = dupload(cu);
  b.kv_lens = dupload(kv_lens);
  b.bt = dupload(ids);
  return b;
}

// Times `body(copy)` over `copies` rotating inputs, captured once into a graph and replayed; if
// eager_us is given, also the same launches issued one by one on the stream (no graph).
template <typename F>
double time_graph_us(int copies, int reps, F&& body, double* eager_us = nullptr) {
  cudaStream_t s;
  ck(cudaStreamCreate(&s), "stream");
  for (int c = 0; c < copies; ++c) body(c, s);  // warm-up outside the graph
  ck(cudaStreamSynchronize(s), "warm");
  cudaGraph_t g;
  ck(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "capture");
  for (int c = 0; c < copies; ++c) body(c, s);
  ck(cudaStreamEndCapture(s, &g), "end capture");
  cudaGraphExec_t ge;
  ck(cudaGraphInstantiate(&ge, g, 0), "instantiate");
  ck(cudaGraphLaunch(ge, s), "launch");
  ck(cudaStreamSynchronize(s), "sync");
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  std::vector<float> ms(reps);
  for (int r = 0; r < reps; ++r) {
    cudaEventRecord(e0, s);
    cudaGraphLaunch(ge, s);
    cudaEventRecord(e1, s);
    ck(cudaEventSynchronize(e1), "event");
    cudaEventElapsedTime(&ms[r], e0, e1);
  }
  std::sort(ms.begin(), ms.end());
  if (eager_us != nullptr) {
    std::vector<float> me(reps);
    for (int r = 0; r < reps; ++r) {
      cudaEventRecord(e0, s);
      for (int c = 0; c < copies; ++c) body(c, s);
      cudaEventRecord(e1, s);
      ck(cudaEventSynchronize(e1), "event");
      cudaEventElapsedTime(&me[r], e0, e1);
    }
    std::sort(me.begin(), me.end());
    *eager_us = double(me[reps / 2]) * 1e3 / copies;
  }
  cudaGraphExecDestroy(ge);
  cudaGraphDestroy(g);
  cudaStreamDestroy(s);
  return double(ms[reps / 2]) * 1e3 / copies;
}

constexpr int H = 32, HKV = 8, D = 128;

// Names the forced prefill kernel in the impl field; "" is the default dispatch (on a compute 9.0
// device with an sm_90a build: the sm_90a kernels, the persistent ping-pong one at D = 128 up to 2k
// query tokens; -bn64 is then the mma.sync kernel they replaced).
const char* key_tile_suffix(int key_tile) {
  switch (key_tile) {
    case 0: return "";
    case 32: return "-bn32";
    case 64: return "-bn64";
    case pagoda::cuda::PREFILL_SM90_KEY_TILE: return "-sm90";
    case pagoda::cuda::PREFILL_SM90_KEY_TILE_OVERLAP: return "-sm90overlap";
    default: return "-unknown";
  }
}

// Prefill head configuration; op names the JSON op ("prefill" for the D = 128 table that
// bench_peers.py merges, "prefill-d64" for the head-dim-64 cases, which also print their heads).
struct PrefillShape {
  int H = 32, Hkv = 8, D = 128;
  const char* op = "prefill";
  int P = 16;  // page size of the paged cases
};

// A prefill batch on the device: B sequences of q_len query tokens over kv_len keys each (random bf16
// q, K, V; the pages shuffled when paged), its cache view and batch description, and a prefill
// workspace zeroed once (the engine's way); freed on scope exit.
struct PrefillCase {
  Batch bt;
  uint16_t *q = nullptr, *k = nullptr, *v = nullptr, *o = nullptr;
  float* lse = nullptr;
  pagoda::PagedKvView view;
  pagoda::AttentionBatch ab;
  pagoda::cuda::PrefillWorkspace ws;

  PrefillCase(int B, int q_len, int kv_len, int P, bool paged, int H, int Hkv, int D, std::mt19937& rng)
      : PrefillCase(batch_make(B, q_len, kv_len, P, paged, rng), B, int64_t(B) * q_len, P, H, Hkv, D, rng) {}
  // Ragged: sequence i adds q_lens[i] tokens over kv_lens[i] keys (paged, shuffled).
  PrefillCase(const std::vector<int32_t>& q_lens, const std::vector<int32_t>& kv_lens, int P, int H, int Hkv, int D,
              std::mt19937& rng)
      : PrefillCase(batch_make_lens(q_lens, kv_lens, P, rng), int(q_lens.size()),
                    std::accumulate(q_lens.begin(), q_lens.end(), int64_t(0)), P, H, Hkv, D, rng) {}
  PrefillCase(Batch batch, int B, int64_t T, int P, int H, int Hkv, int D, std::mt19937& rng) : bt(batch) {
    const std::size_t kv_elems = std::size_t(B) * bt.max_pages * P * Hkv * D;
    const std::size_t q_elems = std::size_t(T) * H * D;
    q = dalloc<uint16_t>(q_elems);
    k = dalloc<uint16_t>(kv_elems);
    v = dalloc<uint16_t>(kv_elems);
    o = dalloc<uint16_t>(q_elems);
    lse = dalloc<float>(std::size_t(T) * H);
    ws.ptr = dalloc<unsigned char>(pagoda::cuda::PREFILL_WORKSPACE_BYTES);
    pagoda::cuda::prefill_workspace_init(ws.ptr, nullptr);
    ws.initialized = true;
    fill_random(q, q_elems, rng);
    fill_random(k, kv_elems, rng);
    fill_random(v, kv_elems, rng);
    view.k = k;
    view.v = v;
    view.layout = {P, Hkv, D, pagoda::DType::DTYPE_BF16};
    view.num_pages = int64_t(B) * bt.max_pages;
    ab.num_seqs = B;
    ab.cu_seqlens_q = bt.cu_q;
    ab.kv_lens = bt.kv_lens;
    ab.block_table = bt.bt;
    ab.max_pages_per_seq = bt.max_pages;
    ab.causal = true;
    ab.scale = 1.0f / std::sqrt(float(D));
  }
  PrefillCase(const PrefillCase&) = delete;
  PrefillCase& operator=(const PrefillCase&) = delete;
  ~PrefillCase() {
    for (void* p : {(void*)q, (void*)k, (void*)v, (void*)o, (void*)lse, (void*)bt.cu_q, (void*)bt.kv_lens, (void*)bt.bt,
                    ws.ptr})
      cudaFree(p);
  }
};

// host_calls > 0: first times the host side of that many un-captured calls (one sync after each).
void bench_prefill(int L, bool paged, int key_tile, std::mt19937& rng, const PrefillShape& sh = {}, int host_calls = 0) {
  const int H = sh.H, HKV = sh.Hkv, D = sh.D;
  const int total = 16384, B = total / L;
  const int P = paged ? sh.P : L;  // contiguous = trivial page table (P = L, block_table[b] = b)
  const PrefillCase c(B, L, L, P, paged, H, HKV, D, rng);
  if (host_calls > 0) {  // host cost of one call (parameter checks, TMA map encode, launch), not the GPU time
    std::vector<double> t(host_calls);
    for (int i = 0; i < host_calls; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      pagoda::cuda::attention_prefill_variant(c.q, H, c.view, c.ab, L, c.o, c.lse, key_tile, c.ws, nullptr);
      t[i] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      ck(cudaDeviceSynchronize(), "sync");
    }
    std::sort(t.begin(), t.end());
    std::printf("{\"op\":\"prefill-host\",\"seq\":%d,\"page\":%d,\"calls\":%d,\"host_us_p10\":%.3f,"
                "\"host_us_median\":%.3f}\n",
                L, P, host_calls, t[host_calls / 10], t[host_calls / 2]);
  }
  const double us = time_graph_us(1, 20, [&](int, cudaStream_t s) {
    pagoda::cuda::attention_prefill_variant(c.q, H, c.view, c.ab, L, c.o, c.lse, key_tile, c.ws, s);
  });
  const double flops = 4.0 * double(L) * L * D * H / 2.0 * B;
  std::printf("{\"op\":\"%s\",\"impl\":\"pagoda-%s%s\",\"h\":%d,\"hkv\":%d,\"d\":%d,\"seq\":%d,\"batch\":%d,"
              "\"us\":%.2f,\"tflops\":%.1f}\n",
              sh.op, paged ? ("paged" + std::to_string(P)).c_str() : "contig", key_tile_suffix(key_tile), H, HKV, D, L, B, us, flops / us * 1e-6);
}

// Chunked prefill (op "prefill-chunk"): B sequences each adding q_len query tokens after kv_len - q_len
// cached ones (the KV holds kv_len keys, causal), paged P = 16, default dispatch. TFLOP/s counts the
// visible keys only: 4 * D * H * (q_len * (kv_len - q_len) + q_len * (q_len + 1) / 2) per sequence.
void bench_prefill_chunk(int B, int q_len, int kv_len, std::mt19937& rng) {
  const PrefillCase c(B, q_len, kv_len, 16, true, H, HKV, D, rng);
  const double us = time_graph_us(1, 20, [&](int, cudaStream_t s) {
    pagoda::cuda::attention_prefill(c.q, H, c.view, c.ab, q_len, c.o, c.lse, c.ws, s);
  });
  const double flops = 4.0 * D * H * B * (double(q_len) * (kv_len - q_len) + double(q_len) * (q_len + 1) / 2.0);
  std::printf("{\"op\":\"prefill-chunk\",\"impl\":\"pagoda-paged16\",\"batch\":%d,\"q_len\":%d,\"kv_len\":%d,"
              "\"us\":%.2f,\"tflops\":%.1f}\n",
              B, q_len, kv_len, us, flops / us * 1e-6);
}

// A ragged batch (op "prefill-mixed"): "q:kv" per sequence (q_len new tokens over kv keys, causal),
// paged P = 16, default dispatch; TFLOP/s counts the visible keys only, as prefill-chunk.
void bench_prefill_mixed(const std::vector<int32_t>& q_lens, const std::vector<int32_t>& kv_lens, std::mt19937& rng) {
  const PrefillCase c(q_lens, kv_lens, 16, H, HKV, D, rng);
  const int max_q = *std::max_element(q_lens.begin(), q_lens.end());
  const double us = time_graph_us(1, 20, [&](int, cudaStream_t s) {
    pagoda::cuda::attention_prefill(c.q, H, c.view, c.ab, max_q, c.o, c.lse, c.ws, s);
  });
  double pairs = 0.0;
  std::string seqs;
  for (std::size_t i = 0; i < q_lens.size(); ++i) {
    pairs += double(q_lens[i]) * (kv_lens[i] - q_lens[i]) + double(q_lens[i]) * (q_lens[i] + 1) / 2.0;
    seqs += (i ? " " : "") + std::to_string(q_lens[i]) + ":" + std::to_string(kv_lens[i]);
  }
  const double flops = 4.0 * D * H * pairs;
  std::printf("{\"op\":\"prefill-mixed\",\"impl\":\"pagoda-paged16\",\"seqs\":\"%s\",\"us\":%.2f,\"tflops\":%.1f}\n",
              seqs.c_str(), us, flops / us * 1e-6);
}

// One decode measurement. memset_counters: the default plan (attention_decode zeroes the split
// counters each call, one more graph node); otherwise the engine's way (workspace zeroed once,
// decode_workspace_init). forced_splits > 0 overrides the planner's split count (op "decode-sweep").
// pdl false: plain launches (impl suffix "-nopdl"); ceiling: also time, in the same graph harness, a
// device-to-device copy of the same byte count (K+V/2 read + written; op "decode-ceiling", impl
// "memcpy-d2d") and a kernel that only reads the same K and V bytes (impl "read").
// ctx_lo > 0: ragged lengths uniform in [ctx_lo, ctx] (op "decode-ragged"; bytes = their sum).
// item_warps >= 0 forces the decode kernel (0: 4-warp CTA per item; 1, 2, 4: warp per item; impl
// suffix "-w<n>"); the JSON field "kernel" always says which one ran.
// plan_kv > 0: the plan is made for that many keys while the sequences hold ctx (the model plans
// its captured graphs for a power-of-two bucket of at least 256 keys; field "plan_kv").
struct DecodeCase {
  int B = 1, ctx = 1, ctx_lo = 0;
  bool memset_counters = false;
  int forced_splits = 0;
  int item_warps = -1;
  bool pdl = true;
  bool ceiling = false;
  bool pdl_ceiling = false;  // with ceiling: also the read ceiling chained by PDL (read_two_launch_pdl)
  bool tail_ceiling = false;  // with ceiling: also that read with a split decode's tail (read_merge_launch_pdl)
  int items_per_warp = 0;  // > 0: overrides the plan's (warp kernel); impl suffix "-i<n>"
  int plan_kv = 0;
  int hkv = HKV;  // KV heads (H stays 32): 1 is MQA, whose 32 query rows per KV head take two row groups
  int q_len = 1;  // query tokens per sequence (a few: speculative verification)
  // > 0: forces 16-row CTAs or (32) the pair kernel, whose key streams (2 or 4) key_streams > 0 forces;
  // impl suffix "-r16", "-p2" or "-p4"
  int rows_per_cta = 0;
  int key_streams = 0;
  // Split merge: -1 as planned, 0 one level, 1 two levels (groups of ceil(splits / DECODE_MERGE_GROUPS)
  // splits, where there are more splits than groups); impl suffix "-m1" / "-m2"
  int merge = -1;
  // > 0: the keys-major kernel with that many warps per CTA (impl suffix "-k<n>", "-k<n>e" with early_trigger)
  int keys_warps = 0;
  int keys_stages = 0;  // > 0: its ring stages (impl suffix "s<n>")
  bool early_trigger = false;
  const char* op = nullptr;  // overrides the op name
};

// A case of the row sweeps: {B, ctx, Hkv, q_len} (H 32), under op name `op`.
DecodeCase rows_case(const int (&c)[4], const char* op) {
  DecodeCase dc{c[0], c[1]};
  dc.hkv = c[2];
  dc.q_len = c[3];
  dc.op = op;
  return dc;
}

void bench_decode(const DecodeCase& dc, int num_sms, std::mt19937& rng) {
  const int P = 16, B = dc.B, ctx = dc.ctx, Hkv = dc.hkv;
  int64_t kv_sum = 0;
  Batch bt = batch_make(B, dc.q_len, ctx, P, true, rng, dc.ctx_lo, &kv_sum);
  const std::size_t kv_elems = std::size_t(B) * bt.max_pages * P * Hkv * D;
  const double kv_bytes = double(kv_sum) * Hkv * D * 2 * 2;
  // Rotate among enough copies that the working set is >= 4x a 50 MB L2.
  const int copies = int(std::clamp(200e6 / kv_bytes, 1.0, 16.0) + 0.999);
  std::vector<uint16_t*> ks(copies), vs(copies);
  for (int c = 0; c < copies; ++c) {
    ks[c] = dalloc<uint16_t>(kv_elems);
    vs[c] = dalloc<uint16_t>(kv_elems);
    fill_random(ks[c], kv_elems, rng);
    fill_random(vs[c], kv_elems, rng);
  }
  const std::size_t q_elems = std::size_t(B) * dc.q_len * H * D;
  uint16_t* q = dalloc<uint16_t>(q_elems);
  uint16_t* o = dalloc<uint16_t>(q_elems);
  fill_random(q, q_elems, rng);
  pagoda::PagedKvLayout layout{P, Hkv, D, pagoda::DType::DTYPE_BF16};
  const int plan_kv = dc.plan_kv > 0 ? dc.plan_kv : ctx;
  auto plan = pagoda::cuda::decode_plan(B, H, layout, dc.q_len, plan_kv, num_sms, dc.forced_splits, dc.item_warps,
                                        dc.rows_per_cta);
  if (dc.items_per_warp > 0) plan.items_per_warp = dc.items_per_warp;
  if (dc.key_streams > 0 && plan.rows_per_cta == 32) plan.key_streams = dc.key_streams;
  if (dc.merge >= 0)
    plan.merge_group_splits = dc.merge == 1 ? pagoda::cuda::decode_two_level_group_splits(plan.num_splits) : 0;
  if (dc.keys_warps > 0) {
    plan.keys_warps = dc.keys_warps;
    plan.keys_stages = dc.keys_stages;
    plan.early_trigger = dc.early_trigger;
    plan.merge_group_splits = 0;
  }
  void* ws = plan.workspace_bytes ? dalloc<unsigned char>(plan.workspace_bytes) : nullptr;
  if (ws != nullptr) ck(cudaMemset(ws, 0xFF, plan.workspace_bytes), "poison ws");
  plan.programmatic_launch = dc.pdl;
  if (!dc.memset_counters) {
    pagoda::cuda::decode_workspace_init(ws, plan.workspace_bytes, nullptr);
    plan.workspace_initialized = true;
  }
  double eager = 0.0;
  pagoda::AttentionBatch ab;
  ab.num_seqs = B;
  ab.cu_seqlens_q = bt.cu_q;
  ab.kv_lens = bt.kv_lens;
  ab.block_table = bt.bt;
  ab.max_pages_per_seq = bt.max_pages;
  ab.scale = 1.0f / std::sqrt(float(D));
  const double us = time_graph_us(copies, 30, [&](int c, cudaStream_t s) {
    pagoda::PagedKvView view;
    view.k = ks[c];
    view.v = vs[c];
    view.layout = layout;
    view.num_pages = int64_t(B) * bt.max_pages;
    pagoda::cuda::attention_decode(plan, q, view, ab, o, nullptr, ws, s);
  }, &eager);
  const char* op = dc.op != nullptr         ? dc.op
                   : dc.forced_splits > 0 ? "decode-sweep"
                   : dc.ctx_lo > 0        ? "decode-ragged"
                                          : "decode";
  const std::string impl = std::string("pagoda") + (dc.memset_counters ? "-memset" : dc.pdl ? "" : "-nopdl") +
                           (dc.item_warps >= 0 ? "-w" + std::to_string(dc.item_warps) : "") +
                           (dc.items_per_warp > 0 ? "-i" + std::to_string(dc.items_per_warp) : "") +
                           (dc.rows_per_cta == 16 ? "-r16" : "") +
                           (dc.rows_per_cta == 32 ? "-p" + std::to_string(plan.key_streams) : "") +
                           (dc.merge >= 0 ? "-m" + std::to_string(dc.merge + 1) : "") +
                           (dc.keys_warps > 0 ? "-k" + std::to_string(dc.keys_warps) +
                                                    (dc.keys_stages > 0 ? "s" + std::to_string(dc.keys_stages) : "") +
                                                    (dc.early_trigger ? "e" : "")
                                              : "");
  for (int graph = 1; graph >= 0; --graph)
    std::printf(
        "{\"op\":\"%s\",\"impl\":\"%s%s\",\"hkv\":%d,\"q_len\":%d,\"batch\":%d,\"ctx\":%d,\"ctx_lo\":%d,\"plan_kv\":%d,\"splits\":%d,"
        "\"kernel\":%d,\"per_warp\":%d,\"rows_per_cta\":%d,\"key_streams\":%d,\"merge_gs\":%d,\"us\":%.2f,\"tbps\":%.3f}\n",
        op, impl.c_str(), graph ? "" : "-nograph", Hkv, dc.q_len, B, ctx, dc.ctx_lo, plan_kv, plan.num_splits, plan.item_warps,
        plan.items_per_warp, plan.rows_per_cta, plan.key_streams, plan.merge_group_splits, graph ? us : eager,
        kv_bytes / (graph ? us : eager) * 1e-6);
  if (dc.ceiling) {
    const std::size_t half = std::size_t(kv_sum) * Hkv * D * sizeof(uint16_t);  // one of K / V: read, write
    const double cus = time_graph_us(copies, 30, [&](int c, cudaStream_t s) {
      ck(cudaMemcpyAsync(vs[c], ks[c], half, cudaMemcpyDeviceToDevice, s), "copy");
    });
    std::printf("{\"op\":\"decode-ceiling\",\"impl\":\"memcpy-d2d\",\"batch\":%d,\"ctx\":%d,\"us\":%.2f,\"tbps\":%.3f}\n",
                B, ctx, cus, 2.0 * double(half) / cus * 1e-6);
    // The read-only ceiling: the same K and V bytes read once by a streaming kernel (read_ceiling.cu).
    unsigned* sink = dalloc<unsigned>(4096);
    const double rus = time_graph_us(copies, 30, [&](int c, cudaStream_t s) {
      ck(pagoda::bench::read_two_launch(ks[c], vs[c], half, sink, num_sms, s), "read ceiling");
    });
    std::printf("{\"op\":\"decode-ceiling\",\"impl\":\"read\",\"batch\":%d,\"ctx\":%d,\"us\":%.2f,\"tbps\":%.3f}\n",
                B, ctx, rus, 2.0 * double(half) / rus * 1e-6);
    // The same reads chained by PDL (dc.pdl_ceiling): how much a launch that overlaps the previous one's
    // tail can gain, with none, one or all of each thread's 8-load batches before its dependency wait.
    if (dc.pdl_ceiling)
      for (int per_sm : {4, 8})
        for (int pre : {0, 1, pagoda::bench::READ_PRE_ALL}) {
          const double pus = time_graph_us(copies, 30, [&](int c, cudaStream_t s) {
            ck(pagoda::bench::read_two_launch_pdl(ks[c], vs[c], half, sink, num_sms, per_sm, pre, s), "read pdl");
          });
          const std::string pre_name = pre == pagoda::bench::READ_PRE_ALL ? "all" : std::to_string(pre);
          std::printf("{\"op\":\"decode-ceiling\",\"impl\":\"read-pdl-%dcta-pre%s\",\"batch\":%d,\"ctx\":%d,"
                      "\"us\":%.2f,\"tbps\":%.3f}\n",
                      per_sm, pre_name.c_str(), B, ctx, pus, 2.0 * double(half) / pus * 1e-6);
        }
    // The chained read followed by a split decode's tail, cut after the stream (0), the partial store (1) or
    // the ticket (2), or whole: merged by the last CTA from the partials (3), in a cluster (4) or from one sum
    // (5). What a decode with an in-launch merge can reach (notes 59). {CTAs per SM, merge group, tail, pad KB};
    // the 36 KB pad keeps the next launch's CTAs off an SM until one of this launch's exits, as a decode's ring
    // does. The union of the configurations session 15's calls 1-3 ran.
    if (dc.tail_ceiling) {
      const int cfgs[][4] = {{4, 16, 0, 0},  {4, 16, 1, 0},  {4, 16, 2, 0},  {4, 16, 3, 0}, {4, 8, 3, 0},
                             {4, 4, 3, 0},   {4, 2, 3, 0},   {4, 8, 4, 0},   {4, 4, 4, 0},  {4, 2, 4, 0},
                             {4, 16, 5, 0},  {4, 16, 0, 36}, {4, 16, 2, 36}, {4, 16, 3, 36}, {4, 16, 5, 36},
                             {4, 8, 4, 36},  {4, 2, 4, 36},  {6, 16, 0, 0},  {6, 16, 3, 0}};
      for (const auto& t : cfgs) {
        const int per_sm = t[0], group = t[1], tail = t[2], pad = t[3] * 1024;
        const std::size_t ws_bytes = pagoda::bench::read_merge_workspace_bytes(num_sms, per_sm, group);
        void* ws_t = dalloc<unsigned char>(ws_bytes);
        ck(cudaMemset(ws_t, 0, ws_bytes), "tail ws");
        float* out_t = dalloc<float>(std::max<std::size_t>(4096, ws_bytes / sizeof(float)));
        const double tus = time_graph_us(copies, 30, [&](int c, cudaStream_t s) {
          ck(pagoda::bench::read_merge_launch_pdl(ks[c], vs[c], half, ws_t, out_t, num_sms, per_sm, group, tail,
                                                  pad, s),
             "read merge");
        });
        std::printf("{\"op\":\"decode-ceiling\",\"impl\":\"read-tail%d-%dcta-g%d-pad%d\",\"batch\":%d,\"ctx\":%d,"
                    "\"us\":%.2f,\"tbps\":%.3f}\n",
                    tail, per_sm, group, t[3], B, ctx, tus, 2.0 * double(half) / tus * 1e-6);
        cudaFree(ws_t);
        cudaFree(out_t);
      }
    }
    cudaFree(sink);
  }
  for (int c = 0; c < copies; ++c) {
    cudaFree(ks[c]);
    cudaFree(vs[c]);
  }
  cudaFree(q);
  cudaFree(o);
  cudaFree(ws);
  cudaFree(bt.cu_q);
  cudaFree(bt.kv_lens);
  cudaFree(bt.bt);
}

// Batch-1 decode latency (op "decode-b1"): at each context, the planned launch, the planned launch
// without PDL, then the 4-warp CTA kernel at forced split counts
// and the warp kernel (1, 2, 4 warps per CTA) at forced split counts; 128 keys is also planned for
// the model's 256-key bucket (its graphs plan for a power of two of at least 256 keys). Graph replays of PDL launches back to back, so "us" is per call in a
// chain of decodes; "-nograph" lines are eager launches.
void b1_sweep(int sms, std::mt19937& rng) {
  for (int ctx : {128, 256, 512, 1024, 2048, 4096, 8192, 32768, 131072}) {
    auto run = [&](DecodeCase dc) {
      dc.op = "decode-b1";
      bench_decode(dc, sms, rng);
    };
    DecodeCase base{1, ctx};
    run(base);
    if (ctx == 128) {
      DecodeCase dc = base;
      dc.plan_kv = 256;
      run(dc);
    }
    DecodeCase nopdl = base;
    nopdl.pdl = false;
    run(nopdl);
    if (ctx > 8192) continue;
    for (int s : {1, 2, 4, 8, 16, 32, 64}) {
      if (ctx / s < 64) break;
      DecodeCase dc = base;
      dc.item_warps = 0;
      dc.forced_splits = s;
      run(dc);
    }
    for (int w : {1, 2, 4})
      for (int s : {1, 2, 4, 8, 16, 32}) {
        if (ctx / s < 64) break;
        DecodeCase dc = base;
        dc.item_warps = w;
        dc.forced_splits = s;
        run(dc);
      }
  }
}

// The before/after table: batch-1 latency at 128 .. 128k keys with the plan's choices (128 keys
// also planned for 256, as the model does), then the shapes and the serving shapes
// (uniform and ragged), each with the copy and read ceilings of the same bytes.
void latency_cases(int sms, std::mt19937& rng) {
  for (int ctx : {128, 256, 512, 1024, 2048, 4096, 8192, 32768, 131072}) {
    DecodeCase dc{1, ctx};
    dc.op = "decode-b1";
    dc.ceiling = true;
    bench_decode(dc, sms, rng);
    dc.ceiling = false;
    if (ctx == 128) {
      dc.plan_kv = 256;
      bench_decode(dc, sms, rng);
    }
  }
  const int cases[][2] = {{16, 8192}, {64, 4096}, {128, 2048}, {512, 192}, {256, 256}, {256, 512}, {1024, 160}};
  for (const auto& c : cases) {
    DecodeCase dc{c[0], c[1]};
    dc.ceiling = true;
    bench_decode(dc, sms, rng);
  }
  for (int B : {256, 512}) bench_decode({B, 256, 129}, sms, rng);
}

}  // namespace

// argv[1]: "all" (default), "prefill" (prefill cases only), "decode" (a forced split-count sweep at
// B1 8k / 32k, op "decode-sweep", whose first launch is B1 8k at 32 splits, the one gpu_session.sh
// ncu-decode profiles; then the decode cases), "decode-cases" (the decode cases only: the issue's
// shapes, then the serving shapes), "ncu [L]" (one paged prefill of length L, 16k by default, with the
// default key tile, for a profiler run), "prefill-default [L...]" (paged prefill, default dispatch only,
// 1k .. 16k by default: quick before/after runs), "prefill-d64" (head dim 64 prefill: default dispatch and each kernel forced, H 32 and
// H 16 over Hkv 8), "ncu-serve [item_warps]" (one B512 ctx 192 decode, the serving steady state, for a
// profiler run; argv[2] forces the kernel), "ncu-b1 [keys]" (one batch-1 decode as planned, 32k keys
// by default, for a profiler run), "splits <keys> <s>..." (batch 1 at forced split counts), "prefill-chunk"
// (chunked prefill: q_len new tokens over a longer paged KV, op "prefill-chunk"; argv B q kv triples
// replace the default shapes), "prefill-mixed q:kv[*n],..." (one ragged batch per argument, op
// "prefill-mixed"), "mqa" (decode with 1 KV head
// next to 8 at the same K+V bytes, op "decode-mqa"), "rows" (planned decodes with more than 4 real rows per
// KV head: G 8, MQA, q_len 3-5; op "decode-rows"), "pair [serve]" (16-row CTAs against the pair kernel at
// forced split counts, op "decode-pair"; serve: short-KV batches at planned counts), "merge" (one-level
// against two-level split merge at forced split counts, op "decode-merge"), "ncu-mqa" (one B64 32k MQA decode, for a profiler run)
// or "kernels" (the decode cases, then every decode kernel forced at the serving shapes), "b1" (the
// batch-1 latency sweep over kernels and split counts), "latency" (the before/after
// table: batch 1 at 128 .. 128k keys, the other shapes and the serving shapes).
int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "all";
  int sms = 0;
  ck(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), "attr");
  std::mt19937 rng(2024);
  if (mode == "ncu") {  // argv[2]: sequence length (default 16k)
    bench_prefill(argc > 2 ? std::atoi(argv[2]) : 16384, true, 0, rng);
    return 0;
  }
  if (mode == "prefill-host") {  // host cost per default prefill call, 1k, page size argv[2] (default 16)
    PrefillShape sh;
    sh.P = argc > 2 ? std::atoi(argv[2]) : 16;
    bench_prefill(1024, true, 0, rng, sh, 2000);
    return 0;
  }
  if (mode == "prefill-page") {  // the default dispatch at page size argv[2] (0: contiguous), argv[3..] lengths
    PrefillShape sh;
    sh.P = std::atoi(argv[2]);
    for (int i = 3; i < argc; ++i) bench_prefill(std::atoi(argv[i]), sh.P > 0, 0, rng, sh);
    return 0;
  }
  if (mode == "prefill-default") {  // the default dispatch only (paged P = 16), argv[2..] lengths
    for (int i = 2; i < argc; ++i) bench_prefill(std::atoi(argv[i]), true, 0, rng);
    if (argc <= 2)
      for (int L : {1024, 2048, 4096, 8192, 16384}) bench_prefill(L, true, 0, rng);
    return 0;
  }
  if (mode == "ncu-serve") {
    DecodeCase dc{512, 192};
    dc.item_warps = argc > 2 ? std::atoi(argv[2]) : -1;
    bench_decode(dc, sms, rng);
    return 0;
  }
  if (mode == "prefill-d64") {
    // Head dim 64: the default dispatch, the mma.sync kernel at both key tiles and the sm_90a kernel
    // forced, at two GQA ratios (4 and 2).
    for (const PrefillShape sh : {PrefillShape{32, 8, 64, "prefill-d64"}, PrefillShape{16, 8, 64, "prefill-d64"}})
      for (int L : {1024, 2048, 4096, 8192, 16384}) {
        bench_prefill(L, true, 0, rng, sh);
        bench_prefill(L, true, 32, rng, sh);
        bench_prefill(L, true, 64, rng, sh);
        if (pagoda::cuda::prefill_sm90_available(pagoda::DType::DTYPE_BF16, 64))
          bench_prefill(L, true, pagoda::cuda::PREFILL_SM90_KEY_TILE, rng, sh);
      }
    return 0;
  }
  if (mode == "ncu-b1") {  // one B1 decode as planned, argv[2] keys (default 32768), for a profiler run
    bench_decode({1, argc > 2 ? std::atoi(argv[2]) : 32768}, sms, rng);
    return 0;
  }
  if (mode == "splits" || mode == "splits-mqa") {  // argv[2] keys, argv[3..] forced split counts (0: planned):
    // batch 1, the 4-warp CTA kernel; splits-mqa with 1 KV head (two 16-row groups)
    for (int i = 3; i < argc; ++i) {
      DecodeCase dc{1, std::atoi(argv[2])};
      if (mode == "splits-mqa") dc.hkv = 1;
      dc.item_warps = 0;
      dc.forced_splits = std::atoi(argv[i]);
      bench_decode(dc, sms, rng);
    }
    return 0;
  }
  if (mode == "prefill-chunk") {  // chunked prefill shapes (B, q_len, kv_len), default dispatch; argv: triples
    if (argc > 2) {
      for (int i = 2; i + 2 < argc; i += 3)
        bench_prefill_chunk(std::atoi(argv[i]), std::atoi(argv[i + 1]), std::atoi(argv[i + 2]), rng);
      return 0;
    }
    const int shapes[][3] = {{1, 512, 8192},  {1, 1024, 8192},  {1, 2048, 8192}, {1, 512, 32768}, {1, 2048, 32768},
                             {4, 512, 8192},  {4, 2048, 8192},  {8, 1024, 4096}, {8, 2048, 2048}};
    for (const auto& c : shapes) bench_prefill_chunk(c[0], c[1], c[2], rng);
    return 0;
  }
  if (mode == "prefill-mixed") {  // one ragged batch per argument: "q:kv,q:kv,..." (xN repeats: "q:kv*N")
    for (int i = 2; i < argc; ++i) {
      std::vector<int32_t> q, kv;
      std::string spec = argv[i];
      for (std::size_t pos = 0; pos <= spec.size();) {
        std::size_t end = spec.find(',', pos);
        if (end == std::string::npos) end = spec.size();
        const std::string item = spec.substr(pos, end - pos);
        const std::size_t colon = item.find(':'), star = item.find('*');
        const int n = star == std::string::npos ? 1 : std::atoi(item.c_str() + star + 1);
        for (int r = 0; r < n; ++r) {
          q.push_back(std::atoi(item.substr(0, colon).c_str()));
          kv.push_back(std::atoi(item.c_str() + colon + 1));
        }
        pos = end + 1;
      }
      bench_prefill_mixed(q, kv, rng);
    }
    return 0;
  }
  if (mode == "mqa") {  // MQA (1 KV head, 32 query heads: two 16-row groups per KV head) next to GQA (8)
    const int shapes[][2] = {{1, 8192}, {1, 32768}, {16, 8192}, {64, 4096}, {128, 2048}};
    for (const auto& c : shapes)
      for (int hkv : {8, 1}) {
        DecodeCase dc{c[0], c[1] * (hkv == 1 ? 8 : 1)};  // MQA at 8x the context: the same K+V bytes
        dc.hkv = hkv;
        dc.ceiling = true;
        dc.op = "decode-mqa";
        bench_decode(dc, sms, rng);
      }
    return 0;
  }
  if (mode == "rows") {  // planned decodes whose CTAs hold more than 4 real rows (G 8, MQA, q_len 4), GQA 8k as
    // control; from {1, 8192, 4, 4} on: more than 16 rows per KV head (G 8 x q_len 4 = 32, G 4 x q_len 5 = 20,
    // MQA x q_len 3 = 96)
    const int cases[][4] = {{1, 8192, 8, 1}, {1, 65536, 1, 1}, {1, 8192, 4, 1}, {1, 8192, 8, 4}, {1, 1024, 8, 4},
                            {1, 32768, 8, 4}, {4, 8192, 8, 4}, {1, 8192, 4, 4}, {1, 32768, 4, 4}, {16, 8192, 4, 4},
                            {64, 2048, 4, 4}, {1, 8192, 8, 5}, {1, 32768, 1, 3}};  // B, ctx, Hkv, q_len
    for (const auto& c : cases) bench_decode(rows_case(c, "decode-rows"), sms, rng);
    return 0;
  }
  if (mode == "rows16") {  // 9-16 packed rows per KV head (speculative verification: G 4 x q_len 3-4; G 16): the
    // plan (the keys-major kernel's two-n-tile form) against the 16-row kernel forced, alternating, two rounds
    const int cases[][4] = {{1, 8192, 8, 4},  {4, 8192, 8, 4},   {16, 8192, 8, 4}, {64, 2048, 8, 4},
                            {128, 1024, 8, 4}, {256, 512, 8, 4}, {8, 8192, 8, 3},  {1, 8192, 2, 1},
                            {16, 4096, 2, 1}};  // B, ctx, Hkv, q_len (H 32)
    for (int round = 0; round < 2; ++round)
      for (const auto& c : cases)
        for (int r16 : {round, 1 - round}) {
          DecodeCase dc = rows_case(c, "decode-rows16");
          dc.rows_per_cta = r16 ? 16 : 0;
          bench_decode(dc, sms, rng);
        }
    return 0;
  }
  if (mode == "pair") {  // 16-row CTAs against the pair kernel (2 and 4 key streams) at forced split counts
    // (0: the count planned for 16-row CTAs, or for the pair kernel with the planner's key streams),
    // shapes with 32+ rows per KV head; op "decode-pair"
    struct PairSweep {
      int B, ctx, hkv, q_len;
      std::vector<int> splits;
    };
    const std::vector<PairSweep> sweeps = {{1, 65536, 1, 1, {0, 32, 48, 64, 96, 132, 192, 264}},
                                           {1, 262144, 1, 1, {0, 64, 96, 132, 192, 264}},
                                           {16, 65536, 1, 1, {0, 2, 4, 8, 16}},
                                           {64, 32768, 1, 1, {0, 1, 2, 4}},
                                           {128, 16384, 1, 1, {0, 1, 2}},
                                           {1, 8192, 4, 4, {0, 16, 24, 32, 48, 64}},
                                           {1, 32768, 4, 4, {0, 32, 48, 64, 96}},
                                           {16, 8192, 4, 4, {0, 1, 2, 4}},
                                           {64, 2048, 4, 4, {0, 1, 2}}};
    // argv[2] "serve": many short KVs (MQA B256-512, G 8 x q_len 4 at B128), each kernel at its planned count
    const std::vector<PairSweep> serve = {{256, 256, 1, 1, {0}}, {512, 192, 1, 1, {0}}, {128, 512, 4, 4, {0}}};
    for (const auto& sw : argc > 2 && std::string(argv[2]) == "serve" ? serve : sweeps)
      for (int s : sw.splits)
        for (int v : {16, 2, 4}) {  // 16-row CTAs, pair kernel with 2 / 4 key streams
          DecodeCase dc{sw.B, sw.ctx};
          dc.hkv = sw.hkv;
          dc.q_len = sw.q_len;
          dc.forced_splits = s;
          dc.rows_per_cta = v == 16 ? 16 : 32;
          dc.key_streams = v == 16 ? 0 : v;
          dc.op = "decode-pair";
          bench_decode(dc, sms, rng);
        }
    return 0;
  }
  if (mode == "merge") {  // one-level against two-level split merge at forced split counts (0: planned) and
    // kernels (16: 16-row CTAs, 2 / 4: pair kernel key streams); op "decode-merge"
    struct MergeSweep {
      int B, ctx, hkv, q_len, rows;
      std::vector<int> splits;
    };
    const std::vector<MergeSweep> sweeps = {
        {1, 65536, 1, 1, 16, {0, 64, 96, 128, 132, 192, 264}}, {1, 65536, 1, 1, 4, {0, 64, 128, 132}},
        {1, 262144, 1, 1, 16, {0, 128, 192, 264}},            {1, 262144, 1, 1, 4, {0, 128, 132, 264}},
        {1, 8192, 4, 4, 16, {0, 32, 64}},                     {1, 8192, 4, 4, 4, {0, 32, 64}},
        {1, 32768, 4, 4, 16, {0, 64}},                        {1, 32768, 4, 4, 4, {0, 32, 64}},
        {1, 8192, 8, 1, 16, {0, 64}},                         {1, 32768, 8, 1, 16, {0, 64}},
        {1, 131072, 8, 1, 16, {0, 66}}};
    for (const auto& sw : sweeps)
      for (int sp : sw.splits)
        for (int m : {0, 1}) {
          DecodeCase dc{sw.B, sw.ctx};
          dc.hkv = sw.hkv;
          dc.q_len = sw.q_len;
          dc.forced_splits = sp;
          dc.rows_per_cta = sw.rows == 16 ? 16 : 32;
          dc.key_streams = sw.rows == 16 ? 0 : sw.rows;
          dc.merge = m;
          dc.op = "decode-merge";
          bench_decode(dc, sms, rng);
        }
    return 0;
  }
  if (mode == "ceiling-pdl") {  // the decode shapes with the copy, read and PDL-chained read ceilings
    const int cases[][2] = {{1, 8192}, {1, 32768}, {1, 131072}, {16, 8192}, {64, 4096}, {128, 2048}};
    for (int round = 0; round < 2; ++round)
      for (const auto& c : cases) {
        DecodeCase dc{c[0], c[1]};
        dc.ceiling = dc.pdl_ceiling = true;
        bench_decode(dc, sms, rng);
      }
    return 0;
  }
  if (mode == "tail-ceiling") {  // batch 1: the decode beside the chained read with and without a split tail
    for (int round = 0; round < 2; ++round)
      for (int ctx : {4096, 8192, 32768}) {
        DecodeCase dc{1, ctx};
        dc.ceiling = dc.pdl_ceiling = dc.tail_ceiling = true;
        bench_decode(dc, sms, rng);
      }
    return 0;
  }
  if (mode == "keys") {  // the keys-major kernel (4, 6, 8 warps; trigger after / before the wait) against the
    // planned 16-row kernel, at batch 1 over forced split counts and at the batched shapes as planned;
    // two rounds
    const int b1[][5] = {{512, 4, 8, 0, 0}, {2048, 8, 16, 32, 0}, {8192, 16, 24, 32, 8},
                         {32768, 16, 32, 0, 0}, {131072, 16, 32, 0, 0}};  // ctx, split counts (0: none)
    const int batched[][2] = {{16, 8192}, {64, 4096}, {128, 2048}};
    for (int round = 0; round < 2; ++round) {
      for (const auto& c : b1) {
        DecodeCase base{1, c[0]};
        base.op = "decode-keys";
        bench_decode(base, sms, rng);
        for (int i = 1; i < 5 && c[i] > 0; ++i)
          for (int w : {4, 6, 8})
            for (bool early : {false, true}) {
              DecodeCase dc = base;
              dc.forced_splits = c[i];
              dc.keys_warps = w;
              dc.early_trigger = early;
              bench_decode(dc, sms, rng);
            }
      }
      for (const auto& c : batched) {
        DecodeCase base{c[0], c[1]};
        base.op = "decode-keys";
        bench_decode(base, sms, rng);
        for (int w : {4, 6, 8}) {
          DecodeCase dc = base;
          dc.keys_warps = w;
          bench_decode(dc, sms, rng);
        }
      }
    }
    return 0;
  }
  if (mode == "keys-at") {  // argv[2]: "B:ctx,B:ctx,..."; argv[3..]: keys-major configs "warps.stages.early.splits"
    // (splits 0: as planned; "0.0.0.0": the planner's kernel, "-1.0.0.0": the 16-row kernel as planned for it);
    // every config at every shape, rounds
    // in rotating order (argv's order, then reversed), two rounds
    std::vector<std::pair<int, int>> shapes;
    for (std::string rest = argc > 2 ? argv[2] : "1:8192"; !rest.empty();) {
      const std::size_t comma = rest.find(',');
      const std::string one = rest.substr(0, comma);
      shapes.emplace_back(std::atoi(one.c_str()), std::atoi(one.substr(one.find(':') + 1).c_str()));
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    }
    std::vector<std::array<int, 4>> configs;
    for (int i = 3; i < argc; ++i) {
      std::array<int, 4> cfg{};
      std::sscanf(argv[i], "%d.%d.%d.%d", &cfg[0], &cfg[1], &cfg[2], &cfg[3]);
      configs.push_back(cfg);
    }
    for (int round = 0; round < 2; ++round)
      for (const auto& sh : shapes)
        for (std::size_t j = 0; j < configs.size(); ++j) {
          const auto& cfg = configs[round == 0 ? j : configs.size() - 1 - j];
          DecodeCase dc{sh.first, sh.second};
          dc.op = "decode-keys";
          dc.keys_warps = std::max(cfg[0], 0);
          if (cfg[0] < 0) dc.item_warps = 0;  // the 16-row kernel, at its own plan
          dc.keys_stages = cfg[1];
          dc.early_trigger = cfg[2] != 0;
          dc.forced_splits = cfg[3];
          bench_decode(dc, sms, rng);
        }
    return 0;
  }
  if (mode == "ncu-mqa") {  // one MQA decode (B64, 32k keys), for a profiler run of its DRAM bytes
    DecodeCase dc{64, 32768};
    dc.hkv = 1;
    bench_decode(dc, sms, rng);
    return 0;
  }
  if (mode == "b1") {
    b1_sweep(sms, rng);
    return 0;
  }
  if (mode == "latency") {
    latency_cases(sms, rng);
    return 0;
  }
  if (mode == "decode") {
    for (int ctx : {8192, 32768})
      for (int s : {32, 8, 16, 24, 64}) {
        DecodeCase dc{1, ctx};
        dc.forced_splits = s;
        bench_decode(dc, sms, rng);
      }
  }
  for (int L : {1024, 2048, 4096, 8192, 16384}) {
    if (mode == "decode" || mode == "decode-cases" || mode == "kernels") break;
    bench_prefill(L, false, 0, rng);
    bench_prefill(L, true, 0, rng);
    bench_prefill(L, true, 32, rng);
    bench_prefill(L, true, 64, rng);
    if (pagoda::cuda::prefill_sm90_available(pagoda::DType::DTYPE_BF16, D))
      bench_prefill(L, true, pagoda::cuda::PREFILL_SM90_KEY_TILE_OVERLAP, rng);
  }
  if (mode == "prefill") return 0;
  // The shapes, then the serving shapes: many sequences with short contexts (B512 ctx 192
  // is the serving bench's steady state: 128-token prompts + 128 output tokens).
  const int cases[][2] = {{1, 8192},  {1, 32768}, {1, 131072}, {16, 8192},  {64, 4096},
                          {128, 2048}, {512, 192}, {256, 256},  {256, 512}, {1024, 160}};
  for (const auto& c : cases) {
    DecodeCase dc{c[0], c[1]};
    dc.ceiling = true;
    bench_decode(dc, sms, rng);
    if (mode == "decode-cases" || mode == "kernels") continue;
    dc.ceiling = false;
    dc.pdl = false;
    bench_decode(dc, sms, rng);
    dc.pdl = true;
    dc.memset_counters = true;
    bench_decode(dc, sms, rng);
  }
  // The engine's view of the serving steady state: lengths spread over [129, 256].
  for (int B : {256, 512}) bench_decode({B, 256, 129}, sms, rng);
  if (mode != "kernels") return 0;
  // Every decode kernel forced at the serving shapes and at the short end of the shapes
  // ((warps per CTA, items per warp); 0 = the 4-warp CTA kernel), then the ragged serving batch.
  const int serve[][2] = {{512, 192}, {256, 256}, {256, 512}, {1024, 160}, {128, 2048}, {64, 4096}};
  const int variants[][2] = {{0, 1}, {1, 1}, {2, 1}, {4, 1}, {2, 2}};
  for (const auto& c : serve)
    for (const auto& v : variants) {
      DecodeCase dc{c[0], c[1]};
      dc.item_warps = v[0];
      dc.items_per_warp = v[0] > 0 ? v[1] : 0;
      bench_decode(dc, sms, rng);
    }
  for (const auto& v : variants) {
    DecodeCase dc{512, 256, 129};
    dc.item_warps = v[0];
    dc.items_per_warp = v[0] > 0 ? v[1] : 0;
    bench_decode(dc, sms, rng);
  }
  // The warp kernel with forced splits (the per-warp merge), uniform and ragged.
  const int split_cases[][3] = {{256, 256, 0}, {256, 512, 0}, {512, 192, 0}, {512, 256, 129}};
  for (const auto& c : split_cases) {
    DecodeCase dc{c[0], c[1], c[2]};
    dc.item_warps = 2;
    dc.forced_splits = 2;
    bench_decode(dc, sms, rng);
  }
  return 0;
}
