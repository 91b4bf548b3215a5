// The batched engine: many requests, one model, continuous batching. Each step is
// schedule -> (copy-on-write KV copies) -> one forward over the ragged batch -> sample per request
// -> update -> events. Single-threaded by design: the server's engine thread owns it; other
// threads reach it only through queues.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "kv/block_pool.hpp"
#include "model/model.hpp"
#include "runtime/generate.hpp"
#include "runtime/sampler.hpp"
#include "runtime/text_stream.hpp"
#include "sched/scheduler.hpp"
#include "tokenizer/tokenizer.hpp"

namespace pagoda {

struct EngineConfig {
  SchedulerConfig scheduler;
  uint64_t hash_key = 0;  // prefix-cache hash key; 0 picks a random per-process key
};

// Log-probability of one token under the model's raw distribution: log_softmax of the logits
// before penalties, temperature and truncation (what OpenAI's logprobs report).
struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.0f;
};
struct SampledLogprobs {
  TokenLogprob chosen;
  std::vector<TokenLogprob> top;  // the top_logprobs most likely tokens, most likely first
};

// Per-request options beyond generation itself.
struct EngineRequestOptions {
  bool logprobs = false;     // fill EngineEvent::logprobs for every generated token
  int32_t top_logprobs = 0;  // how many alternatives per token (0..kMaxTopLogprobs)
  // false: events carry tokens but no text, and the caller decodes them itself (off the engine
  // thread); only for requests without stop strings, which need the text to end them.
  bool detokenize = true;
  static constexpr int32_t kMaxTopLogprobs = 20;
};

// What happened to one request during a step.
struct EngineEvent {
  uint64_t id = 0;
  std::vector<int32_t> tokens;  // newly generated ids
  std::string text;             // newly final text (empty when the engine has no tokenizer)
  bool finished = false;
  FinishReason finish = FinishReason::FINISH_REASON_LENGTH;
  int32_t prompt_tokens = 0;
  int32_t generated_tokens = 0;
  int32_t cached_prompt_tokens = 0;
  std::vector<SampledLogprobs> logprobs;  // parallel to `tokens` when the request asked for them
};

// Where a step's wall time goes, measured on every step (one clock read per phase).
enum class EnginePhase : uint8_t {
  ENGINE_PHASE_SCHEDULE,     // Scheduler::schedule
  ENGINE_PHASE_BUILD_BATCH,  // KV copies, the ragged batch, the greedy check
  ENGINE_PHASE_FORWARD,      // the model call, until its logits or ids are on the host
  ENGINE_PHASE_SAMPLE,       // host sampling of the logit rows (or taking the device's ids)
  ENGINE_PHASE_UPDATE,       // Scheduler::update: computed and sampled tokens, prefix publishing
  ENGINE_PHASE_EVENTS,       // events: detokenisation, stop strings, finishing requests
  ENGINE_PHASE_COUNT,
};
inline constexpr size_t kEnginePhases = static_cast<size_t>(EnginePhase::ENGINE_PHASE_COUNT);
const char* engine_phase_name(EnginePhase p);  // "schedule", "build_batch", ...

struct EngineStats {
  int32_t running = 0;
  int32_t waiting = 0;
  int32_t kv_blocks_total = 0;
  int32_t kv_blocks_in_use = 0;
  // Running sequences only: the blocks in their tables and the tokens whose K/V those blocks hold
  // (1 - tokens / (blocks * page_size) is the slack in their last pages).
  int64_t kv_running_blocks = 0;
  int64_t kv_running_tokens = 0;
  int32_t page_size = 0;
  uint64_t prefix_queries = 0;
  uint64_t prefix_hits = 0;
  uint64_t steps = 0;
  uint64_t step_tokens = 0, step_seqs = 0;  // summed over steps: the batches' sizes
  uint64_t preemptions = 0;
  std::array<double, kEnginePhases> phase_seconds{};  // summed over all steps, by EnginePhase
};

class Engine {
 public:
  Engine(Model& model, const Tokenizer* tokenizer, const EngineConfig& config);

  // Queues a request (throws pagoda::Error if it can never fit or its parameters are invalid).
  void add(uint64_t id, std::vector<int32_t> prompt, const GenerationParams& params);
  void add(uint64_t id, std::vector<int32_t> prompt, const GenerationParams& params, const EngineRequestOptions& options);
  // Ends a request now and frees its KV blocks; unknown ids are ignored.
  void cancel(uint64_t id);
  // Runs one step; returns an event for every request that produced tokens or finished.
  std::vector<EngineEvent> step();
  bool has_work() const { return scheduler_.has_work(); }
  EngineStats stats() const;

 private:
  struct Live {
    GenerationParams params;
    Sampler sampler;
    std::unique_ptr<TextStream> stream;
    EngineRequestOptions options;
  };
  void build_batch(const SchedulerOutput& out);
  void fill_device_sampling(const SchedulerOutput& out);

  Model& model_;
  const Tokenizer* tokenizer_;
  KvBlockPool pool_;
  Scheduler scheduler_;
  std::unordered_map<uint64_t, Live> live_;
  ForwardBatch batch_;
  std::vector<float> logits_;
  std::vector<int32_t> greedy_ids_;  // [logit_rows] when the model sampled on its device
  DeviceSampling device_sampling_;   // the step's per-row inputs for sampling on the device
  std::vector<float> raw_row_;  // an unmodified copy of one logits row, for logprobs
  uint64_t steps_ = 0, preemptions_ = 0, step_tokens_ = 0, step_seqs_ = 0;
  std::array<double, kEnginePhases> phase_seconds_{};
};

}  // namespace pagoda
