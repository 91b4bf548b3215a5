#include "sched/scheduler.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace pagoda {

Scheduler::Scheduler(const SchedulerConfig& config, KvBlockPool& pool) : config_(config), pool_(pool) {
  PAGODA_CHECK(config.max_num_batched_tokens > 0 && config.max_num_seqs > 0, "scheduler limits must be positive");
}

const Request* Scheduler::find(uint64_t id) const {
  auto it = requests_.find(id);
  return it == requests_.end() ? nullptr : &it->second;
}

const Request& Scheduler::get(uint64_t id) const {
  const Request* r = find(id);
  PAGODA_CHECK(r != nullptr, "unknown request {}", id);
  return *r;
}

void Scheduler::add(uint64_t id, std::vector<int32_t> prompt, int32_t max_new_tokens) {
  PAGODA_CHECK(!prompt.empty(), "the prompt is empty");
  PAGODA_CHECK(max_new_tokens >= 1, "max_tokens must be at least 1");
  PAGODA_CHECK(!requests_.count(id), "request id {} is already queued", id);
  const int64_t capacity = int64_t(pool_.num_blocks()) * pool_.block_size();
  const int64_t need = static_cast<int64_t>(prompt.size()) + max_new_tokens;
  PAGODA_CHECK(need <= capacity, "the request needs {} tokens of KV cache ({} prompt + {} new) but the whole cache holds {}",
               need, prompt.size(), max_new_tokens, capacity);
  Request r;
  r.id = id;
  r.num_prompt_tokens = static_cast<int32_t>(prompt.size());
  r.tokens = std::move(prompt);
  r.max_new_tokens = max_new_tokens;
  requests_.emplace(id, std::move(r));
  waiting_.push_back(id);
}

int32_t Scheduler::blocks_needed(const Request& r, int32_t upto_tokens) const {
  const int32_t P = pool_.block_size();
  return std::max(0, (upto_tokens + P - 1) / P - static_cast<int32_t>(r.blocks.size()));
}

bool Scheduler::grow_blocks(Request& r, int32_t upto_tokens, SchedulerOutput& out) {
  const int32_t P = pool_.block_size();
  int32_t need = blocks_needed(r, upto_tokens);
  // The first new token may land in a block the request already holds; if that block is shared
  // or published it must be copied before it is written.
  const int32_t write_block = r.num_computed_tokens / P;
  const bool cow = write_block < static_cast<int32_t>(r.blocks.size()) &&
                   (pool_.ref_count(r.blocks[static_cast<size_t>(write_block)]) > 1 ||
                    pool_.is_cached(r.blocks[static_cast<size_t>(write_block)]));
  const bool cow_needs_block = cow && pool_.ref_count(r.blocks[static_cast<size_t>(write_block)]) > 1;
  if (need + (cow_needs_block ? 1 : 0) > pool_.num_available()) return false;
  if (cow) {
    if (auto c = pool_.make_writable(r.blocks[static_cast<size_t>(write_block)])) {
      r.blocks[static_cast<size_t>(write_block)] = c->dst;
      out.copies.push_back(*c);
    }
    if (static_cast<size_t>(write_block) < r.block_hashes.size()) r.block_hashes.resize(static_cast<size_t>(write_block));
  }
  for (int32_t i = 0; i < need; ++i) r.blocks.push_back(*pool_.allocate());
  return true;
}

void Scheduler::release_blocks(Request& r) {
  for (int32_t b : r.blocks) pool_.release(b);
  r.blocks.clear();
  r.block_hashes.clear();
}

void Scheduler::preempt(Request& r, SchedulerOutput& out) {
  release_blocks(r);
  r.num_computed_tokens = 0;
  r.state = RequestState::REQUEST_STATE_WAITING;
  ++r.num_preemptions;
  if (auto p = std::find(running_.begin(), running_.end(), &r); p != running_.end()) running_.erase(p);
  waiting_.push_front(r.id);
  out.preempted.push_back(r.id);
}

void Scheduler::admit_cached_prefix(Request& r) {
  r.num_cached_prompt_tokens = 0;
  if (!config_.enable_prefix_caching) return;
  const int32_t P = pool_.block_size();
  const int32_t len = static_cast<int32_t>(r.tokens.size());
  uint64_t parent = 0;
  // Leave at least one token uncomputed: the step must produce logits for the last one.
  for (int32_t j = 0; (j + 1) * P <= len - 1; ++j) {
    std::span<const int32_t> block(r.tokens.data() + int64_t(j) * P, static_cast<size_t>(P));
    const uint64_t h = pool_.chain_hash(parent, block);
    std::optional<int32_t> hit = pool_.lookup(h, block);
    if (!hit) break;
    r.blocks.push_back(*hit);
    r.block_hashes.push_back(h);
    parent = h;
  }
  r.num_computed_tokens = static_cast<int32_t>(r.blocks.size()) * P;
  r.num_cached_prompt_tokens = r.num_computed_tokens;
}

void Scheduler::publish_full_blocks(Request& r) {
  if (!config_.enable_prefix_caching) return;
  const int32_t P = pool_.block_size();
  while (static_cast<int32_t>(r.block_hashes.size() + 1) * P <= r.num_computed_tokens) {
    const size_t j = r.block_hashes.size();
    const uint64_t parent = j == 0 ? 0 : r.block_hashes[j - 1];
    std::span<const int32_t> block(r.tokens.data() + j * static_cast<size_t>(P), static_cast<size_t>(P));
    const uint64_t h = pool_.chain_hash(parent, block);
    pool_.publish(r.blocks[j], h, block);  // false: an identical block is already cached; keep ours private
    r.block_hashes.push_back(h);
  }
}

SchedulerOutput Scheduler::schedule() {
  SchedulerOutput out;
  out.seqs.reserve(running_.size() + std::min(waiting_.size(), static_cast<size_t>(config_.max_num_seqs)));
  int32_t budget = config_.max_num_batched_tokens;
  for (size_t i = 0; i < running_.size() && budget > 0;) {
    Request& r = *running_[i];
    const int32_t n = std::min(static_cast<int32_t>(r.tokens.size()) - r.num_computed_tokens, budget);
    if (n <= 0) {
      ++i;
      continue;
    }
    bool self_preempted = false;
    while (!grow_blocks(r, r.num_computed_tokens + n, out)) {
      Request& victim = *running_.back();  // the newest running request
      const bool is_self = victim.id == r.id;
      preempt(victim, out);
      if (is_self) {
        self_preempted = true;
        break;
      }
    }
    if (self_preempted) break;  // r was the newest: nothing after it is running
    out.seqs.push_back({r.id, &r, r.num_computed_tokens, n, r.num_computed_tokens + n == static_cast<int32_t>(r.tokens.size())});
    budget -= n;
    out.num_tokens += n;
    ++i;
  }
  // Admit waiting requests (FCFS) while budget, sequence slots and blocks allow. No preemption
  // on admission: a newcomer never evicts a running request.
  while (!waiting_.empty() && budget > 0 && static_cast<int32_t>(running_.size()) < config_.max_num_seqs) {
    Request& r = requests_.at(waiting_.front());
    if (r.num_preemptions > 0 && !out.preempted.empty() &&
        std::find(out.preempted.begin(), out.preempted.end(), r.id) != out.preempted.end())
      break;  // preempted this very step for lack of blocks: do not re-admit it now
    admit_cached_prefix(r);
    const int32_t n = std::min(static_cast<int32_t>(r.tokens.size()) - r.num_computed_tokens, budget);
    if (!grow_blocks(r, r.num_computed_tokens + n, out)) {
      release_blocks(r);
      r.num_computed_tokens = 0;
      r.num_cached_prompt_tokens = 0;
      break;
    }
    waiting_.pop_front();
    r.state = RequestState::REQUEST_STATE_RUNNING;
    running_.push_back(&r);
    out.seqs.push_back({r.id, &r, r.num_computed_tokens, n, r.num_computed_tokens + n == static_cast<int32_t>(r.tokens.size())});
    budget -= n;
    out.num_tokens += n;
  }
  return out;
}

void Scheduler::update(const SchedulerOutput& out, const std::vector<int32_t>& sampled) {
  size_t k = 0;
  for (const ScheduledSeq& s : out.seqs) {
    auto it = requests_.find(s.request_id);
    if (it == requests_.end()) {  // finished (cancelled) between schedule and update
      if (s.sample) ++k;
      continue;
    }
    Request& r = it->second;
    r.num_computed_tokens = s.start + s.num_tokens;
    if (s.sample) {
      PAGODA_CHECK(k < sampled.size(), "update: fewer sampled tokens than sampling sequences");
      r.tokens.push_back(sampled[k++]);
    }
    publish_full_blocks(r);
  }
  PAGODA_CHECK(k == sampled.size(), "update: {} sampled tokens for {} sampling sequences", sampled.size(), k);
}

void Scheduler::finish(uint64_t id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  Request& r = it->second;
  release_blocks(r);
  // A request is in running_ exactly while RUNNING and in waiting_ exactly while WAITING.
  if (r.state == RequestState::REQUEST_STATE_RUNNING) {
    if (auto p = std::find(running_.begin(), running_.end(), &r); p != running_.end()) running_.erase(p);
  } else if (auto w = std::find(waiting_.begin(), waiting_.end(), id); w != waiting_.end()) {
    waiting_.erase(w);
  }
  requests_.erase(it);
}

}  // namespace pagoda
