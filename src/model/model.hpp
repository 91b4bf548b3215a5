// The interface the runtime drives: one forward step over a ragged batch, writing logits for the
// requested rows. A model owns its weights and its paged KV storage; the runtime decides which
// pages each sequence uses.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "io/model_config.hpp"
#include "model/forward_batch.hpp"

namespace pagoda {

struct KvCacheOptions {
  int32_t page_size = 16;
  int64_t max_tokens = 4096;  // capacity in tokens, rounded up to whole pages
  std::string dtype = "f32";  // f32 | f16 | bf16 (CPU)
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
