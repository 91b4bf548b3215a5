// CUDA attention kernels against a float64 reference over sweeps of lengths (1, 7, 33, 100, 1000,
// 4097), page sizes (1, 16, 64), GQA ratios (1, 4, 8, MQA), ragged batches, causal and not, and the
// decode kernels (4-warp CTA per item; keys-major kernel for at most 8 rows per KV head; pair kernel for more
// than 16 rows per KV head; warp per item at many short sequences);
// outputs poisoned before every run. Skips cleanly when no GPU is present.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <tuple>

#include "backend/cuda/attention/attention.hpp"
#include "backend/cuda/attention/attention_launch.hpp"
#include "backend/cuda/attention/flash_prefill_sm90.hpp"
#include "backend_cuda/attention_fixture.hpp"
#include "backend_cuda/pdl_late_writer.hpp"
#include "core/error.hpp"

namespace pagoda::test {
namespace {

#define REQUIRE_GPU() \
  if (!gpu_present()) GTEST_SKIP() << "no CUDA device"

struct DeviceCase {
  DeviceBuffer<int32_t> cu_q, kv_lens, block_table;
  DeviceBuffer<uint16_t> q, k, v, out;
  DeviceBuffer<float> lse;
  PagedKvView view;
  AttentionBatch batch;

  explicit DeviceCase(const PagedCase& c)
      : cu_q(c.cu_q.size()),
        kv_lens(c.kv_lens.size()),
        block_table(c.block_table.size()),
        q(c.q.size()),
        k(c.k.size()),
        v(c.v.size()),
        out(c.q.size()),
        lse(std::size_t(c.T()) * c.H) {
    cu_q.upload(c.cu_q);
    kv_lens.upload(c.kv_lens);
    block_table.upload(c.block_table);
    q.upload(c.q);
    k.upload(c.k);
    v.upload(c.v);
    view.k = k.ptr;
    view.v = v.ptr;
    view.layout = c.layout();
    view.num_pages = c.num_pages;
    batch.num_seqs = int32_t(c.q_lens.size());
    batch.cu_seqlens_q = cu_q.ptr;
    batch.kv_lens = kv_lens.ptr;
    batch.block_table = block_table.ptr;
    batch.max_pages_per_seq = c.max_pages;
    batch.causal = c.causal;
    batch.scale = float(c.scale());
  }
  void poison() {
    out.poison();
    lse.poison();
  }
};

int max_of(const std::vector<int32_t>& v) { return *std::max_element(v.begin(), v.end()); }

// The prefill workspace of the tests that do not test it: zeroed once (over a poisoned buffer), shared
// by every prefill on the default stream, so each launch must leave its work counters at zero.
const pagoda::cuda::PrefillWorkspace& prefill_ws() {
  static DeviceBuffer<unsigned char> buf(pagoda::cuda::PREFILL_WORKSPACE_BYTES);
  static const pagoda::cuda::PrefillWorkspace ws = [] {
    buf.poison();
    pagoda::cuda::prefill_workspace_init(buf.ptr, nullptr);
    return pagoda::cuda::PrefillWorkspace{buf.ptr, true};
  }();
  return ws;
}

// What a decode step's KV append writes, taken out of a case for a late writer to put back: each
// sequence's newest q_len tokens' K/V rows ([N, Hkv, D] on the device) and their cache slots, and q
// itself; plus copies of the cache and of q with NaN in those places. write_late launches the
// late writer (pdl_late_writer.hpp): a programmatically dependent decode launched right after it
// starts at once, and a read of a new row or of q before its griddepcontrol.wait sees NaN.
struct NewestTokens {
  std::vector<uint16_t> k_nan, v_nan, q_nan;
  DeviceBuffer<uint16_t> dk, dv, dq;
  DeviceBuffer<int64_t> dslots;
  int64_t n_rows = 0, row_elems = 0;

  explicit NewestTokens(const PagedCase& c) : k_nan(c.k), v_nan(c.v), q_nan(c.q.size(), 0x7FC0) {  // bf16 quiet NaN
    const int B = int(c.kv_lens.size());
    row_elems = int64_t(c.Hkv) * c.D;
    std::vector<uint16_t> kn, vn;
    std::vector<int64_t> slots;
    for (int b = 0; b < B; ++b) {
      for (int pos = c.kv_lens[b] - c.q_lens[b]; pos < c.kv_lens[b]; ++pos) {
        slots.push_back(int64_t(c.block_table[std::size_t(b) * c.max_pages + pos / c.P]) * c.P + pos % c.P);
        for (int h = 0; h < c.Hkv; ++h) {
          const std::size_t src = c.kv_index(b, pos, h);
          for (int d = 0; d < c.D; ++d) {
            kn.push_back(c.k[src + d]);
            vn.push_back(c.v[src + d]);
            k_nan[src + d] = v_nan[src + d] = 0x7FC0;
          }
        }
      }
    }
    n_rows = int64_t(slots.size());
    dk = DeviceBuffer<uint16_t>(kn.size());
    dv = DeviceBuffer<uint16_t>(vn.size());
    dq = DeviceBuffer<uint16_t>(c.q.size());
    dslots = DeviceBuffer<int64_t>(slots.size());
    dk.upload(kn);
    dv.upload(vn);
    dq.upload(c.q);
    dslots.upload(slots);
  }
  // Puts the NaN copies into the case's device buffers (and poisons its outputs).
  void poison(DeviceCase& dc) const {
    dc.k.upload(k_nan);
    dc.v.upload(v_nan);
    dc.q.upload(q_nan);
    dc.poison();
  }
  // The new K/V rows and q, written by a kernel that lets the next launch start first and then
  // waits 50 us (decode CTAs are placed within a few us).
  void write_late(DeviceCase& dc, cudaStream_t s) const {
    LateRows sets[3];
    sets[0] = {dc.k.ptr, dk.ptr, dslots.ptr, n_rows, row_elems};
    sets[1] = {dc.v.ptr, dv.ptr, dslots.ptr, n_rows, row_elems};
    sets[2] = {dc.q.ptr, dq.ptr, nullptr, 1, int64_t(dq.count)};
    CUDA_OK(late_write_rows(sets, 3, 50, s));
  }
  // One round: the NaN copies in place and every output poisoned, the late writer, then the decode as a
  // dependent of it into dc's outputs and, with out2 / lse2, a second decode into those (its own output, so a
  // wrong first result cannot be overwritten); returns once the stream is done.
  void decode_after_late_write(DeviceCase& dc, const pagoda::cuda::DecodePlan& plan, void* ws, cudaStream_t s,
                               DeviceBuffer<uint16_t>* out2 = nullptr, DeviceBuffer<float>* lse2 = nullptr) const {
    poison(dc);
    if (out2 != nullptr) {
      out2->poison();
      lse2->poison();
    }
    CUDA_OK(cudaDeviceSynchronize());
    write_late(dc, s);
    pagoda::cuda::attention_decode(plan, dc.q.ptr, dc.view, dc.batch, dc.out.ptr, dc.lse.ptr, ws, s);
    if (out2 != nullptr)
      pagoda::cuda::attention_decode(plan, dc.q.ptr, dc.view, dc.batch, out2->ptr, lse2->ptr, ws, s);
    CUDA_OK(cudaStreamSynchronize(s));
  }
};

// Every split counter at the start of a decode workspace is back at zero (each launch leaves them so): one
// per 16-row item (items16 of them), then DECODE_MERGE_GROUPS per item for the two-level merge's groups.
void expect_counters_zero(const void* ws, std::size_t items16) {
  const std::size_t n = items16 * (1 + pagoda::cuda::DECODE_MERGE_GROUPS);
  std::vector<int32_t> counters(n);
  CUDA_OK(cudaMemcpy(counters.data(), ws, n * sizeof(int32_t), cudaMemcpyDeviceToHost));
  for (int32_t v : counters) ASSERT_EQ(v, 0) << "a split counter was left non-zero";
}

struct HeadConfig {
  int H, Hkv;
};
const HeadConfig kHeads[] = {{4, 4}, {8, 2}, {16, 2}, {6, 1}};  // GQA 1, 4, 8 and MQA

std::string label(const PagedCase& c, const char* what) {
  return std::string(what) + " " + std::string(dtype_info(c.dtype).name) + " D" + std::to_string(c.D) + " P" +
         std::to_string(c.P) + " H" + std::to_string(c.H) + "/" + std::to_string(c.Hkv) +
         (c.causal ? " causal" : " full");
}

TEST(CudaAttention, PrefillSweep) {
  REQUIRE_GPU();
  std::mt19937 rng(1234);
  for (DType dt : {DType::DTYPE_BF16, DType::DTYPE_F16}) {
    for (int D : {64, 128}) {
      for (const HeadConfig& hc : kHeads) {
        for (int P : {1, 16, 64}) {
          PagedCase c = PagedCase::heads(dt, D, hc.H, hc.Hkv, P);
          // Fresh prefills of every length plus chunked prefills (queries at the end of a longer KV).
          c.q_lens = {1, 7, 33, 100, 1000, 7, 33};
          c.kv_lens = {1, 7, 33, 100, 1000, 100, 4097};
          c.causal = (P != 64) || hc.Hkv != 1;  // one non-causal config per dtype/dim
          c.build(rng);
          DeviceCase dc(c);
          dc.poison();
          pagoda::cuda::attention_prefill(dc.q.ptr, c.H, dc.view, dc.batch, max_of(c.q_lens), dc.out.ptr, dc.lse.ptr,
                                          prefill_ws(), nullptr);
          CUDA_OK(cudaDeviceSynchronize());
          const auto out = dc.out.download();
          const auto lse = dc.lse.download();
          const std::string l = label(c, "prefill");
          ASSERT_EQ(c.check(out, &lse, l.c_str()), 0) << l;
        }
      }
    }
  }
}

// The non-default key tile of each head dim (64 at D = 128, 32 at D = 64; the bench compares it with
// the default) over the same lengths.
TEST(CudaAttention, PrefillOtherKeyTile) {
  REQUIRE_GPU();
  std::mt19937 rng(4242);
  for (int D : {64, 128}) {
    for (const HeadConfig& hc : kHeads) {
      for (int P : {1, 16}) {
        PagedCase c = PagedCase::heads(D == 64 ? DType::DTYPE_F16 : DType::DTYPE_BF16, D, hc.H, hc.Hkv, P);
        c.q_lens = {1, 7, 33, 100, 1000, 7, 33};
        c.kv_lens = {1, 7, 33, 100, 1000, 100, 4097};
        c.causal = P == 16;
        c.build(rng);
        DeviceCase dc(c);
        dc.poison();
        pagoda::cuda::attention_prefill_variant(dc.q.ptr, c.H, dc.view, dc.batch, max_of(c.q_lens), dc.out.ptr,
                                                dc.lse.ptr, D == 128 ? 64 : 32, prefill_ws(), nullptr);
        CUDA_OK(cudaDeviceSynchronize());
        const auto out = dc.out.download();
        const auto lse = dc.lse.download();
        const std::string l = label(c, D == 128 ? "prefill-bn64" : "prefill-bn32");
        ASSERT_EQ(c.check(out, &lse, l.c_str()), 0) << l;
      }
    }
  }
}

TEST(CudaAttention, PrefillLong4097) {
  REQUIRE_GPU();
  std::mt19937 rng(99);
  for (bool causal : {true, false}) {
    PagedCase c = PagedCase::heads(DType::DTYPE_BF16, 128, 8, 2, 16);
    c.causal = causal;
    c.q_lens = {4097, 33};
    c.kv_lens = {4097, 33};
    c.build(rng);
    DeviceCase dc(c);
    dc.poison();
    pagoda::cuda::attention_prefill(dc.q.ptr, c.H, dc.view, dc.batch, 4097, dc.out.ptr, dc.lse.ptr, prefill_ws(),
                                    nullptr);
    CUDA_OK(cudaDeviceSynchronize());
    const auto out = dc.out.download();
    const auto lse = dc.lse.download();
    const std::string l = label(c, "prefill-4097");
    ASSERT_EQ(c.check(out, &lse, l.c_str()), 0) << l;
  }
}

// Contiguous K/V is the trivial page table: P = capacity, block_table[b] = b.
TEST(CudaAttention, PrefillContiguousEqualsPaged) {
  REQUIRE_GPU();
  std::mt19937 rng(7);
  PagedCase c = PagedCase::heads(DType::DTYPE_BF16, 128, 8, 2, 16);
  c.q_lens = {100, 33};
  c.kv_lens = {1000, 33};
  c.build(rng);
  PagedCase flat = c;
  flat.P = 1000;
  flat.max_pages = 1;
  flat.num_pages = 2;
  flat.block_table = {0, 1};
  flat.k.assign(std::size_t(2) * 1000 * c.Hkv * c.D, 0);
  flat.v = flat.k;
  for (int b = 0; b < 2; ++b)
    for (int pos = 0; pos < c.kv_lens[b]; ++pos)
      for (int h = 0; h < c.Hkv; ++h)
        for (int d = 0; d < c.D; ++d) {
          flat.k[flat.kv_index(b, pos, h) + d] = c.k[c.kv_index(b, pos, h) + d];
          flat.v[flat.kv_index(b, pos, h) + d] = c.v[c.kv_index(b, pos, h) + d];
        }
  DeviceCase dp(c), df(flat);
  dp.poison();
  df.poison();
  pagoda::cuda::attention_prefill(dp.q.ptr, c.H, dp.view, dp.batch, 100, dp.out.ptr, nullptr, prefill_ws(), nullptr);
  pagoda::cuda::attention_prefill(df.q.ptr, c.H, df.view, df.batch, 100, df.out.ptr, nullptr, prefill_ws(), nullptr);
  CUDA_OK(cudaDeviceSynchronize());
  const auto a = dp.out.download(), b = df.out.download();
  ASSERT_EQ(a, b) << "paged and contiguous prefill differ";
  ASSERT_EQ(c.check(a, nullptr, "prefill-paged"), 0);
}

// The Hopper (sm_90a) kernel forced over the same sweep: D = 64 in bf16 and fp16 (also what
// PrefillSweep reaches through the default dispatch on a compute 9.0 device, here forced so the
// kernel stays covered whatever the dispatch picks) and the overlap variant at D = 128.
TEST(CudaAttention, PrefillSm90Sweep) {
  REQUIRE_GPU();
  if (!pagoda::cuda::prefill_sm90_available(DType::DTYPE_BF16, 128)) GTEST_SKIP() << "no sm_90a kernel for this device";
  std::mt19937 rng(9090);
  struct Variant {
    DType dtype;
    int D, key_tile;
  };
  const Variant variants[] = {{DType::DTYPE_BF16, 64, pagoda::cuda::PREFILL_SM90_KEY_TILE},
                              {DType::DTYPE_F16, 64, pagoda::cuda::PREFILL_SM90_KEY_TILE},
                              {DType::DTYPE_BF16, 128, pagoda::cuda::PREFILL_SM90_KEY_TILE_OVERLAP}};
  for (const Variant& var : variants) {
    for (const HeadConfig& hc : kHeads) {
      for (int P : {1, 16, 64}) {
        PagedCase c = PagedCase::heads(var.dtype, var.D, hc.H, hc.Hkv, P);
        c.q_lens = {1, 7, 33, 100, 1000, 7, 33};
        c.kv_lens = {1, 7, 33, 100, 1000, 100, 4097};
        c.causal = (P != 64) || hc.Hkv != 1;
        c.build(rng);
        DeviceCase dc(c);
        dc.poison();
        pagoda::cuda::attention_prefill_variant(dc.q.ptr, c.H, dc.view, dc.batch, max_of(c.q_lens), dc.out.ptr,
                                                dc.lse.ptr, var.key_tile, prefill_ws(), nullptr);
        CUDA_OK(cudaDeviceSynchronize());
        const auto out = dc.out.download();
        const auto lse = dc.lse.download();
        const std::string l = label(c, var.key_tile > 0 ? "prefill-sm90" : "prefill-sm90-overlap");
        ASSERT_EQ(c.check(out, &lse, l.c_str()), 0) << l;
      }
    }
  }
}

// On a compute capability 9.0 device the default prefill (D = 128 and D = 64) is the sm_90a
// kernel: the selection says so, and the default output is bit-identical to the forced sm_90a
// launch. Small enough for compute-sanitizer (gpu_session.sh runs memcheck on it).
TEST(CudaAttention, PrefillSm90IsDispatched) {
  REQUIRE_GPU();
  int dev = 0, major = 0, minor = 0;
  CUDA_OK(cudaGetDevice(&dev));
  CUDA_OK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  CUDA_OK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  if (major != 9 || minor != 0) {
    EXPECT_FALSE(pagoda::cuda::prefill_sm90_selected(DType::DTYPE_BF16, 128));
    EXPECT_FALSE(pagoda::cuda::prefill_sm90_selected(DType::DTYPE_BF16, 64));
    GTEST_SKIP() << "not a compute capability 9.0 device";
  }
  for (DType dt : {DType::DTYPE_BF16, DType::DTYPE_F16})
    for (int D : {128, 64})
      ASSERT_TRUE(pagoda::cuda::prefill_sm90_selected(dt, D))
          << "sm_90 device, but the dispatch skips the sm_90a kernel at D = " << D;
  std::mt19937 rng(90);
  for (int D : {128, 64}) {
    PagedCase c = PagedCase::heads(D == 128 ? DType::DTYPE_BF16 : DType::DTYPE_F16, D, 8, 2, 16);
    c.q_lens = {100, 33, 1, 200};
    c.kv_lens = {300, 33, 1, 200};
    c.build(rng);
    DeviceCase dd(c), df(c);
    dd.poison();
    df.poison();
    pagoda::cuda::attention_prefill(dd.q.ptr, c.H, dd.view, dd.batch, 200, dd.out.ptr, dd.lse.ptr, prefill_ws(),
                                    nullptr);
    pagoda::cuda::attention_prefill_variant(df.q.ptr, c.H, df.view, df.batch, 200, df.out.ptr, df.lse.ptr,
                                            pagoda::cuda::PREFILL_SM90_KEY_TILE, prefill_ws(), nullptr);
    CUDA_OK(cudaDeviceSynchronize());
    const auto out_d = dd.out.download(), out_f = df.out.download();
    const auto lse_f = df.lse.download();
    EXPECT_EQ(out_d, out_f) << "default D = " << D << " prefill is not the sm_90a kernel";
    EXPECT_EQ(dd.lse.download(), lse_f);
    const std::string l = label(c, "prefill-sm90-dispatch");
    ASSERT_EQ(c.check(out_f, &lse_f, l.c_str()), 0) << l;
  }
}

// The sm_90a kernels at every page size class: TMA boxes (P = 64, 128 and 256 by the launcher's
// rule; 8, 16 and 32 too in a measurement build run with PAGODA_PREFILL_TMA=2) and the cp.async
// producer's run gather (16, 32) and row gather (8, 24, 1), with every cache slot past each
// sequence's end NaN, the spare pages NaN, and block-table entries past each sequence's last page
// pointing at a NaN page or out of the cache: no such slot may reach P V (0 * NaN = NaN). D = 128
// bf16 runs the ping-pong kernel (max_q_len <= 2048); D = 64 fp16 and one D = 128 case with
// q_len 2100 run the one-work-per-CTA kernel.
TEST(CudaAttention, PrefillSm90PagesNanTails) {
  REQUIRE_GPU();
  if (!pagoda::cuda::prefill_sm90_available(DType::DTYPE_BF16, 128)) GTEST_SKIP() << "no sm_90a kernel for this device";
  std::mt19937 rng(4242);
  struct Run {
    DType dtype;
    int D, H, Hkv, P;
    std::vector<int32_t> q_lens, kv_lens;
  };
  std::vector<Run> runs;
  for (int P : {8, 16, 32, 64, 128, 256, 24, 1}) {
    runs.push_back(
        {DType::DTYPE_BF16, 128, 8, 2, P, {1, 7, 100, 128, 300, 33, 250}, {1, 7, 100, 128, 1000, 4097, 256}});
    runs.push_back({DType::DTYPE_F16, 64, 8, 1, P, {7, 100, 200, 33}, {7, 100, 1000, 4097}});
  }
  runs.push_back({DType::DTYPE_BF16, 128, 4, 2, 16, {2100, 40}, {2100, 1000}});
  const uint16_t nan = 0x7FFF;  // NaN in bf16 and fp16
  for (const Run& r : runs) {
    PagedCase c = PagedCase::heads(r.dtype, r.D, r.H, r.Hkv, r.P);
    c.q_lens = r.q_lens;
    c.kv_lens = r.kv_lens;
    c.build(rng);
    // Mark every slot a sequence owns, then NaN the rest (tails of last pages, the spare pages).
    const std::size_t row = std::size_t(c.Hkv) * c.D;
    std::vector<char> used(std::size_t(c.num_pages) * c.P, 0);
    for (std::size_t b = 0; b < c.kv_lens.size(); ++b)
      for (int pos = 0; pos < c.kv_lens[b]; ++pos) used[c.kv_index(int(b), pos, 0) / row] = 1;
    for (std::size_t slot = 0; slot < used.size(); ++slot)
      if (!used[slot])
        for (std::size_t e = 0; e < row; ++e) c.k[slot * row + e] = c.v[slot * row + e] = nan;
    int32_t spare = 0;  // a page no sequence owns (build() leaves 3)
    while (std::count(used.begin() + std::size_t(spare) * c.P, used.begin() + std::size_t(spare + 1) * c.P, 1) > 0)
      ++spare;
    for (std::size_t b = 0; b < c.kv_lens.size(); ++b)
      for (int i = (c.kv_lens[b] + c.P - 1) / c.P; i < c.max_pages; ++i)
        c.block_table[b * c.max_pages + i] = i % 2 ? spare : int32_t(c.num_pages + 1000);
    DeviceCase dc(c);
    dc.poison();
    pagoda::cuda::attention_prefill_variant(dc.q.ptr, c.H, dc.view, dc.batch, max_of(c.q_lens), dc.out.ptr,
                                            dc.lse.ptr, pagoda::cuda::PREFILL_SM90_KEY_TILE, prefill_ws(), nullptr);
    CUDA_OK(cudaDeviceSynchronize());
    const auto out = dc.out.download();
    const auto lse = dc.lse.download();
    const std::string l = label(c, "prefill-sm90-nan-tails");
    ASSERT_EQ(c.check(out, &lse, l.c_str()), 0) << l;
  }
}

// The persistent sm_90a kernel's work queue: D = 128 within the ping-pong rule at a TMA page size
// (P = 64; at P = 16 the cp.async form walks a static stride and never reads the counters). On other
// devices the same checks run the mma.sync kernel, which ignores them too.
namespace work_queue {

constexpr int P_QUEUE = 64;

struct Shape {
  int H, Hkv;
  std::vector<int32_t> q_lens, kv_lens;
};

// One work and one CTA; more CTAs than works (68 works, one 1000-token sequence and two of one token);
// a sequence without query tokens; 70 sequences (the queue caches 32 at a time), a few without queries;
// a chunked prefill of 272 works of unequal weight (600 new tokens over 3000 keys, 1500 fresh, 37 over
// 2000).
std::vector<Shape> shapes() {
  std::vector<Shape> v = {{1, 1, {7}, {7}},
                          {8, 2, {1000, 1, 1}, {1000, 300, 4000}},
                          {8, 2, {100, 0, 33}, {100, 50, 40}}};
  Shape many{16, 4, {}, {}};
  for (int b = 0; b < 70; ++b) {
    many.q_lens.push_back(b % 9 == 4 ? 0 : 1 + (b * 7) % 40);
    many.kv_lens.push_back(many.q_lens.back() + (b * 13) % 200 + 1);
  }
  v.push_back(many);
  v.push_back({16, 4, {600, 1500, 37}, {3000, 1500, 2000}});
  return v;
}

PagedCase make(const Shape& sh, std::mt19937& rng, int P = P_QUEUE) {
  PagedCase c = PagedCase::heads(DType::DTYPE_BF16, 128, sh.H, sh.Hkv, P);
  c.q_lens = sh.q_lens;
  c.kv_lens = sh.kv_lens;
  c.build(rng);
  return c;
}

// A zeroed workspace of its own (over a poisoned buffer).
struct Workspace {
  DeviceBuffer<unsigned char> buf{pagoda::cuda::PREFILL_WORKSPACE_BYTES};
  pagoda::cuda::PrefillWorkspace ws;
  explicit Workspace(bool init = true) {
    buf.poison();
    if (init) pagoda::cuda::prefill_workspace_init(buf.ptr, nullptr);
    ws = {buf.ptr, init};
  }
  std::vector<int32_t> counters() const {
    std::vector<int32_t> c(pagoda::cuda::PREFILL_SM90_WORK_COUNTERS);
    cudaMemcpy(c.data(), buf.ptr, c.size() * sizeof(int32_t), cudaMemcpyDeviceToHost);
    return c;
  }
};

int poisoned_elements(const std::vector<uint16_t>& out) {
  return int(std::count(out.begin(), out.end(), uint16_t(0xFFFF)));
}

}  // namespace work_queue

// Many launches back to back on one stream and one workspace zeroed once, cycling through shapes
// whose grids and work counts differ (work_queue::shapes, at P 64 and, in the same stream, P 16), each
// writing its own poisoned output with no sync in between: a launch that left the counters non-zero
// would make the next one skip works (poisoned rows). Every output must match float64 and the first
// launch of its shape bit for bit, and the counters must be zero at the end.
TEST(CudaAttention, PrefillWorkQueueManyLaunches) {
  REQUIRE_GPU();
  std::mt19937 rng(3434);
  std::vector<work_queue::Shape> shapes;
  std::vector<PagedCase> cases;
  std::vector<std::unique_ptr<DeviceCase>> dcs;
  for (int P : {work_queue::P_QUEUE, 16})  // the queue, and the static stride in the same stream
    for (const auto& sh : work_queue::shapes()) {
      shapes.push_back(sh);
      cases.push_back(work_queue::make(sh, rng, P));
      dcs.push_back(std::make_unique<DeviceCase>(cases.back()));
    }
  constexpr int ROUNDS = 8;
  std::vector<std::vector<DeviceBuffer<uint16_t>>> outs(shapes.size());
  for (std::size_t i = 0; i < shapes.size(); ++i)
    for (int r = 0; r < ROUNDS; ++r) {
      outs[i].emplace_back(cases[i].q.size());
      outs[i].back().poison();
    }
  const work_queue::Workspace w;
  CUDA_OK(cudaDeviceSynchronize());
  for (int r = 0; r < ROUNDS; ++r)
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      const DeviceCase& dc = *dcs[i];
      pagoda::cuda::attention_prefill(dc.q.ptr, cases[i].H, dc.view, dc.batch, max_of(cases[i].q_lens),
                                      outs[i][r].ptr, nullptr, w.ws, nullptr);
    }
  CUDA_OK(cudaDeviceSynchronize());
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const std::string l = label(cases[i], "prefill-queue") + " B" + std::to_string(cases[i].q_lens.size());
    const auto first = outs[i][0].download();
    ASSERT_EQ(cases[i].check(first, nullptr, l.c_str()), 0) << l;
    for (int r = 1; r < ROUNDS; ++r)
      ASSERT_TRUE(outs[i][r].download() == first) << l << ": launch " << r << " differs from the first";
  }
  for (int32_t v : w.counters()) ASSERT_EQ(v, 0) << "a work counter was left non-zero";
}

// Captured once into a CUDA graph and replayed with new data in the same buffers: a launch on a
// workspace zeroed once (no reset node) and one on a poisoned workspace that it zeroes itself
// (initialized = false: a memset node). Every replay must match float64 and leave the counters zero.
TEST(CudaAttention, PrefillGraphCaptureReplay) {
  REQUIRE_GPU();
  std::mt19937 rng(5151);
  const work_queue::Shape sh{16, 4, {900, 300}, {2500, 300}};  // 156 works
  PagedCase c = work_queue::make(sh, rng);
  DeviceCase dc(c);
  DeviceBuffer<uint16_t> out2(c.q.size());
  const work_queue::Workspace w_init(true), w_self(false);
  cudaStream_t s;
  CUDA_OK(cudaStreamCreate(&s));
  cudaGraph_t graph;
  CUDA_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  pagoda::cuda::attention_prefill(dc.q.ptr, c.H, dc.view, dc.batch, 900, dc.out.ptr, dc.lse.ptr, w_init.ws, s);
  pagoda::cuda::attention_prefill(dc.q.ptr, c.H, dc.view, dc.batch, 900, out2.ptr, nullptr, w_self.ws, s);
  CUDA_OK(cudaStreamEndCapture(s, &graph));
  cudaGraphExec_t exec;
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  for (int replay = 0; replay < 3; ++replay) {
    c.build(rng);  // new q, K, V (same lengths, new page order)
    dc.q.upload(c.q);
    dc.k.upload(c.k);
    dc.v.upload(c.v);
    dc.block_table.upload(c.block_table);
    dc.poison();
    out2.poison();
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaGraphLaunch(exec, s));
    CUDA_OK(cudaStreamSynchronize(s));
    const auto out = dc.out.download();
    const auto lse = dc.lse.download();
    ASSERT_EQ(c.check(out, &lse, "prefill-graph"), 0) << "replay " << replay;
    ASSERT_TRUE(out2.download() == out) << "replay " << replay << ": the self-zeroing launch differs";
    for (int32_t v : w_init.counters()) ASSERT_EQ(v, 0) << "replay " << replay;
    for (int32_t v : w_self.counters()) ASSERT_EQ(v, 0) << "replay " << replay;
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(s);
}

// Prefills that run at the same time on two streams, each with its own workspace: four overlapping
// launches per stream (no sync in between), each into its own output, all exact.
TEST(CudaAttention, PrefillTwoStreamsTwoWorkspaces) {
  REQUIRE_GPU();
  std::mt19937 rng(6262);
  const auto shapes = work_queue::shapes();
  const PagedCase a = work_queue::make(shapes[4], rng), b = work_queue::make(shapes[3], rng);
  const DeviceCase da(a), db(b);
  const work_queue::Workspace wa, wb;
  std::vector<DeviceBuffer<uint16_t>> oa, ob;
  for (int r = 0; r < 4; ++r) {
    oa.emplace_back(a.q.size());
    ob.emplace_back(b.q.size());
    oa.back().poison();
    ob.back().poison();
  }
  cudaStream_t sa, sb;
  CUDA_OK(cudaStreamCreateWithFlags(&sa, cudaStreamNonBlocking));
  CUDA_OK(cudaStreamCreateWithFlags(&sb, cudaStreamNonBlocking));
  CUDA_OK(cudaDeviceSynchronize());
  for (int r = 0; r < 4; ++r) {
    pagoda::cuda::attention_prefill(da.q.ptr, a.H, da.view, da.batch, max_of(a.q_lens), oa[r].ptr, nullptr, wa.ws, sa);
    pagoda::cuda::attention_prefill(db.q.ptr, b.H, db.view, db.batch, max_of(b.q_lens), ob[r].ptr, nullptr, wb.ws, sb);
  }
  CUDA_OK(cudaDeviceSynchronize());
  const auto first_a = oa[0].download(), first_b = ob[0].download();
  ASSERT_EQ(a.check(first_a, nullptr, "prefill-stream-a"), 0);
  ASSERT_EQ(b.check(first_b, nullptr, "prefill-stream-b"), 0);
  for (int r = 1; r < 4; ++r) {
    ASSERT_TRUE(oa[r].download() == first_a) << "stream a, launch " << r;
    ASSERT_TRUE(ob[r].download() == first_b) << "stream b, launch " << r;
  }
  for (int32_t v : wa.counters()) ASSERT_EQ(v, 0);
  for (int32_t v : wb.counters()) ASSERT_EQ(v, 0);
  cudaStreamDestroy(sa);
  cudaStreamDestroy(sb);
}

// Chunked prefills (new tokens over a longer cached KV) at a TMA page size run the persistent kernel's
// work queue, and its counter decides which works run: with the next-work counter preset far past the last work, each CTA runs
// only its first work and most rows stay poisoned (a kernel that never reads the counter, like the
// one-work kernel or a static stride, would pass this run); the last CTA out still resets the
// counters, and the next launch on the same workspace is exact.
TEST(CudaAttention, PrefillChunkedShapesTakeTheWorkQueue) {
  REQUIRE_GPU();
  if (!pagoda::cuda::prefill_sm90_selected(DType::DTYPE_BF16, 128)) GTEST_SKIP() << "no sm_90a kernel for this device";
  int sms = 0;
  CUDA_OK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  std::mt19937 rng(7373);
  // 304 works (B1, 1200 over 3000 keys); 3 x 512 over 2048 (384 works); 2 x 2048 over 2048 + 4096.
  const work_queue::Shape shapes[] = {{32, 8, {1200}, {3000}},
                                      {32, 8, {512, 512, 512}, {2048, 2048, 2048}},
                                      {16, 4, {2048, 2048}, {2048, 4096}}};
  for (const auto& sh : shapes) {
    PagedCase c = work_queue::make(sh, rng);
    DeviceCase dc(c);
    const work_queue::Workspace w;
    const std::string l = label(c, "prefill-chunked") + " B" + std::to_string(c.q_lens.size());
    const int32_t far[2] = {1 << 28, 0};
    CUDA_OK(cudaMemcpy(w.buf.ptr, far, sizeof(far), cudaMemcpyHostToDevice));
    dc.poison();
    pagoda::cuda::attention_prefill(dc.q.ptr, c.H, dc.view, dc.batch, max_of(c.q_lens), dc.out.ptr, nullptr, w.ws,
                                    nullptr);
    CUDA_OK(cudaDeviceSynchronize());
    // At most one work (128 rows x D) per CTA was written.
    const int64_t written_max = int64_t(sms) * 128 * c.D;
    EXPECT_GE(int64_t(work_queue::poisoned_elements(dc.out.download())), int64_t(c.q.size()) - written_max)
        << l << ": works ran that the counter did not hand out";
    for (int32_t v : w.counters()) ASSERT_EQ(v, 0) << l << ": the last CTA did not reset the counters";
    dc.poison();
    pagoda::cuda::attention_prefill(dc.q.ptr, c.H, dc.view, dc.batch, max_of(c.q_lens), dc.out.ptr, dc.lse.ptr, w.ws,
                                    nullptr);
    CUDA_OK(cudaDeviceSynchronize());
    const auto out = dc.out.download();
    const auto lse = dc.lse.download();
    ASSERT_EQ(c.check(out, &lse, l.c_str()), 0) << l;
  }
}

struct DecodeRun {
  pagoda::cuda::DecodePlan plan;
  DeviceBuffer<unsigned char> workspace;
};

// two_level_merge: -1 as planned, 0 one level, 1 two levels (groups of ceil(splits / DECODE_MERGE_GROUPS)).
// keys_warps >= 0: the keys-major kernel with that many warps (0: not it; with item_warps 0, the 16-row kernel).
DecodeRun decode_run(const PagedCase& c, DeviceCase& dc, int max_kv, int forced_splits = 0, int item_warps = -1,
                     int two_level_merge = -1, int keys_warps = -1) {
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  DecodeRun r;
  r.plan = pagoda::cuda::decode_plan(int32_t(c.q_lens.size()), c.H, c.layout(), max_of(c.q_lens), max_kv, sms,
                                     forced_splits, item_warps);
  if (two_level_merge >= 0) r.plan.merge_group_splits = two_level_merge ? pagoda::cuda::decode_two_level_group_splits(r.plan.num_splits) : 0;
  if (keys_warps >= 0) {
    r.plan.keys_warps = keys_warps;
    r.plan.keys_stages = 0;
    if (keys_warps > 0) r.plan.merge_group_splits = 0;
  }
  r.workspace = DeviceBuffer<unsigned char>(r.plan.workspace_bytes);
  pagoda::cuda::attention_decode(r.plan, dc.q.ptr, dc.view, dc.batch, dc.out.ptr, dc.lse.ptr, r.workspace.ptr,
                                 nullptr);
  return r;
}

TEST(CudaAttention, DecodeSweep) {
  REQUIRE_GPU();
  std::mt19937 rng(4321);
  for (DType dt : {DType::DTYPE_BF16, DType::DTYPE_F16}) {
    for (int D : {64, 128}) {
      for (const HeadConfig& hc : kHeads) {
        for (int P : {1, 16, 64}) {
          for (int q_len : {1, 3}) {  // 3: speculative verification, causal among the drafts
            PagedCase c = PagedCase::heads(dt, D, hc.H, hc.Hkv, P);
            c.kv_lens = {1, 7, 33, 100, 1000, 4097};
            if (q_len > 1) c.kv_lens[0] = 3;
            c.q_lens.assign(c.kv_lens.size(), q_len);
            c.build(rng);
            DeviceCase dc(c);
            dc.poison();
            const DecodeRun r = decode_run(c, dc, max_of(c.kv_lens));
            CUDA_OK(cudaDeviceSynchronize());
            const auto out = dc.out.download();
            const auto lse = dc.lse.download();
            const std::string l = label(c, "decode") + " q" + std::to_string(q_len) + " splits " +
                                  std::to_string(r.plan.num_splits);
            ASSERT_EQ(c.check(out, &lse, l.c_str()), 0) << l;
          }
        }
      }
    }
  }
}

// The serving shape: many sequences with short, ragged KVs (lengths 1, 7, 33, 100, 200 and odd page
// counts), run by the warp-per-item kernel (1, 2 and 4 warps per CTA, 1-3 items per warp) with 1 split
// and with forced splits (the per-warp merge), against float64; outputs poisoned first. The workspace is zeroed
// once and shared by every launch, so each launch must also leave the split counters at zero.
TEST(CudaAttention, DecodeWarpKernelManyShort) {
  REQUIRE_GPU();
  std::mt19937 rng(2718);
  const std::vector<int32_t> base = {1, 7, 33, 100, 200, 17, 48, 129, 255, 256, 64, 15, 16, 161, 97, 3};
  struct Shape {
    DType dt;
    int D, H, Hkv, P, q_len, B;
  };
  const Shape shapes[] = {
      {DType::DTYPE_BF16, 128, 32, 8, 16, 1, 300},  // Llama-3-8B heads, many sequences
      {DType::DTYPE_BF16, 128, 32, 8, 16, 3, 40},   // speculative verify: 24 rows = 2 row groups
      {DType::DTYPE_F16, 64, 16, 2, 1, 1, 37},      // GQA 8, page size 1
      {DType::DTYPE_BF16, 64, 4, 4, 64, 1, 37},     // GQA 1, pages of 64
      {DType::DTYPE_F16, 128, 6, 1, 16, 3, 21},     // MQA (G = 6): 18 rows = 2 row groups
  };
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  for (const Shape& sh : shapes) {
    PagedCase c = PagedCase::heads(sh.dt, sh.D, sh.H, sh.Hkv, sh.P);
    for (int b = 0; b < sh.B; ++b) c.kv_lens.push_back(std::max(base[b % base.size()] + (b / int(base.size())) % 5, sh.q_len));
    c.q_lens.assign(c.kv_lens.size(), sh.q_len);
    c.build(rng);
    DeviceCase dc(c);
    const int max_kv = max_of(c.kv_lens);
    // (warps per CTA, items per warp, splits): each CTA shape, items run back to back (3 spans KV
    // heads and, at 2 row groups, items without query rows), and the per-warp merge.
    const int combos[][3] = {{1, 1, 1}, {2, 1, 1}, {4, 1, 1}, {2, 2, 1}, {4, 3, 1}, {1, 3, 3}, {2, 2, 5}, {4, 1, 3}};
    for (const auto& cb : combos) {
      const int item_warps = cb[0], per_warp = cb[1], splits = cb[2];
      auto plan = pagoda::cuda::decode_plan(int32_t(c.q_lens.size()), c.H, c.layout(), sh.q_len, max_kv, sms, splits,
                                            item_warps);
      plan.items_per_warp = per_warp;
      ASSERT_EQ(plan.item_warps, item_warps);
      ASSERT_EQ(plan.num_splits > 1, splits > 1);  // the planner rounds split lengths to 16 keys
      DeviceBuffer<unsigned char> ws(plan.workspace_bytes);
      ws.poison();
      pagoda::cuda::decode_workspace_init(ws.ptr, plan.workspace_bytes, nullptr);
      plan.workspace_initialized = true;
      for (int rep = 0; rep < (splits > 1 ? 2 : 1); ++rep) {
        dc.poison();
        pagoda::cuda::attention_decode(plan, dc.q.ptr, dc.view, dc.batch, dc.out.ptr, dc.lse.ptr, ws.ptr, nullptr);
        CUDA_OK(cudaDeviceSynchronize());
        const auto out = dc.out.download();
        const auto lse = dc.lse.download();
        const std::string l = label(c, "decode-warp") + " q" + std::to_string(sh.q_len) + " B" + std::to_string(sh.B) +
                              " item_warps " + std::to_string(item_warps) + " per warp " + std::to_string(per_warp) +
                              " splits " + std::to_string(plan.num_splits) + " rep " + std::to_string(rep);
        ASSERT_EQ(c.check(out, &lse, l.c_str()), 0) << l;
      }
      if (plan.num_splits > 1) {
        ASSERT_NO_FATAL_FAILURE(expect_counters_zero(ws.ptr, std::size_t(c.q_lens.size()) * c.Hkv * plan.row_groups));
      }
    }
  }
}

// The planner sends the serving shapes (many short KVs) to the warp-per-item kernel, keeps the
// 4-warp CTA kernel for the long-context shapes and sends more than 16 rows per KV head to the
// pair kernel. Runs without a GPU too (the occupancy query then falls back to defaults, which on a GPU
// must equal what the runtime answers).
TEST(CudaAttention, DecodePlanPicksKernelByShape) {
  PagedKvLayout L{16, 8, 128, DType::DTYPE_BF16};
  int sms = 132;
  if (gpu_present()) cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  for (auto [B, ctx] : {std::pair{512, 192}, {256, 256}, {512, 256}, {1024, 160}, {256, 512}})
    EXPECT_GT(pagoda::cuda::decode_plan(B, 32, L, 1, ctx, sms).item_warps, 0) << "B" << B << " ctx " << ctx;
  for (auto [B, ctx] : {std::pair{1, 8192}, {1, 32768}, {1, 131072}, {16, 8192}, {64, 4096}, {128, 2048}})
    EXPECT_EQ(pagoda::cuda::decode_plan(B, 32, L, 1, ctx, sms).item_warps, 0) << "B" << B << " ctx " << ctx;
  EXPECT_THROW(pagoda::cuda::decode_plan(512, 32, L, 1, 192, sms, 0, 3), pagoda::Error);
  // Batch 1 (H200, 132 SMs): up to 1k keys the 4-warp keys-major kernel at the 16-row plan's counts (no split
  // up to 256 keys: a merge costs more than it saves; then splits of whole 64-key steps); from 2k the 8-warp
  // one, at 12 splits below 8k keys and from 8k at 16, which fills the SMs (the counts measured fastest:
  // attention_notes.md, 46 and 51).
  if (sms == 132) {
    for (auto [ctx, warps, splits, tokens] :
         {std::tuple{128, 4, 1, 128}, {256, 4, 1, 256}, {512, 4, 8, 64}, {1024, 4, 16, 64}, {2048, 8, 12, 176},
          {4096, 8, 12, 352}, {8192, 8, 16, 512}}) {
      const auto p = pagoda::cuda::decode_plan(1, 32, L, 1, ctx, sms);
      EXPECT_EQ(p.item_warps, 0) << "B1 ctx " << ctx;
      EXPECT_EQ(p.keys_warps, warps) << "B1 ctx " << ctx;
      EXPECT_EQ(p.num_splits, splits) << "B1 ctx " << ctx;
      EXPECT_EQ(p.split_tokens, tokens) << "B1 ctx " << ctx;
    }
  }
  for (int ctx : {300, 777, 5000, 65536}) {
    const auto p = pagoda::cuda::decode_plan(1, 32, L, 1, ctx, sms);
    if (p.num_splits > 1) {
      EXPECT_EQ(p.split_tokens % (p.keys_warps == 8 ? 16 : 64), 0) << "B1 ctx " << ctx;
    }
  }
  // A forced kernel is never the keys-major one; up to 16 rows per KV head take it (9-16 in its two-n-tile
  // form: G 4 at q_len 3 is 12 rows), more never.
  EXPECT_EQ(pagoda::cuda::decode_plan(1, 32, L, 1, 8192, sms, 0, 0).keys_warps, 0);
  EXPECT_EQ(pagoda::cuda::decode_plan(1, 32, L, 1, 8192, sms, 0, -1, 16).keys_warps, 0);
  EXPECT_GT(pagoda::cuda::decode_plan(1, 32, L, 3, 8192, sms).keys_warps, 0) << "12 rows";
  EXPECT_GT(pagoda::cuda::decode_plan(1, 32, L, 4, 8192, sms).keys_warps, 0) << "16 rows";
  EXPECT_EQ(pagoda::cuda::decode_plan(1, 32, L, 5, 8192, sms).keys_warps, 0);
  // With 9-16 rows only a split plan takes it (an unsplit batch ran faster on the 16-row kernel, notes 52).
  EXPECT_EQ(pagoda::cuda::decode_plan(128, 32, L, 4, 1024, sms).num_splits, 1);
  EXPECT_EQ(pagoda::cuda::decode_plan(128, 32, L, 4, 1024, sms).keys_warps, 0);
  if (sms == 132) EXPECT_GT(pagoda::cuda::decode_plan(4, 32, L, 4, 8192, sms).keys_warps, 0);  // 8 splits
  // The merge cost scales with a CTA's real rows (min(16, q_len x G)): the 16-row kernel's shapes with 4 rows
  // keep one merge level (the keys-major kernel has only that); G 8 plans fewer, longer splits (measured faster
  // on the H200: attention_notes.md, 32). MQA at batch 1 (16 rows) merges in two levels, which makes many
  // splits cheap again: 128 at 64k keys (26.1 us against 28.4 at 54 splits in one level, notes 35).
  if (sms == 132) {
    for (auto [B, ctx, splits] : {std::tuple{1, 8192, 16}, {1, 32768, 16}, {1, 131072, 16}, {16, 8192, 2},
                                  {64, 4096, 1}, {128, 2048, 1}}) {
      const auto p = pagoda::cuda::decode_plan(B, 32, L, 1, ctx, sms);
      EXPECT_EQ(p.num_splits, splits) << "B" << B << " ctx " << ctx;
      EXPECT_EQ(p.merge_group_splits, 0) << "B" << B << " ctx " << ctx;
      EXPECT_EQ(p.keys_warps, B == 1 ? 8 : 4) << "B" << B << " ctx " << ctx;
    }
    const PagedKvLayout mqa{16, 1, 128, DType::DTYPE_BF16}, g8{16, 4, 128, DType::DTYPE_BF16};
    const auto m = pagoda::cuda::decode_plan(1, 32, mqa, 1, 65536, sms, 0, -1, 16);
    EXPECT_EQ(m.num_splits, 128);
    EXPECT_EQ(m.merge_group_splits, 16);
    EXPECT_EQ(pagoda::cuda::decode_plan(1, 32, mqa, 1, 262144, sms).merge_group_splits, 16);
    // Two levels lost at 16 rows x 22-32 splits (G 8 x q_len 4 at 8k) and 4 rows x 32 (GQA 8k, 32k).
    EXPECT_EQ(pagoda::cuda::decode_plan(1, 32, g8, 1, 8192, sms).num_splits, 32);
    EXPECT_EQ(pagoda::cuda::decode_plan(1, 32, g8, 1, 8192, sms).merge_group_splits, 0);
    EXPECT_EQ(pagoda::cuda::decode_plan(1, 32, g8, 4, 8192, sms).merge_group_splits, 0);
  }
  // The warp kernel merges in one level, whatever its split count.
  EXPECT_EQ(pagoda::cuda::decode_plan(512, 32, L, 1, 192, sms, 64).merge_group_splits, 0);
  // Which kernel: up to 16 rows per KV head (the shapes: G 4, q_len 1; G 8 at q_len 1; G 4 at
  // q_len 4) keep 16-row CTAs on any device. Above 16 rows (H200, 132 SMs: the choices measured fastest
  // in bench_attention pair, notes 33) the pair kernel where 16-row CTAs would fill the device (MQA at
  // B16-B128 and in serving batches, G 8 x q_len 4 at 32k or B16+, G 4 x q_len 5; MQA at batch 1 and 256k
  // keys with the two-level merge, 52.5 against 56.7 us for 16-row CTAs, notes 35), 16-row CTAs where
  // they leave SMs idle or the pair's merge costs more (MQA at batch 1 and 64k keys; MQA x q_len 3 at
  // 32k; G 8 x q_len 4 at 8k).
  const PagedKvLayout mqa{16, 1, 128, DType::DTYPE_BF16}, g8{16, 4, 128, DType::DTYPE_BF16};
  struct PathCase {
    int B, ctx, q_len;
    const PagedKvLayout* layout;
    int rows_per_cta, key_streams;
  };
  const PathCase paths[] = {
      {1, 8192, 1, &L, 16, 0},       {1, 32768, 1, &L, 16, 0},      {1, 131072, 1, &L, 16, 0},
      {16, 8192, 1, &L, 16, 0},      {64, 4096, 1, &L, 16, 0},      {128, 2048, 1, &L, 16, 0},
      {1, 8192, 4, &L, 16, 0},       {1, 8192, 1, &g8, 16, 0},      {4, 8192, 4, &L, 16, 0},
      {1, 65536, 1, &mqa, 16, 0},    {1, 32768, 3, &mqa, 16, 0},    {1, 8192, 4, &g8, 16, 0},
      {1, 8192, 3, &g8, 16, 0},  // 24 rows, 176 16-row CTAs: the fill rule alone keeps them (as at q_len 4)
      {1, 262144, 1, &mqa, 32, 4},   {16, 65536, 1, &mqa, 32, 4},   {64, 32768, 1, &mqa, 32, 4},
      {128, 16384, 1, &mqa, 32, 4},  {1, 32768, 4, &g8, 32, 4},     {16, 8192, 4, &g8, 32, 4},
      {64, 2048, 4, &g8, 32, 2},     {1, 8192, 5, &L, 32, 4},       {256, 256, 1, &mqa, 32, 2},
      {512, 192, 1, &mqa, 32, 2},    {128, 512, 4, &g8, 32, 2},
  };
  for (const PathCase& pc : paths) {
    const int rows = pc.q_len * 32 / pc.layout->num_kv_heads;
    if (rows > 16 && sms != 132) continue;
    const auto p = pagoda::cuda::decode_plan(pc.B, 32, *pc.layout, pc.q_len, pc.ctx, sms);
    // Built by appending: "B" + std::to_string(...) trips a false -Wrestrict in g++ 12's libstdc++.
    std::string l = "B";
    l += std::to_string(pc.B) + " ctx " + std::to_string(pc.ctx) + " Hkv " + std::to_string(pc.layout->num_kv_heads) +
         " q_len " + std::to_string(pc.q_len);
    EXPECT_EQ(p.item_warps, 0) << l;
    EXPECT_EQ(p.rows_per_cta, pc.rows_per_cta) << l;
    EXPECT_EQ(p.key_streams, pc.key_streams) << l;
    EXPECT_EQ(p.row_groups, (rows + p.rows_per_cta - 1) / p.rows_per_cta) << l;
  }
  // Forced kernels: 16-row CTAs for MQA, the pair kernel for 4 rows (its second row group empty); the
  // pair kernel has no warp-per-item form.
  EXPECT_EQ(pagoda::cuda::decode_plan(1, 32, mqa, 1, 65536, sms, 0, -1, 16).rows_per_cta, 16);
  EXPECT_EQ(pagoda::cuda::decode_plan(1, 32, mqa, 1, 65536, sms, 0, -1, 16).key_streams, 0);
  EXPECT_EQ(pagoda::cuda::decode_plan(1, 32, L, 1, 8192, sms, 0, -1, 32).rows_per_cta, 32);
  EXPECT_EQ(pagoda::cuda::decode_plan(512, 32, mqa, 1, 192, sms, 0, -1, 32).item_warps, 0);
  EXPECT_THROW(pagoda::cuda::decode_plan(1, 32, mqa, 1, 8192, sms, 0, 2, 32), pagoda::Error);
  EXPECT_THROW(pagoda::cuda::decode_plan(1, 32, mqa, 1, 8192, sms, 0, -1, 24), pagoda::Error);
  if (gpu_present()) {
    EXPECT_EQ(pagoda::cuda::decode_ctas_per_sm(DType::DTYPE_BF16, 128, 0), 2);
    EXPECT_EQ(pagoda::cuda::decode_ctas_per_sm(DType::DTYPE_BF16, 128, 0, 2), 2);
    EXPECT_EQ(pagoda::cuda::decode_ctas_per_sm(DType::DTYPE_BF16, 128, 0, 4), 1);
  }
}

// The batched paged decode must equal each sequence decoded alone from a contiguous buffer, bit
// for bit, when both use the same split boundaries.
TEST(CudaAttention, DecodeBatchedPagedEqualsSingleContiguous) {
  REQUIRE_GPU();
  std::mt19937 rng(55);
  PagedCase c = PagedCase::heads(DType::DTYPE_BF16, 128, 32, 8, 16);
  c.kv_lens = {4097, 1, 1000, 33};
  c.q_lens.assign(4, 1);
  c.build(rng);
  DeviceCase dc(c);
  dc.poison();
  const int max_kv = 4097, splits = 9;
  // The 16-row kernel (forced), and the keys-major kernel with 4 and 8 warps (which the planner picks for the
  // batch and for one sequence alone: the test forces one for both).
  for (int keys_warps : {0, 4, 8}) {
    dc.poison();
    decode_run(c, dc, max_kv, splits, 0, -1, keys_warps);
    CUDA_OK(cudaDeviceSynchronize());
    const auto batched = dc.out.download();
    for (int b = 0; b < 4; ++b) {
      PagedCase one = PagedCase::heads(c.dtype, c.D, c.H, c.Hkv, c.kv_lens[b]);
      one.q_lens = {1};
      one.kv_lens = {c.kv_lens[b]};
      one.cu_q = {0, 1};
      one.max_pages = 1;
      one.num_pages = 1;
      one.block_table = {0};
      one.q.assign(c.q.begin() + std::size_t(b) * c.H * c.D, c.q.begin() + std::size_t(b + 1) * c.H * c.D);
      one.k.assign(std::size_t(one.P) * c.Hkv * c.D, 0);
      one.v = one.k;
      for (int pos = 0; pos < one.P; ++pos)
        for (int h = 0; h < c.Hkv; ++h)
          for (int d = 0; d < c.D; ++d) {
            one.k[one.kv_index(0, pos, h) + d] = c.k[c.kv_index(b, pos, h) + d];
            one.v[one.kv_index(0, pos, h) + d] = c.v[c.kv_index(b, pos, h) + d];
          }
      DeviceCase d1(one);
      d1.poison();
      decode_run(one, d1, max_kv, splits, 0, -1, keys_warps);
      CUDA_OK(cudaDeviceSynchronize());
      const auto alone = d1.out.download();
      ASSERT_TRUE(std::equal(alone.begin(), alone.end(), batched.begin() + std::size_t(b) * c.H * c.D))
          << "sequence " << b << " differs between batched paged and alone contiguous (keys warps " << keys_warps
          << ")";
    }
    ASSERT_EQ(c.check(batched, nullptr, "decode-batched"), 0);
  }
}

// The same logical K/V in pages of P (a copy of c's keys; fresh random page order).
PagedCase repaged(const PagedCase& c, int P, std::mt19937& rng) {
  PagedCase g = c;
  g.P = P;
  const int B = int(c.kv_lens.size());
  g.max_pages = 1;
  g.num_pages = 1;
  for (int b = 0; b < B; ++b) {
    g.max_pages = std::max(g.max_pages, (c.kv_lens[b] + P - 1) / P);
    g.num_pages += (c.kv_lens[b] + P - 1) / P;
  }
  std::vector<int32_t> ids(g.num_pages);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  g.block_table.assign(std::size_t(B) * g.max_pages, 0);
  int64_t next = 0;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < (c.kv_lens[b] + P - 1) / P; ++i) g.block_table[std::size_t(b) * g.max_pages + i] = ids[next++];
  g.k.assign(std::size_t(g.num_pages) * P * c.Hkv * c.D, 0);
  g.v = g.k;
  for (int b = 0; b < B; ++b)
    for (int pos = 0; pos < c.kv_lens[b]; ++pos)
      for (int h = 0; h < c.Hkv; ++h)
        for (int d = 0; d < c.D; ++d) {
          g.k[g.kv_index(b, pos, h) + d] = c.k[c.kv_index(b, pos, h) + d];
          g.v[g.kv_index(b, pos, h) + d] = c.v[c.kv_index(b, pos, h) + d];
        }
  return g;
}

// The split kernel loads a tile that lies whole inside one page through a short path (one pointer
// step per pass, no zero-fill) and skips the per-key masks on tiles that no mask reaches; with P = 8
// every 16-key tile spans two pages and takes the general path. The same K/V laid out both ways must
// give the same bits and match float64: KV lengths ending on and off a tile, q_len 1 and 4 (causal:
// the last tile holds keys masked for some rows only), GQA 4 and 8, planned and forced splits (split
// lengths that are not a multiple of 64 keys).
TEST(CudaAttention, DecodeFullTilePathEqualsGeneralPath) {
  REQUIRE_GPU();
  std::mt19937 rng(909);
  for (int D : {64, 128})
    for (const HeadConfig hc : {HeadConfig{16, 4}, HeadConfig{16, 2}})
      for (int q_len : {1, 4})
        for (int splits : {0, 3, 7}) {
          PagedCase c = PagedCase::heads(DType::DTYPE_BF16, D, hc.H, hc.Hkv, 16);
          c.kv_lens = {4, 16, 128, 300, 1024, 2049};
          c.q_lens.assign(c.kv_lens.size(), q_len);
          c.build(rng);
          const PagedCase g = repaged(c, 8, rng);
          DeviceCase dc(c), dg(g);
          dc.poison();
          dg.poison();
          const int max_kv = max_of(c.kv_lens);
          const DecodeRun rc = decode_run(c, dc, max_kv, splits);
          const DecodeRun rg = decode_run(g, dg, max_kv, splits);
          CUDA_OK(cudaDeviceSynchronize());
          const std::string l = label(c, "decode full-tile path") + " q" + std::to_string(q_len) + " splits " +
                                std::to_string(rc.plan.num_splits);
          const auto out = dc.out.download();
          const auto lse = dc.lse.download();
          ASSERT_TRUE(out == dg.out.download()) << l << ": P 16 and P 8 outputs differ";
          ASSERT_TRUE(lse == dg.lse.download()) << l << ": P 16 and P 8 LSEs differ";
          ASSERT_EQ(c.check(out, &lse, l.c_str()), 0) << l;
        }
}

TEST(CudaAttention, DecodeGraphCaptureReplay) {
  REQUIRE_GPU();
  std::mt19937 rng(77);
  PagedCase c = PagedCase::heads(DType::DTYPE_BF16, 128, 32, 8, 16);
  c.kv_lens = {1999, 3000};  // +1 on replay stays within 125 pages: same buffer sizes
  c.q_lens = {1, 1};
  c.build(rng);
  DeviceCase dc(c);
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  const auto plan = pagoda::cuda::decode_plan(2, c.H, c.layout(), 1, 4096, sms);
  ASSERT_GT(plan.num_splits, 1);
  DeviceBuffer<unsigned char> ws(plan.workspace_bytes);
  cudaStream_t s;
  CUDA_OK(cudaStreamCreate(&s));
  cudaGraph_t graph;
  CUDA_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  pagoda::cuda::attention_decode(plan, dc.q.ptr, dc.view, dc.batch, dc.out.ptr, dc.lse.ptr, ws.ptr, s);
  CUDA_OK(cudaStreamEndCapture(s, &graph));
  cudaGraphExec_t exec;
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  for (int step = 0; step < 2; ++step) {
    // New data in the same buffers, as a decode step would see: new q and one more KV token.
    c.kv_lens[0] += step;
    c.build(rng);
    dc.q.upload(c.q);
    dc.k.upload(c.k);
    dc.v.upload(c.v);
    dc.kv_lens.upload(c.kv_lens);
    dc.block_table.upload(c.block_table);
    dc.poison();
    CUDA_OK(cudaGraphLaunch(exec, s));
    CUDA_OK(cudaStreamSynchronize(s));
    const auto out = dc.out.download();
    const auto lse = dc.lse.download();
    ASSERT_EQ(c.check(out, &lse, "decode-graph"), 0) << "replay " << step;
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(s);
}

// The engine's way: workspace zeroed once (decode_workspace_init, over a poisoned buffer), then
// many launches without the per-call counter memset. Every launch must leave the split counters at
// zero for the next, also across different plans sharing the workspace.
TEST(CudaAttention, DecodeInitializedWorkspaceReplays) {
  REQUIRE_GPU();
  std::mt19937 rng(91);
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  PagedCase c = PagedCase::heads(DType::DTYPE_BF16, 128, 32, 8, 16);
  c.kv_lens = {4097, 1, 1000};
  c.q_lens = {1, 1, 1};
  c.build(rng);
  DeviceCase dc(c);
  auto plan_a = pagoda::cuda::decode_plan(3, c.H, c.layout(), 1, 4097, sms);
  auto plan_b = pagoda::cuda::decode_plan(3, c.H, c.layout(), 1, 4097, sms, 7);
  ASSERT_GT(plan_a.num_splits, 1);
  plan_a.workspace_initialized = plan_b.workspace_initialized = true;
  const std::size_t bytes = std::max(plan_a.workspace_bytes, plan_b.workspace_bytes);
  DeviceBuffer<unsigned char> ws(bytes);
  ws.poison();
  pagoda::cuda::decode_workspace_init(ws.ptr, bytes, nullptr);
  cudaStream_t s;
  CUDA_OK(cudaStreamCreate(&s));
  cudaGraph_t graph;
  CUDA_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  pagoda::cuda::attention_decode(plan_a, dc.q.ptr, dc.view, dc.batch, dc.out.ptr, dc.lse.ptr, ws.ptr, s);
  CUDA_OK(cudaStreamEndCapture(s, &graph));
  cudaGraphExec_t exec;
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  for (int step = 0; step < 4; ++step) {
    dc.poison();
    if (step % 2 == 0) {
      CUDA_OK(cudaGraphLaunch(exec, s));
    } else {
      pagoda::cuda::attention_decode(plan_b, dc.q.ptr, dc.view, dc.batch, dc.out.ptr, dc.lse.ptr, ws.ptr, s);
    }
    CUDA_OK(cudaStreamSynchronize(s));
    const auto out = dc.out.download();
    const auto lse = dc.lse.download();
    ASSERT_EQ(c.check(out, &lse, "decode-initialized"), 0) << "step " << step;
  }
  ASSERT_NO_FATAL_FAILURE(expect_counters_zero(ws.ptr, std::size_t(3) * 8));
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(s);
}

// Decode launches as a programmatic dependent (PDL) by default and reads old K/V rows before its
// dependency wait: it must still see everything the kernel before it wrote. A late writer (lets the
// decode start first, then waits 50 us) writes each sequence's newest token's K/V over NaN cache
// slots and q over a NaN q, and two decodes follow back to back (sharing split counters and
// partials, each with its own output), three times; a decode that read a new row or q before its
// wait would see the NaN. KV lengths 3000 and 517: the newest row of the second sits in the first
// tile of its split, one that the kernel's prologue loads.
// Then the same with a plain launch (programmatic_launch = false), which must give identical bits.
TEST(CudaAttention, DecodeProgrammaticLaunchSeesPreviousKernel) {
  REQUIRE_GPU();
  std::mt19937 rng(123);
  PagedCase c = PagedCase::heads(DType::DTYPE_BF16, 128, 32, 8, 16);
  c.kv_lens = {3000, 517};
  c.q_lens = {1, 1};
  c.build(rng);
  DeviceCase dc(c);
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  auto plan = pagoda::cuda::decode_plan(2, c.H, c.layout(), 1, 4096, sms);
  ASSERT_GT(plan.num_splits, 1);
  ASSERT_TRUE(plan.programmatic_launch);
  plan.workspace_initialized = true;
  DeviceBuffer<unsigned char> ws(plan.workspace_bytes);
  pagoda::cuda::decode_workspace_init(ws.ptr, plan.workspace_bytes, nullptr);
  const NewestTokens nt(c);
  cudaStream_t s;
  CUDA_OK(cudaStreamCreate(&s));
  // The second decode writes its own output, so a wrong first result cannot be overwritten.
  DeviceBuffer<uint16_t> out2(dc.out.count);
  DeviceBuffer<float> lse2(dc.lse.count);
  std::vector<uint16_t> first;
  for (int rep = 0; rep < 4; ++rep) {
    plan.programmatic_launch = rep < 3;
    nt.decode_after_late_write(dc, plan, ws.ptr, s, &out2, &lse2);
    for (int k = 0; k < 2; ++k) {
      const auto out = (k == 0 ? dc.out : out2).download();
      const auto lse = (k == 0 ? dc.lse : lse2).download();
      ASSERT_EQ(c.check(out, &lse, "decode-pdl"), 0) << "repeat " << rep << " decode " << k;
      if (rep == 0 && k == 0) first = out;
      ASSERT_TRUE(first == out) << "repeat " << rep << " decode " << k << " differs from the first";
    }
  }
  cudaStreamDestroy(s);
}

// Batch-1 latency plans (short and long KVs, one sequence and a ragged few): the planner's choice
// (64-key split steps) and every decode kernel at 1 and several splits, each launched as a
// programmatic dependent right after a late writer puts each sequence's newest q_len tokens' K/V
// (over NaN slots) and q (over a NaN q) in place (NewestTokens). KV lengths 128 and 2048 end on a
// whole 16-key tile, so the newest row sits in a full tile that the split kernel's prologue loads;
// q_len 4 with KV lengths 50 and 200 makes a tile hold old rows and new rows whose first new row is
// not the last key. A split kernel that issued such a tile before its dependency wait, or that took
// only the last key as new, would read NaN. Outputs poisoned, float64 reference, one workspace zeroed once and shared: every
// launch must leave the split counters at zero.
TEST(CudaAttention, DecodeLatencyPlans) {
  REQUIRE_GPU();
  std::mt19937 rng(4242);
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  struct LatencyCase {
    std::vector<int32_t> lens;
    int q_len;
  };
  const std::vector<LatencyCase> batches = {{{130}, 1}, {{1000}, 1}, {{4097}, 1}, {{4097, 1, 130}, 1}, {{128, 2048}, 1}, {{50, 200}, 4}};
  for (const auto& bc : batches) {
    const auto& lens = bc.lens;
    PagedCase c = PagedCase::heads(DType::DTYPE_BF16, 128, 32, 8, 16);
    c.kv_lens = lens;
    c.q_lens.assign(lens.size(), bc.q_len);
    c.build(rng);
    DeviceCase dc(c);
    const int B = int(lens.size()), max_kv = max_of(lens);
    const NewestTokens nt(c);
    // (item_warps, splits); -1 / 0: the planner's choice.
    const int combos[][2] = {{-1, 0}, {0, 1}, {0, 3}, {0, 16}, {1, 1}, {1, 4}, {2, 16}, {4, 3}, {1, 32}};
    std::vector<pagoda::cuda::DecodePlan> plans;
    std::size_t ws_bytes = 0;
    for (const auto& cb : combos) {
      plans.push_back(pagoda::cuda::decode_plan(B, c.H, c.layout(), bc.q_len, max_kv, sms, cb[1], cb[0]));
      ws_bytes = std::max(ws_bytes, plans.back().workspace_bytes);
    }
    DeviceBuffer<unsigned char> ws(ws_bytes);
    ws.poison();
    pagoda::cuda::decode_workspace_init(ws.ptr, ws_bytes, nullptr);
    cudaStream_t s;
    CUDA_OK(cudaStreamCreate(&s));
    for (auto plan : plans) {
      plan.workspace_initialized = true;
      plan.programmatic_launch = true;
      nt.decode_after_late_write(dc, plan, ws.ptr, s);
      const auto out = dc.out.download();
      const auto lse = dc.lse.download();
      const std::string l = "decode-latency B" + std::to_string(B) + " max_kv " + std::to_string(max_kv) +
                            " q_len " + std::to_string(bc.q_len) + " item_warps " +
                            std::to_string(plan.item_warps) + " splits " + std::to_string(plan.num_splits);
      ASSERT_EQ(c.check(out, &lse, l.c_str()), 0) << l;
    }
    ASSERT_NO_FATAL_FAILURE(expect_counters_zero(ws.ptr, std::size_t(B) * c.Hkv));
    cudaStreamDestroy(s);
  }
}

// More splits than one merge batch holds (32), and sequences that use different numbers of them, so a
// merge runs a full batch, a partial second batch, or a single one; against float64. The longest
// sequence is n * 64 keys, so n forced splits stay n after the planner's 16-key rounding.
TEST(CudaAttention, DecodeManySplits) {
  REQUIRE_GPU();
  std::mt19937 rng(89);
  for (int n : {9, 31, 32, 33, 47, 64}) {
    PagedCase c = PagedCase::heads(DType::DTYPE_BF16, 128, 32, 8, 16);
    c.kv_lens = {n * 64, n * 32 + 5, 33, n * 64 - 70};
    c.q_lens.assign(4, 1);
    c.build(rng);
    DeviceCase dc(c);
    // One level (every split merged by the last CTA), then two (groups of ceil(n / 8) splits: 9 splits
    // leave a last group of one, 31 and 47 a short one; the second sequence's ~n / 2 active splits make
    // fewer groups, the third's one split none).
    for (int two_level : {0, 1}) {
      dc.poison();
      const DecodeRun r = decode_run(c, dc, n * 64, n, 0, two_level);
      CUDA_OK(cudaDeviceSynchronize());
      ASSERT_EQ(r.plan.num_splits, n);
      ASSERT_EQ(r.plan.merge_group_splits, two_level ? (n + 7) / 8 : 0);
      const auto out = dc.out.download();
      const auto lse = dc.lse.download();
      const std::string l = "decode splits " + std::to_string(n) + (two_level ? " two-level merge" : "");
      ASSERT_EQ(c.check(out, &lse, l.c_str()), 0) << l;
      ASSERT_NO_FATAL_FAILURE(expect_counters_zero(r.workspace.ptr, std::size_t(4) * c.Hkv));
    }
  }
}

// The pair kernel (flash_decode_pair_kernel: one CTA per 32-row block, warps paired on shared rings,
// each issuing half of every tile) against float64, over MQA (H 32 / Hkv 1: 32, 96, 128 rows per KV
// head; H 16 / Hkv 1), G 8 (q_len 3-4: 24-32 rows), G 4 at q_len 5 (20 rows) and G 4 at q_len 1 (a
// block whose second row group is empty), ragged q_lens (short sequences leave a group or a block
// without rows), KV lengths q_len .. 4097, page sizes 1 (no tile lies in one page), 16 and 64, bf16 and
// fp16, D 64 and 128; the planner's plan, and both key-stream counts at 1, 3 and 37 forced splits (37:
// the merge takes two batches of 32 splits) and at the planned count with the one-level merge, and at 9,
// 37 and 64 splits with the two-level one. With 4 key streams each warp walks the tiles a 16-row CTA's
// warp walks and combines in the same order, so at equal splits and merge the result must equal the
// 16-row kernel's bit for bit. Outputs poisoned before every launch; one workspace
// zeroed once serves all plans (at G 4 x q_len 5 the 16-row plans have twice the pair plans' counters,
// more than 256 bytes), and every launch must leave the split counters at zero.
TEST(CudaAttention, DecodePairKernelSweep) {
  REQUIRE_GPU();
  std::mt19937 rng(3131);
  struct Shape {
    DType dt;
    int D, H, Hkv, P;
    std::vector<int32_t> q_lens;
  };
  const Shape shapes[] = {
      {DType::DTYPE_BF16, 128, 32, 8, 16, {5, 1, 5, 5, 2, 5}},  // G 4 x q_len 5: 20 rows, 48 / 96 counters
      {DType::DTYPE_BF16, 128, 32, 1, 16, {1, 1, 1, 1, 1, 1}},  // MQA: 32 rows
      {DType::DTYPE_F16, 128, 32, 1, 1, {3, 1, 3, 2, 1, 3}},    // MQA, 96 rows: 3 blocks, ragged
      {DType::DTYPE_BF16, 64, 32, 1, 64, {4, 4, 2, 4, 1, 4}},   // MQA, 128 rows: 4 blocks
      {DType::DTYPE_F16, 64, 16, 1, 16, {2, 1, 2, 2, 1, 2}},    // H 16 / Hkv 1: 32 rows, or one group
      {DType::DTYPE_BF16, 128, 32, 4, 64, {4, 4, 4, 4, 4, 4}},  // G 8 x q_len 4: 32 rows
      {DType::DTYPE_F16, 128, 16, 2, 16, {4, 1, 4, 2, 1, 4}},   // G 8, ragged q_len
      {DType::DTYPE_BF16, 64, 16, 2, 1, {3, 3, 1, 3, 3, 3}},    // G 8 x q_len 3: 24 rows
      {DType::DTYPE_F16, 128, 32, 8, 16, {1, 1, 1, 1, 1, 1}},   // G 4: 4 rows, group 1 empty
  };
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  for (const Shape& sh : shapes) {
    PagedCase c = PagedCase::heads(sh.dt, sh.D, sh.H, sh.Hkv, sh.P);
    // Long first and last: with plans sharing the workspace, the first sequence's partials sit right after
    // the split counters and the last one's counters at their end (a counter area sized per plan would put
    // one plan's partials on another's counters).
    c.kv_lens = {4097, 1, 33, 100, 1000, 2500};
    c.q_lens = sh.q_lens;
    for (std::size_t b = 0; b < c.kv_lens.size(); ++b) c.kv_lens[b] = std::max(c.kv_lens[b], c.q_lens[b]);
    c.build(rng);
    DeviceCase dc(c);
    const int B = int(c.kv_lens.size()), max_q = max_of(c.q_lens), max_kv = max_of(c.kv_lens);
    struct Run {
      pagoda::cuda::DecodePlan plan;
      std::vector<uint16_t> out;
      std::vector<float> lse;
    };
    std::vector<Run> runs;
    // two_level: -1 as planned, 0 one level, 1 two levels
    auto add = [&](int splits, int rows_per_cta, int key_streams, int two_level = -1) {
      Run r;
      r.plan = pagoda::cuda::decode_plan(B, c.H, c.layout(), max_q, max_kv, sms, splits, -1, rows_per_cta);
      if (key_streams > 0) r.plan.key_streams = key_streams;
      if (two_level >= 0) r.plan.merge_group_splits = two_level ? pagoda::cuda::decode_two_level_group_splits(r.plan.num_splits) : 0;
      runs.push_back(std::move(r));
    };
    add(0, 0, 0);
    for (int splits : {1, 3, 37, 0}) {
      add(splits, 32, 2, 0);
      add(splits, 32, 4, 0);
      if (splits > 0) add(splits, 16, 0, 0);
    }
    // The two-level merge: 9 splits (groups of 2, the last of 1), 37 (groups of 5) and 64 (8 x 8); the
    // sequences' active splits (1 .. all) give every group shape from none to all full.
    for (int splits : {9, 37, 64}) {
      add(splits, 32, 2, 1);
      add(splits, 32, 4, 1);
      add(splits, 16, 0, 1);
    }
    std::size_t ws_bytes = 0;
    for (const Run& r : runs) ws_bytes = std::max(ws_bytes, r.plan.workspace_bytes);
    DeviceBuffer<unsigned char> ws(ws_bytes);
    ws.poison();
    pagoda::cuda::decode_workspace_init(ws.ptr, ws_bytes, nullptr);
    for (Run& r : runs) {
      r.plan.workspace_initialized = true;
      dc.poison();
      pagoda::cuda::attention_decode(r.plan, dc.q.ptr, dc.view, dc.batch, dc.out.ptr, dc.lse.ptr, ws.ptr, nullptr);
      CUDA_OK(cudaDeviceSynchronize());
      r.out = dc.out.download();
      r.lse = dc.lse.download();
      const std::string l = label(c, "decode-pair") + " q_len " + std::to_string(max_q) + " rows/CTA " +
                            std::to_string(r.plan.rows_per_cta) + " key streams " +
                            std::to_string(r.plan.key_streams) + " splits " + std::to_string(r.plan.num_splits) +
                            " merge groups of " + std::to_string(r.plan.merge_group_splits);
      ASSERT_EQ(c.check(r.out, &r.lse, l.c_str()), 0) << l;
    }
    for (const Run& a : runs)
      for (const Run& b : runs)
        if (a.plan.rows_per_cta == 32 && a.plan.key_streams == 4 && b.plan.rows_per_cta == 16 &&
            b.plan.keys_warps == 0 && a.plan.num_splits == b.plan.num_splits && a.plan.split_tokens == b.plan.split_tokens &&
            a.plan.merge_group_splits == b.plan.merge_group_splits) {
          EXPECT_TRUE(a.out == b.out && a.lse == b.lse)
              << label(c, "decode-pair") << " splits " << a.plan.num_splits
              << ": 4 key streams differ from 16-row CTAs";
        }
    ASSERT_NO_FATAL_FAILURE(expect_counters_zero(ws.ptr, std::size_t(B) * c.Hkv * ((max_q * (c.H / c.Hkv) + 15) / 16)));
  }
}

// Each plan launched as a programmatic dependent right after nt's late writer, twice back to back (each decode
// into its own output), against float64 and the two bit for bit; one workspace zeroed once serves every plan, so
// every launch must leave the split counters at zero. label(plan) names a failure.
template <typename Label>
void decode_plans_after_late_write(const PagedCase& c, DeviceCase& dc, const NewestTokens& nt,
                                   std::vector<pagoda::cuda::DecodePlan> plans, Label&& label) {
  std::size_t ws_bytes = 0;
  for (const auto& plan : plans) ws_bytes = std::max(ws_bytes, plan.workspace_bytes);
  DeviceBuffer<unsigned char> ws(ws_bytes);
  ws.poison();
  pagoda::cuda::decode_workspace_init(ws.ptr, ws_bytes, nullptr);
  DeviceBuffer<uint16_t> out2(dc.out.count);
  DeviceBuffer<float> lse2(dc.lse.count);
  cudaStream_t s;
  CUDA_OK(cudaStreamCreate(&s));
  for (auto plan : plans) {
    plan.workspace_initialized = true;
    plan.programmatic_launch = true;
    nt.decode_after_late_write(dc, plan, ws.ptr, s, &out2, &lse2);
    const std::string l = label(plan);
    const auto out = dc.out.download();
    const auto lse = dc.lse.download();
    ASSERT_EQ(c.check(out, &lse, l.c_str()), 0) << l;
    ASSERT_TRUE(out == out2.download() && lse == lse2.download()) << l << ": the second decode differs";
  }
  const int B = int(c.kv_lens.size()), max_q = max_of(c.q_lens);
  ASSERT_NO_FATAL_FAILURE(expect_counters_zero(ws.ptr, std::size_t(B) * c.Hkv * ((max_q * (c.H / c.Hkv) + 15) / 16)));
  cudaStreamDestroy(s);
}

// A programmatic-launch test's case: heads, KV lengths and query tokens per sequence (bf16, D 128, P 16).
struct DecodePdlCase {
  int H, Hkv;
  std::vector<int32_t> lens;
  int q_len;
};
// Builds each case (in order, from one generator seeded with `seed`) with its late writer and calls
// body(case, paged case, device case, late writer, batch, longest KV); stops at the first fatal failure.
template <typename Body>
void for_each_decode_pdl_case(unsigned seed, const std::vector<DecodePdlCase>& cases, Body&& body) {
  std::mt19937 rng(seed);
  for (const DecodePdlCase& pc : cases) {
    PagedCase c = PagedCase::heads(DType::DTYPE_BF16, 128, pc.H, pc.Hkv, 16);
    c.kv_lens = pc.lens;
    c.q_lens.assign(pc.lens.size(), pc.q_len);
    c.build(rng);
    DeviceCase dc(c);
    const NewestTokens nt(c);
    body(pc, c, dc, nt, int(pc.lens.size()), max_of(pc.lens));
    if (::testing::Test::HasFatalFailure()) return;  // as an ASSERT in the test's own loop would
  }
}

// The pair kernel as the engine launches it: a programmatic dependent right after a late writer puts
// each sequence's newest q_len tokens' K/V (over NaN cache slots) and q (over a NaN q) in place
// (NewestTokens), one workspace zeroed once and shared, two decodes back to back (each with its own
// output), at 1, planned and 64 splits (two merge batches), both key-stream counts. KV lengths 128 and
// 2048 end on a whole tile; q_len 4 over 50 and 200 keys puts old and new rows in one tile. A pair
// kernel that issued a tile holding a new row before its dependency wait would read NaN.
TEST(CudaAttention, DecodePairKernelProgrammaticLaunch) {
  REQUIRE_GPU();
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  const std::vector<DecodePdlCase> cases = {
      {32, 1, {128, 2048, 4097}, 1}, {32, 4, {50, 200, 4097}, 4}, {32, 1, {50, 200}, 4}};
  for_each_decode_pdl_case(777, cases, [&](const DecodePdlCase& pc, const PagedCase& c, DeviceCase& dc,
                                           const NewestTokens& nt, int B, int max_kv) {
    std::vector<pagoda::cuda::DecodePlan> plans;
    for (int splits : {1, 0, 64})
      for (int ks : {2, 4}) {
        plans.push_back(pagoda::cuda::decode_plan(B, c.H, c.layout(), pc.q_len, max_kv, sms, splits, -1, 32));
        plans.back().key_streams = ks;
      }
    for (const auto& plan : plans) ASSERT_EQ(plan.rows_per_cta, 32);
    ASSERT_NO_FATAL_FAILURE(decode_plans_after_late_write(c, dc, nt, plans, [&](const pagoda::cuda::DecodePlan& plan) {
      return "decode-pair-pdl H" + std::to_string(c.H) + "/" + std::to_string(c.Hkv) + " q_len " +
             std::to_string(pc.q_len) + " key streams " + std::to_string(plan.key_streams) + " splits " +
             std::to_string(plan.num_splits);
    }));
  });
}

// Every (warps, ring stages) instantiation of the keys-major kernel; those with a two-n-tile form (9-16 rows)
// are marked.
struct KeysConfig {
  int warps, stages;
  bool two_ntiles;
};
const KeysConfig kKeysConfigs[] = {{4, 3, true}, {6, 2, false}, {8, 2, false}, {8, 3, true}, {12, 2, false}};
// The configurations a plan of `rows` packed rows per KV head can take.
std::vector<KeysConfig> keys_configs_for(int rows) {
  std::vector<KeysConfig> out;
  for (const auto& k : kKeysConfigs)
    if (rows <= pagoda::cuda::DECODE_KEYS_NTILE_ROWS || k.two_ntiles) out.push_back(k);
  return out;
}

// The keys-major kernel (every instantiation) over the sweep's lengths (1, 7, 33, 100, 1000, 4097), page sizes
// 1, 16, 64, GQA 1, 4, 8 at one query token and G 4 at two (one n-tile of 8 rows), and G 16 at one, G 4 at four
// and G 3 at three (two n-tiles: 16, 16 and 9 rows), bf16 and fp16, D 64 and 128, at 1, 5 and 37 forced splits
// (37: more splits than the kernel's 16-split merge batch) and the 16-row kernel's plan, against float64;
// outputs poisoned before every launch, one workspace zeroed once and shared, so every launch must also leave
// the split counters at zero.
TEST(CudaAttention, DecodeKeysKernelSweep) {
  REQUIRE_GPU();
  std::mt19937 rng(6161);
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  struct Shape {
    int H, Hkv, q_len;
  };
  const Shape shapes[] = {{4, 4, 1}, {8, 2, 1}, {16, 2, 1}, {8, 2, 2}, {16, 1, 1}, {8, 2, 4}, {6, 2, 3}};
  for (DType dt : {DType::DTYPE_BF16, DType::DTYPE_F16}) {
    for (int D : {64, 128}) {
      for (const Shape& sh : shapes) {
        for (int P : {1, 16, 64}) {
          PagedCase c = PagedCase::heads(dt, D, sh.H, sh.Hkv, P);
          c.kv_lens = {1, 7, 33, 100, 1000, 4097};
          if (sh.q_len > 1) c.kv_lens[0] = sh.q_len;
          c.q_lens.assign(c.kv_lens.size(), sh.q_len);
          c.build(rng);
          DeviceCase dc(c);
          const int B = int(c.kv_lens.size()), max_kv = max_of(c.kv_lens);
          std::vector<pagoda::cuda::DecodePlan> plans;
          for (int splits : {0, 1, 5, 37})
            for (const auto& ws : keys_configs_for(sh.q_len * sh.H / sh.Hkv)) {
              plans.push_back(pagoda::cuda::decode_plan(B, c.H, c.layout(), sh.q_len, max_kv, sms, splits, 0, 16));
              plans.back().keys_warps = ws.warps;
              plans.back().keys_stages = ws.stages;
              plans.back().merge_group_splits = 0;
              plans.back().early_trigger = ws.warps == 6;
            }
          std::size_t ws_bytes = 0;
          for (const auto& plan : plans) ws_bytes = std::max(ws_bytes, plan.workspace_bytes);
          DeviceBuffer<unsigned char> ws(ws_bytes);
          ws.poison();
          pagoda::cuda::decode_workspace_init(ws.ptr, ws_bytes, nullptr);
          for (auto plan : plans) {
            plan.workspace_initialized = true;
            dc.poison();
            pagoda::cuda::attention_decode(plan, dc.q.ptr, dc.view, dc.batch, dc.out.ptr, dc.lse.ptr, ws.ptr, nullptr);
            CUDA_OK(cudaDeviceSynchronize());
            const auto out = dc.out.download();
            const auto lse = dc.lse.download();
            const std::string l = label(c, "decode-keys") + " q_len " + std::to_string(sh.q_len) + " warps " +
                                  std::to_string(plan.keys_warps) + " stages " + std::to_string(plan.keys_stages) +
                                  " splits " + std::to_string(plan.num_splits);
            ASSERT_EQ(c.check(out, &lse, l.c_str()), 0) << l;
          }
          ASSERT_NO_FATAL_FAILURE(expect_counters_zero(ws.ptr, std::size_t(B) * c.Hkv));
        }
      }
    }
  }
}

// The keys-major kernel as the engine would launch it: a programmatic dependent right after a late writer puts
// each sequence's newest q_len tokens' K/V (over NaN cache slots) and q (over a NaN q) in place, with its CTAs
// letting the next launch start before or after their own wait; two decodes back to back, each with its own
// output, at 1, 16 and 37 splits. KV lengths 128 and 2048 end on a whole tile; q_len 2 and 4 over 50 and 200 keys
// put old and new rows in one tile (q_len 4 at G 4: 16 rows, the two-n-tile form). A kernel that issued a tile
// holding a new row before its wait would read NaN.
TEST(CudaAttention, DecodeKeysKernelProgrammaticLaunch) {
  REQUIRE_GPU();
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  const std::vector<DecodePdlCase> cases = {
      {32, 8, {128, 2048, 4097}, 1}, {32, 8, {50, 200, 4097}, 2}, {32, 4, {50, 200}, 1}, {32, 8, {50, 200, 4097}, 4}};
  for_each_decode_pdl_case(919, cases, [&](const DecodePdlCase& pc, const PagedCase& c, DeviceCase& dc,
                                           const NewestTokens& nt, int B, int max_kv) {
    std::vector<pagoda::cuda::DecodePlan> plans;
    for (int splits : {1, 16, 37})
      for (const auto& ws : keys_configs_for(pc.q_len * c.H / c.Hkv))
        for (bool early : {false, true}) {
          plans.push_back(pagoda::cuda::decode_plan(B, c.H, c.layout(), pc.q_len, max_kv, sms, splits, 0, 16));
          plans.back().keys_warps = ws.warps;
          plans.back().keys_stages = ws.stages;
          plans.back().early_trigger = early;
          plans.back().merge_group_splits = 0;
        }
    ASSERT_NO_FATAL_FAILURE(decode_plans_after_late_write(c, dc, nt, plans, [&](const pagoda::cuda::DecodePlan& plan) {
      return "decode-keys-pdl H" + std::to_string(c.H) + "/" + std::to_string(c.Hkv) + " q_len " +
             std::to_string(pc.q_len) + " warps " + std::to_string(plan.keys_warps) + " stages " +
             std::to_string(plan.keys_stages) + (plan.early_trigger ? " early" : "") + " splits " +
             std::to_string(plan.num_splits);
    }));
  });
}

// K/V append with fused RoPE, both pairings, against a float64 rotation of the same inputs.
TEST(CudaAttention, KvAppendRope) {
  REQUIRE_GPU();
  std::mt19937 rng(5);
  for (bool interleaved : {false, true}) {
    for (int rope_dim : {128, 64}) {
      const int T = 37, Hkv = 4, D = 128, P = 16, num_pages = 8;
      const DType dt = DType::DTYPE_BF16;
      std::normal_distribution<float> nd(0.0f, 1.0f);
      std::vector<uint16_t> k(std::size_t(T) * Hkv * D), v(k.size());
      for (auto& x : k) x = to_half_bits(dt, nd(rng));
      for (auto& x : v) x = to_half_bits(dt, nd(rng));
      std::vector<int64_t> slots(std::size_t(num_pages) * P);
      std::iota(slots.begin(), slots.end(), 0);
      std::shuffle(slots.begin(), slots.end(), rng);
      slots.resize(T);
      slots[5] = -1;  // padding token: must not be written
      std::vector<int32_t> pos(T);
      for (int t = 0; t < T; ++t) pos[t] = int32_t(rng() % 100000);
      std::vector<float> inv_freq(rope_dim / 2);
      for (int i = 0; i < rope_dim / 2; ++i) inv_freq[i] = float(std::pow(10000.0, -2.0 * i / rope_dim));
      DeviceBuffer<uint16_t> dk(k.size()), dv(v.size()), kc(std::size_t(num_pages) * P * Hkv * D), vc(kc.count);
      DeviceBuffer<int64_t> ds(T);
      DeviceBuffer<int32_t> dpos(T);
      DeviceBuffer<float> dfreq(inv_freq.size());
      dk.upload(k);
      dv.upload(v);
      ds.upload(slots);
      dpos.upload(pos);
      dfreq.upload(inv_freq);
      kc.poison();
      vc.poison();
      PagedKvView view;
      view.k = kc.ptr;
      view.v = vc.ptr;
      view.layout.page_size = P;
      view.layout.num_kv_heads = Hkv;
      view.layout.head_dim = D;
      view.layout.dtype = dt;
      view.num_pages = num_pages;
      pagoda::cuda::RopeArgs rope{dpos.ptr, dfreq.ptr, rope_dim, interleaved};
      pagoda::cuda::kv_append(view, dk.ptr, dv.ptr, T, ds.ptr, &rope, nullptr);
      CUDA_OK(cudaDeviceSynchronize());
      const auto hk = kc.download(), hv = vc.download();
      int bad = 0;
      for (int t = 0; t < T; ++t) {
        if (slots[t] < 0) continue;
        for (int h = 0; h < Hkv; ++h) {
          const std::size_t src = (std::size_t(t) * Hkv + h) * D, dst = (std::size_t(slots[t]) * Hkv + h) * D;
          for (int d = 0; d < D; ++d) {
            ASSERT_EQ(hv[dst + d], v[src + d]) << "V copy t " << t << " h " << h << " d " << d;
            double want = bf16_to_f32(k[src + d]);
            if (d < rope_dim) {
              const int half = rope_dim / 2;
              const int i = interleaved ? d / 2 : (d < half ? d : d - half);
              const int a = interleaved ? 2 * i : i, bidx = interleaved ? 2 * i + 1 : i + half;
              const bool first = interleaved ? d % 2 == 0 : d < half;
              const double ang = double(float(pos[t]) * inv_freq[i]);
              const double x = bf16_to_f32(k[src + a]), y = bf16_to_f32(k[src + bidx]);
              want = first ? x * std::cos(ang) - y * std::sin(ang) : y * std::cos(ang) + x * std::sin(ang);
            }
            const double got = bf16_to_f32(hk[dst + d]);
            if (!(std::abs(got - want) <= 1e-2 * std::abs(want) + 1e-3)) {
              if (bad++ < 5)
                ADD_FAILURE() << "K t " << t << " h " << h << " d " << d << " got " << got << " want " << want
                              << " (rtol 1e-2, atol 1e-3) interleaved " << interleaved << " rope_dim " << rope_dim;
            }
          }
        }
      }
      ASSERT_EQ(bad, 0);
      // The padding token's slot (never in slot_mapping) keeps its poison.
      int untouched = 0;
      std::vector<bool> used(std::size_t(num_pages) * P, false);
      for (int64_t s : slots)
        if (s >= 0) used[s] = true;
      for (std::size_t s = 0; s < used.size(); ++s)
        if (!used[s] && hk[s * Hkv * D] == 0xFFFF) ++untouched;
      EXPECT_EQ(untouched, int(used.size()) - (T - 1));
    }
  }
}

// Shape errors are reported before any device work, so this runs without a GPU too.
TEST(CudaAttention, RejectsUnsupportedShapes) {
  PagedKvLayout L{16, 8, 96, DType::DTYPE_BF16};
  EXPECT_THROW(pagoda::cuda::decode_plan(1, 32, L, 1, 100, 132), pagoda::Error);
  L.head_dim = 128;
  EXPECT_THROW(pagoda::cuda::decode_plan(1, 30, L, 1, 100, 132), pagoda::Error);  // 30 % 8 != 0
  EXPECT_THROW(pagoda::cuda::decode_plan(1, 32, L, 5, 4, 132), pagoda::Error);    // q_len > kv_len
  L.dtype = DType::DTYPE_F32;
  EXPECT_THROW(pagoda::cuda::decode_plan(1, 32, L, 1, 100, 132), pagoda::Error);
  L.dtype = DType::DTYPE_BF16;
  const auto plan = pagoda::cuda::decode_plan(1, 32, L, 1, 8192, 132);
  EXPECT_GE(plan.num_splits, 2);
  EXPECT_GE(int64_t(plan.num_splits) * plan.split_tokens, 8192);
}

}  // namespace
}  // namespace pagoda::test
