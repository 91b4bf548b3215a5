// On-device sampling (backend/cuda/ops/sampling.hpp) against the host sampler's filter
// (runtime/sampler.hpp sampling_filter / apply_penalties): the same support and probabilities, the
// same penalised logits, draws that fit the host distribution (chi-square), same seed -> same ids,
// batch invariance, temperature 0 == argmax; and the Engine on the GPU path (mixed greedy and
// sampled requests) equal to each request alone. Skips when no GPU is present.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "backend/cuda/ops/ops.hpp"
#include "backend/cuda/ops/sampling.hpp"
#include "common/test_paths.hpp"
#include "io/model_source.hpp"
#include "model/llama_cuda_buffers.hpp"
#include "model/model_cuda.hpp"
#include "runtime/engine.hpp"
#include "runtime/sampler.hpp"

namespace pagoda {
namespace {

#define SKIP_WITHOUT_GPU() \
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device"

template <typename T>
cuda::DeviceBuffer up(const std::vector<T>& v) {
  cuda::DeviceBuffer b(std::max<size_t>(v.size(), 1) * sizeof(T));
  if (!v.empty()) PAGODA_CUDA_CHECK(cudaMemcpy(b.get(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return b;
}
template <typename T>
std::vector<T> down(const cuda::DeviceBuffer& b, size_t n) {
  PAGODA_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<T> v(n);
  PAGODA_CUDA_CHECK(cudaMemcpy(v.data(), b.get(), n * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}

// A row: logits, host-side parameters and history (for the penalties), RNG key.
struct Row {
  std::vector<float> logits;
  SamplingParams params;
  std::vector<int32_t> history;
  size_t generated_from = 0;
  uint64_t seed = 0, position = 0;
};

struct DeviceResult {
  std::vector<int32_t> ids;
  std::vector<float> probs;     // [R, V] or empty
  std::vector<float> logits;    // [R, V] after the in-place penalties
};

// Runs sample_rows over rows (all of one V), poisoning the outputs first.
DeviceResult run_device(const std::vector<Row>& rows, int64_t V, bool want_probs) {
  const int64_t R = static_cast<int64_t>(rows.size());
  std::vector<float> logits;
  std::vector<cuda::SampleRowParams> params;
  std::vector<cuda::SamplePenalty> pens;
  for (const Row& r : rows) {
    logits.insert(logits.end(), r.logits.begin(), r.logits.end());
    cuda::SampleRowParams d;
    d.inv_temperature = r.params.temperature > 0 ? 1.0f / r.params.temperature : 0.0f;
    d.top_k = r.params.top_k;
    d.top_p = r.params.top_p;
    d.min_p = r.params.min_p;
    d.repetition_penalty = r.params.repetition_penalty;
    d.seed = r.seed;
    d.position = r.position;
    d.penalty_begin = static_cast<int32_t>(pens.size());
    for (const PenaltyEntry& e : penalty_entries(r.params, r.history, r.generated_from, V))
      pens.push_back({e.token, e.repetition ? 1 : 0, e.subtract});
    d.penalty_end = static_cast<int32_t>(pens.size());
    params.push_back(d);
  }
  auto dl = up(logits);
  auto dp = up(params);
  auto dpen = up(pens);
  cuda::DeviceBuffer ids(size_t(R) * 4), probs(want_probs ? size_t(R * V) * 4 : 0);
  PAGODA_CUDA_CHECK(cudaMemset(ids.get(), 0xff, size_t(R) * 4));
  if (want_probs) PAGODA_CUDA_CHECK(cudaMemset(probs.get(), 0xff, size_t(R * V) * 4));  // NaN
  cuda::sample_rows(static_cast<float*>(dl.get()), R, V, static_cast<cuda::SampleRowParams*>(dp.get()),
                    static_cast<cuda::SamplePenalty*>(dpen.get()), static_cast<int32_t*>(ids.get()),
                    want_probs ? static_cast<float*>(probs.get()) : nullptr, nullptr);
  PAGODA_CUDA_CHECK(cudaGetLastError());
  DeviceResult out;
  out.ids = down<int32_t>(ids, size_t(R));
  if (want_probs) out.probs = down<float>(probs, size_t(R * V));
  out.logits = down<float>(dl, size_t(R * V));
  return out;
}

std::vector<float> random_logits(int64_t V, std::mt19937& rng, float scale, bool coarse) {
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> l(static_cast<size_t>(V));
  for (float& x : l) x = coarse ? std::round(nd(rng)) : nd(rng);
  return l;
}

// The host filter for a row (penalties applied first), normalised: token -> probability.
std::map<int32_t, double> host_distribution(const Row& r, std::vector<std::pair<float, int32_t>>* sorted = nullptr) {
  std::vector<float> l = r.logits;
  const auto e = penalty_entries(r.params, r.history, r.generated_from, static_cast<int64_t>(l.size()));
  apply_penalties(l, e, r.params.repetition_penalty);
  std::map<int32_t, double> out;
  if (r.params.temperature <= 0.0f) {
    out[argmax(l)] = 1.0;
    return out;
  }
  std::vector<std::pair<float, int32_t>> c;
  sampling_filter(r.params, l, c);
  double z = 0;
  for (const auto& x : c) z += x.first;
  for (const auto& x : c) out[x.second] = x.first / z;
  if (sorted) *sorted = c;
  return out;
}

// True when the host's cut points sit so close to a threshold (top-p mass within 1e-5 of top_p,
// or a probability within 1e-5 relative of the min-p threshold) that a one-ulp difference in a
// float exp can move them: device exp and host exp may differ by an ulp.
bool cut_is_ambiguous(const Row& r) {
  if (r.params.temperature <= 0.0f) return false;
  std::vector<float> l = r.logits;
  apply_penalties(l, penalty_entries(r.params, r.history, r.generated_from, int64_t(l.size())), r.params.repetition_penalty);
  SamplingParams wide = r.params;
  wide.top_p = 1.0f;
  wide.min_p = 0.0f;
  std::vector<std::pair<float, int32_t>> c;
  sampling_filter(wide, l, c);  // the top-k softmax, untruncated
  double cum = 0;
  size_t n = c.size();
  if (r.params.top_p < 1.0f)
    for (size_t i = 0; i < c.size(); ++i) {
      cum += c[i].first;
      if (std::fabs(cum - r.params.top_p) < 1e-5) return true;
      if (cum >= r.params.top_p) {
        n = i + 1;
        break;
      }
    }
  if (r.params.min_p > 0.0f) {
    const double thr = double(r.params.min_p) * c[0].first;
    for (size_t i = 0; i < n; ++i)
      if (std::fabs(c[i].first - thr) < 1e-5 * thr) return true;
  }
  return false;
}

SamplingParams make_params(std::mt19937& rng, int variant) {
  SamplingParams p;
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  p.temperature = variant % 7 == 0 ? 0.0f : 0.2f + 1.8f * u(rng);
  p.top_k = variant % 3 == 0 ? 0 : (variant % 3 == 1 ? 1 + int(u(rng) * 64) : 1 + int(u(rng) * 3000));
  p.top_p = variant % 4 == 0 ? 1.0f : 0.05f + 0.949f * u(rng);
  p.min_p = variant % 5 < 2 ? 0.0f : 0.3f * u(rng);
  p.repetition_penalty = variant % 2 ? 1.0f + u(rng) : 1.0f;
  p.presence_penalty = variant % 3 == 2 ? 2.0f * u(rng) - 1.0f : 0.0f;
  p.frequency_penalty = variant % 4 == 1 ? u(rng) : 0.0f;
  p.penalty_last_n = 64;
  return p;
}

class SamplingVocab : public ::testing::TestWithParam<int64_t> {};

TEST_P(SamplingVocab, SupportAndProbabilitiesEqualHostFilter) {
  SKIP_WITHOUT_GPU();
  const int64_t V = GetParam();
  std::mt19937 rng(static_cast<uint32_t>(V));
  const int R = V > 100000 ? 48 : 96;
  std::vector<Row> rows;
  for (int i = 0; i < R; ++i) {
    Row r;
    const float scale = std::vector<float>{0.5f, 2.0f, 5.0f, 12.0f}[size_t(i % 4)];
    r.logits = random_logits(V, rng, scale, i % 6 == 5);  // every sixth row: rounded, many ties
    r.params = make_params(rng, i);
    std::uniform_int_distribution<int32_t> tok(0, int32_t(V - 1));
    for (int j = 0; j < 40; ++j) r.history.push_back(j % 3 == 0 ? r.history.empty() ? 0 : r.history.back() : tok(rng));
    r.generated_from = 20;
    r.seed = 1000 + uint64_t(i);
    r.position = 40;
    rows.push_back(std::move(r));
  }
  const DeviceResult d = run_device(rows, V, true);
  int checked = 0, ambiguous = 0;
  double worst = 0;
  for (int i = 0; i < R; ++i) {
    const Row& r = rows[size_t(i)];
    const auto ref = host_distribution(r);
    const float* prow = d.probs.data() + size_t(i) * size_t(V);
    std::map<int32_t, double> got;
    bool finite = true;
    for (int64_t t = 0; t < V; ++t) {
      finite &= std::isfinite(prow[t]);
      if (prow[t] > 0) got[int32_t(t)] = prow[t];
    }
    ASSERT_TRUE(finite) << "row " << i << ": unwritten or NaN probabilities";
    EXPECT_TRUE(got.count(d.ids[size_t(i)])) << "row " << i << ": drawn id " << d.ids[size_t(i)] << " outside the support";
    if (cut_is_ambiguous(r)) {
      ++ambiguous;
      continue;
    }
    ASSERT_EQ(got.size(), ref.size()) << "row " << i << " T " << r.params.temperature << " k " << r.params.top_k
                                      << " p " << r.params.top_p << " min_p " << r.params.min_p;
    for (const auto& [t, p] : ref) {
      ASSERT_TRUE(got.count(t)) << "row " << i << " token " << t;
      worst = std::max(worst, std::fabs(got[t] - p) / p);
      EXPECT_NEAR(got[t], p, 1e-5 * p + 1e-9) << "row " << i << " token " << t;
    }
    ++checked;
  }
  std::printf("V %lld: %d rows equal (max rel prob diff %.2g), %d near-tie cuts skipped\n", (long long)V, checked, worst,
              ambiguous);
  EXPECT_GE(checked, R - R / 10);
}

INSTANTIATE_TEST_SUITE_P(Vocab, SamplingVocab, ::testing::Values(int64_t(1000), int64_t(32000), int64_t(128256)));

TEST(SamplingCuda, PenaltiesGiveTheHostsAdjustedLogits) {
  SKIP_WITHOUT_GPU();
  const int64_t V = 32000;
  std::mt19937 rng(3);
  std::vector<Row> rows;
  for (int i = 0; i < 8; ++i) {
    Row r;
    r.logits = random_logits(V, rng, 3.0f, false);
    r.params = make_params(rng, 1);
    r.params.repetition_penalty = 1.3f + 0.1f * float(i);
    r.params.presence_penalty = -0.7f + 0.2f * float(i);
    r.params.frequency_penalty = 0.35f;
    r.params.penalty_last_n = 8 + 8 * i;
    std::uniform_int_distribution<int32_t> tok(0, 200);  // a small range: repeats
    for (int j = 0; j < 300; ++j) r.history.push_back(tok(rng));
    r.generated_from = 100;
    rows.push_back(std::move(r));
  }
  const DeviceResult d = run_device(rows, V, false);
  int64_t touched = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::vector<float> l = rows[i].logits;
    apply_penalties(l, penalty_entries(rows[i].params, rows[i].history, rows[i].generated_from, V),
                    rows[i].params.repetition_penalty);
    for (int64_t t = 0; t < V; ++t) {
      ASSERT_EQ(d.logits[i * size_t(V) + size_t(t)], l[size_t(t)]) << "row " << i << " token " << t;  // bit-exact
      touched += l[size_t(t)] != rows[i].logits[size_t(t)];
    }
  }
  EXPECT_GT(touched, 8 * 100);
}

// Wilson-Hilferty: P(chi2_k >= x), accurate to a few percent in the tail for k >= 10.
double chi2_upper_tail(double x, int k) {
  const double z = (std::cbrt(x / k) - (1 - 2.0 / (9 * k))) / std::sqrt(2.0 / (9 * k));
  return 0.5 * std::erfc(z / std::sqrt(2.0));
}

TEST(SamplingCuda, DrawsFitTheHostDistributionChiSquare) {
  SKIP_WITHOUT_GPU();
  struct Case {
    int64_t V;
    float t, top_p, min_p;
    int32_t top_k;
    float scale;
  };
  for (const Case& c : {Case{32000, 0.8f, 0.9f, 0.01f, 50, 3.0f}, Case{1000, 1.5f, 1.0f, 0.0f, 0, 1.0f},
                        Case{128256, 1.0f, 0.95f, 0.0f, 0, 6.0f}}) {
    std::mt19937 rng(77);
    Row base;
    base.logits = random_logits(c.V, rng, c.scale, false);
    base.params.temperature = c.t;
    base.params.top_k = c.top_k;
    base.params.top_p = c.top_p;
    base.params.min_p = c.min_p;
    base.seed = 12345;
    const auto ref = host_distribution(base);
    const int R = 1024, launches = 24;  // 24576 draws: same logits, one counter (position) per draw
    std::map<int32_t, int64_t> counts;
    for (int l = 0; l < launches; ++l) {
      std::vector<Row> rows(size_t(R), base);
      for (int i = 0; i < R; ++i) rows[size_t(i)].position = uint64_t(l) * R + uint64_t(i);
      for (int32_t id : run_device(rows, c.V, false).ids) ++counts[id];
    }
    const double n = double(R) * launches;
    // Bins: tokens with expected count >= 5 alone, the rest pooled (sorted by probability).
    std::vector<std::pair<double, int32_t>> order;
    for (const auto& [t, p] : ref) order.emplace_back(p, t);
    std::sort(order.rbegin(), order.rend());
    double stat = 0, pool_e = 0, pool_o = 0;
    int bins = 0;
    int64_t outside = 0;
    for (const auto& [t, k] : counts) outside += ref.count(t) ? 0 : k;
    for (const auto& [p, t] : order) {
      const double e = p * n, o = double(counts.count(t) ? counts[t] : 0);
      if (e >= 5) {
        stat += (o - e) * (o - e) / e;
        ++bins;
      } else {
        pool_e += e;
        pool_o += o;
      }
    }
    if (pool_e >= 5) stat += (pool_o - pool_e) * (pool_o - pool_e) / pool_e, ++bins;
    const double pval = chi2_upper_tail(stat, bins - 1);
    std::printf("chi-square V %lld: %d bins, stat %.1f, p-value %.3g, %zu support tokens\n", (long long)c.V, bins, stat,
                pval, ref.size());
    EXPECT_EQ(outside, 0) << "draws outside the host's support";
    ASSERT_GE(bins, 10);
    EXPECT_GT(pval, 1e-4) << "V " << c.V;  // fixed seeds: deterministic; a wrong sampler gives ~0
  }
}

TEST(SamplingCuda, SameSeedSameIdsAndBatchInvariant) {
  SKIP_WITHOUT_GPU();
  const int64_t V = 32000;
  std::mt19937 rng(9);
  std::vector<Row> rows;
  for (int i = 0; i < 37; ++i) {
    Row r;
    r.logits = random_logits(V, rng, 2.0f, false);
    r.params = make_params(rng, 1 + (i % 6));  // never greedy (variant % 7 != 0)
    r.params.top_k = 0;
    r.params.top_p = 1.0f;  // a wide support: the draw, not the cut, decides
    r.seed = uint64_t(i % 5);
    r.position = 100 + uint64_t(i);
    rows.push_back(std::move(r));
  }
  const auto all = run_device(rows, V, false).ids;
  EXPECT_EQ(run_device(rows, V, false).ids, all);  // same seeds and positions: same ids
  for (size_t i : {0, 7, 36}) {  // alone == inside the batch
    EXPECT_EQ(run_device({rows[i]}, V, false).ids[0], all[i]) << "row " << i;
  }
  std::vector<Row> reversed(rows.rbegin(), rows.rend());
  auto rev = run_device(reversed, V, false).ids;
  std::reverse(rev.begin(), rev.end());
  EXPECT_EQ(rev, all);
  // Other seeds or positions: other draws (the same ids for all 37 rows would be a broken key).
  int differ = 0;
  for (auto& r : rows) r.seed += 1000;
  const auto other = run_device(rows, V, false).ids;
  for (size_t i = 0; i < all.size(); ++i) differ += other[i] != all[i];
  EXPECT_GT(differ, 25);
}

TEST(SamplingCuda, TemperatureZeroIsArgmax) {
  SKIP_WITHOUT_GPU();
  for (int64_t V : {1000, 128256}) {
    std::mt19937 rng(static_cast<uint32_t>(V + 1));
    std::vector<Row> rows;
    for (int i = 0; i < 16; ++i) {
      Row r;
      r.logits = random_logits(V, rng, 1.0f, i % 2 == 1);  // odd rows: rounded, the max is tied
      r.params.temperature = 0.0f;
      r.params.repetition_penalty = i % 4 == 0 ? 1.5f : 1.0f;
      if (i % 4 == 0) r.history = {argmax(r.logits)};  // the penalty moves the argmax
      rows.push_back(std::move(r));
    }
    const DeviceResult d = run_device(rows, V, false);
    for (size_t i = 0; i < rows.size(); ++i) {
      std::vector<float> l = rows[i].logits;
      apply_penalties(l, penalty_entries(rows[i].params, rows[i].history, 0, V), rows[i].params.repetition_penalty);
      EXPECT_EQ(d.ids[i], argmax(l)) << "V " << V << " row " << i;
    }
  }
}

// The engine on the GPU path: a model wrapper that counts which path each step took.
class CountingModel final : public Model {
 public:
  explicit CountingModel(ModelCuda& m) : m_(m) {}
  const ModelConfig& config() const override { return m_.config(); }
  void forward(const ForwardBatch& b, float* logits) override {
    ++host;
    m_.forward(b, logits);
  }
  bool try_forward_greedy(const ForwardBatch& b, int32_t* ids) override {
    ++greedy;
    return m_.try_forward_greedy(b, ids);
  }
  bool try_forward_sample(const ForwardBatch& b, const DeviceSampling& s, int32_t* ids) override {
    ++sampled;
    return m_.try_forward_sample(b, s, ids);
  }
  int32_t page_size() const override { return m_.page_size(); }
  int64_t num_pages() const override { return m_.num_pages(); }
  uint64_t kv_cache_bytes() const override { return m_.kv_cache_bytes(); }
  void kv_copy_page(int32_t src, int32_t dst) override { m_.kv_copy_page(src, dst); }
  std::string describe() const override { return m_.describe(); }
  int host = 0, greedy = 0, sampled = 0;

 private:
  ModelCuda& m_;
};

std::unique_ptr<ModelCuda> tiny_gpu() {
  KvCacheOptions kv;
  kv.max_tokens = 4096;
  kv.page_size = 8;
  GpuOptions g;
  g.dtype = "float32";
  return model_cuda_create(ModelSource::open(test::fixtures_dir() + "/tiny-llama-gqa"), kv, g);
}

GenerationParams request_params(int i) {
  GenerationParams p;
  p.max_tokens = 12;
  p.ignore_eos = true;
  p.sampling.has_seed = true;
  p.sampling.seed = 500 + uint64_t(i);
  p.sampling.temperature = i % 3 == 0 ? 0.0f : 0.7f + 0.2f * float(i % 4);
  p.sampling.top_k = i % 2 ? 40 : 0;
  p.sampling.top_p = i % 4 == 1 ? 0.9f : 1.0f;
  p.sampling.min_p = i % 5 == 2 ? 0.05f : 0.0f;
  p.sampling.repetition_penalty = i % 3 == 1 ? 1.2f : 1.0f;
  p.sampling.presence_penalty = i % 4 == 3 ? 0.5f : 0.0f;
  return p;
}

std::map<uint64_t, std::vector<int32_t>> run_engine(Model& m, const std::vector<std::vector<int32_t>>& prompts,
                                                    const std::vector<int>& which, int32_t budget) {
  EngineConfig cfg;
  cfg.scheduler.max_num_batched_tokens = budget;
  Engine e(m, nullptr, cfg);
  for (int i : which) e.add(uint64_t(i), prompts[size_t(i)], request_params(i));
  std::map<uint64_t, std::vector<int32_t>> out;
  for (int s = 0; s < 10000 && e.has_work(); ++s)
    for (const EngineEvent& ev : e.step()) out[ev.id].insert(out[ev.id].end(), ev.tokens.begin(), ev.tokens.end());
  return out;
}

TEST(SamplingCuda, EngineMixedRequestsEqualAlone) {
  SKIP_WITHOUT_GPU();
  auto gpu = tiny_gpu();
  CountingModel batched(*gpu);
  std::mt19937 rng(4);
  std::vector<std::vector<int32_t>> prompts;
  std::vector<int> all;
  for (int i = 0; i < 8; ++i) {
    std::vector<int32_t> p(size_t(std::uniform_int_distribution<int>(1, 30)(rng)));
    for (auto& t : p) t = std::uniform_int_distribution<int32_t>(0, 1023)(rng);
    prompts.push_back(p);
    all.push_back(i);
  }
  const auto together = run_engine(batched, prompts, all, 40);
  EXPECT_GT(batched.sampled, 0);
  EXPECT_EQ(batched.host, 0) << "no row asked for logprobs: every step should sample on the device";
  for (int i : all) {
    auto alone_gpu = tiny_gpu();
    const auto alone = run_engine(*alone_gpu, prompts, {i}, 40);
    EXPECT_EQ(together.at(uint64_t(i)), alone.at(uint64_t(i))) << "request " << i;
    EXPECT_EQ(together.at(uint64_t(i)).size(), 12u);
  }
}

}  // namespace
}  // namespace pagoda
