// Token-budget scheduler with continuous batching. A request is its tokens (prompt + generated)
// and how many of them already have K/V in the cache; each step hands out at most
// max_num_batched_tokens new tokens across requests. Chunked prefill, decode and prefix-cache hits
// are all the same thing: "compute the next n uncomputed tokens". FCFS; when KV blocks run out the
// newest running request is preempted (its blocks freed, recomputed later). Host-only: it deals in
// block ids from a KvBlockPool and never touches device memory.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include "kv/block_pool.hpp"

namespace pagoda {

struct SchedulerConfig {
  int32_t max_num_batched_tokens = 2048;
  int32_t max_num_seqs = 256;
  bool enable_prefix_caching = true;
};

enum class RequestState : uint8_t { REQUEST_STATE_WAITING, REQUEST_STATE_RUNNING, REQUEST_STATE_FINISHED };

struct Request {
  uint64_t id = 0;
  std::vector<int32_t> tokens;  // prompt, then every sampled token
  int32_t num_prompt_tokens = 0;
  int32_t max_new_tokens = 0;
  int32_t num_computed_tokens = 0;  // tokens whose K/V are in the cache
  std::vector<int32_t> blocks;      // block table
  std::vector<uint64_t> block_hashes;  // chain hashes of the published full blocks, in order
  RequestState state = RequestState::REQUEST_STATE_WAITING;
  int32_t num_preemptions = 0;
  int32_t num_cached_prompt_tokens = 0;  // prefix-cache hit on the last admission

  int32_t num_generated() const { return static_cast<int32_t>(tokens.size()) - num_prompt_tokens; }
};

// One sequence's share of a step.
struct ScheduledSeq {
  uint64_t request_id;
  const Request* request;  // the request itself: valid until it is finished (finish())
  int32_t start;        // first new token (== num_computed_tokens before the step)
  int32_t num_tokens;   // new tokens this step
  bool sample;          // the step reaches the end of the known tokens: sample the next one
};

// What the runner must do this step: the KV copies first (copy-on-write), then one forward over
// `seqs` in order.
struct SchedulerOutput {
  std::vector<ScheduledSeq> seqs;
  std::vector<KvBlockPool::CopyOnWrite> copies;
  std::vector<uint64_t> preempted;
  int32_t num_tokens = 0;
  bool empty() const { return seqs.empty(); }
};

class Scheduler {
 public:
  Scheduler(const SchedulerConfig& config, KvBlockPool& pool);

  // Queues a request; throws pagoda::Error when it can never fit (prompt + max_new_tokens larger
  // than the whole cache, or an empty prompt).
  void add(uint64_t id, std::vector<int32_t> prompt, int32_t max_new_tokens);
  SchedulerOutput schedule();
  // After the forward: records computed tokens, appends the sampled tokens (one per seq with
  // sample == true, in order) and publishes newly full blocks to the prefix cache.
  void update(const SchedulerOutput& out, const std::vector<int32_t>& sampled);
  // Ends a request now (finished, cancelled, client gone): its blocks are released at once.
  void finish(uint64_t id);

  const Request* find(uint64_t id) const;
  const Request& get(uint64_t id) const;
  int32_t num_running() const { return static_cast<int32_t>(running_.size()); }
  // The running requests, oldest admission first (valid until the next schedule() or finish()).
  const std::vector<Request*>& running() const { return running_; }
  int32_t num_waiting() const { return static_cast<int32_t>(waiting_.size()); }
  bool has_work() const { return !running_.empty() || !waiting_.empty(); }
  const KvBlockPool& pool() const { return pool_; }
  const SchedulerConfig& config() const { return config_; }

 private:
  int32_t blocks_needed(const Request& r, int32_t upto_tokens) const;
  bool grow_blocks(Request& r, int32_t upto_tokens, SchedulerOutput& out);
  void preempt(Request& r, SchedulerOutput& out);
  void admit_cached_prefix(Request& r);
  void publish_full_blocks(Request& r);
  void release_blocks(Request& r);

  SchedulerConfig config_;
  KvBlockPool& pool_;
  // Node-based, so a Request never moves while it lives: running_ and ScheduledSeq point into it.
  std::unordered_map<uint64_t, Request> requests_;
  std::deque<uint64_t> waiting_;   // FCFS; preempted requests go back to the front
  std::vector<Request*> running_;  // admission order (oldest first)
};

}  // namespace pagoda
