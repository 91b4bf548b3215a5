// The interface the runtime drives: one forward step over a ragged batch, writing logits for the
// requested rows. A model owns its weights and its paged KV storage; the runtime decides which
// pages each sequence uses.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/model_config.hpp"
#include "model/forward_batch.hpp"

namespace pagoda {

struct KvCacheOptions {
  int32_t page_size = 16;
  int64_t max_tokens = 4096;  // capacity in tokens, rounded up to whole pages
  std::string dtype = "f32";  // f32 | f16 | bf16 (CPU)
};

// What a model needs to sample rows on its device (runtime/sampler.hpp gives the semantics; the
// runtime fills this from its samplers). Plain data so this layer needs nothing from the runtime.
struct DeviceSampleRow {
  float temperature = 0.0f;  // <= 0: argmax of the penalised logits
  int32_t top_k = 0;         // <= 0: off
  float top_p = 1.0f;        // >= 1: off
  float min_p = 0.0f;        // <= 0: off
  float repetition_penalty = 1.0f;
  uint64_t seed = 0;      // the request's key for counter-based draws
  uint64_t position = 0;  // the position of the token drawn (its counter): same seed + position, same draw
};
struct DeviceSamplePenalty {
  int32_t token = 0;
  bool repetition = false;  // l = l > 0 ? l / repetition_penalty : l * repetition_penalty
  float subtract = 0.0f;    // then l -= subtract (presence + frequency * count)
};
struct DeviceSampling {
  std::vector<DeviceSampleRow> rows;            // [logit_rows]
  std::vector<DeviceSamplePenalty> penalties;   // every row's entries, one per distinct token, concatenated
  std::vector<int32_t> penalty_offsets;         // [logit_rows + 1]: row r owns [offsets[r], offsets[r + 1])
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelConfig& config() const = 0;
  // logits [logit_rows.size(), V]
  virtual void forward(const ForwardBatch& batch, float* logits) = 0;
  // Optional: the same step, sampling argmax (lowest id on ties) on the model's device so that
  // only ids [logit_rows] cross to the caller. Returns false, having done nothing, when unsupported.
  virtual bool try_forward_greedy(const ForwardBatch& batch, int32_t* ids) {
    (void)batch;
    (void)ids;
    return false;
  }
  // Optional: the same step, sampling each row on the model's device with its own parameters so
  // that only ids [logit_rows] cross to the caller. The draw is the device's own (counter-based,
  // keyed by seed and position), not the host sampler's generator. Returns false, having done
  // nothing, when unsupported.
  virtual bool try_forward_sample(const ForwardBatch& batch, const DeviceSampling& sampling, int32_t* ids) {
    (void)batch;
    (void)sampling;
    (void)ids;
    return false;
  }
  virtual int32_t page_size() const = 0;
  virtual int64_t num_pages() const = 0;
  virtual uint64_t kv_cache_bytes() const = 0;
  // Copies one KV page (all layers, K and V) — the copy half of copy-on-write.
  virtual void kv_copy_page(int32_t src, int32_t dst) = 0;
  virtual std::string describe() const = 0;  // one line: arch, sizes, dtype, device
};

class ModelSource;
std::unique_ptr<Model> model_cpu_create(std::shared_ptr<const ModelSource> source, const KvCacheOptions& kv);

}  // namespace pagoda
