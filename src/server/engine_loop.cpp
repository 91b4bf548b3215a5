#include "server/engine_loop.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace pagoda::server {

void RequestChannel::push(ChannelItem item) {
  if (push_quiet(std::move(item))) notify_();
}

bool RequestChannel::push_quiet(ChannelItem item) {
  std::lock_guard lock(mu_);
  items_.push_back(std::move(item));
  return !std::exchange(notified_, true);
}

std::vector<ChannelItem> RequestChannel::take() {
  // The reader allocates the next batch's room, so the engine thread's push usually does not.
  std::vector<ChannelItem> next;
  next.reserve(4);
  std::lock_guard lock(mu_);
  notified_ = false;
  next.swap(items_);
  return next;
}

EngineLoop::EngineLoop(Engine& engine, Metrics& metrics, int32_t max_outstanding)
    : engine_(engine), metrics_(metrics), max_outstanding_(max_outstanding) {
  thread_ = std::thread([this] { run(); });
}

EngineLoop::~EngineLoop() { stop(); }

SubmitResult EngineLoop::submit(SubmitRequest req, uint64_t* key) {
  const int64_t count = static_cast<int64_t>(req.prompts.size()) * req.n;
  if (draining_) return SubmitResult::SUBMIT_RESULT_DRAINING;
  int32_t cur = outstanding_.load();
  do {
    if (cur + count > max_outstanding_) return SubmitResult::SUBMIT_RESULT_BUSY;
  } while (!outstanding_.compare_exchange_weak(cur, cur + static_cast<int32_t>(count)));
  std::lock_guard lock(mu_);
  *key = next_key_++;
  commands_.push_back(Command{*key, false, std::move(req), seconds_now()});
  cv_.notify_one();
  return SubmitResult::SUBMIT_RESULT_OK;
}

void EngineLoop::notify_via(Poster post) {
  std::lock_guard lock(poster_mu_);
  poster_ = std::move(post);
}

void EngineLoop::notify_flush() {
  if (to_notify_.empty()) return;
  std::lock_guard lock(poster_mu_);
  if (!poster_) {
    for (const auto& ch : to_notify_) ch->notify();
    to_notify_.clear();
    return;
  }
  poster_([chs = std::exchange(to_notify_, {})] {
    for (const auto& ch : chs) ch->notify();
  });
  to_notify_.reserve(64);
}

void EngineLoop::cancel(uint64_t key) {
  std::lock_guard lock(mu_);
  Command c;
  c.key = key;
  c.cancel = true;
  commands_.push_back(std::move(c));
  cv_.notify_one();
}

void EngineLoop::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void EngineLoop::run() {
  for (;;) {
    std::deque<Command> cmds;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !commands_.empty() || engine_.has_work() || stopping_; });
      if (stopping_ && commands_.empty() && !engine_.has_work()) break;
      cmds.swap(commands_);
    }
    const double t0 = seconds_now();
    for (Command& c : cmds) apply(c);
    const double t1 = seconds_now();
    loop_seconds_.commands += t1 - t0;
    if (!engine_.has_work()) {
      metrics_.engine_stats_set(engine_.stats(), deferred_, loop_seconds_);
      continue;
    }
    std::vector<EngineEvent> events;
    try {
      events = engine_.step();
    } catch (const std::exception& e) {
      // A failed step leaves no request in a known state: fail them all, free their blocks.
      std::vector<uint64_t> keys;
      for (const auto& [k, g] : groups_) keys.push_back(k);
      for (uint64_t k : keys) group_fail(k, fmt::format("internal error: {}", e.what()));
    }
    const double now = seconds_now();
    observed_.clear();
    for (EngineEvent& ev : events) on_event(ev, now);
    metrics_.observe(observed_);
    notify_flush();
    const double t2 = seconds_now();
    loop_seconds_.dispatch += t2 - now;
    EngineStats st = engine_.stats();
    loop_seconds_.stats += seconds_now() - t2;
    metrics_.engine_stats_set(st, deferred_, loop_seconds_);
  }
}

uint64_t EngineLoop::add_seq(uint64_t key, Group& g, int32_t index, std::vector<int32_t> prompt, const GenerationParams& gen) {
  const uint64_t id = next_engine_id_++;
  engine_.add(id, std::move(prompt), gen, g.options);
  seqs_[id] = Seq{key, index, g.arrival};
  g.live.push_back(id);
  return id;
}

void EngineLoop::apply(Command& c) {
  if (c.cancel) {
    group_cancel(c.key);
    return;
  }
  SubmitRequest& r = c.req;
  Group& g = groups_[c.key];
  g.channel = r.channel;
  g.options = r.options;
  g.arrival = c.arrival;
  g.remaining = static_cast<int32_t>(r.prompts.size()) * r.n;
  try {
    for (size_t p = 0; p < r.prompts.size(); ++p) {
      uint64_t leader = 0;
      for (int32_t j = 0; j < r.n; ++j) {
        const int32_t index = static_cast<int32_t>(p) * r.n + j;
        GenerationParams gen = r.gen;
        if (gen.sampling.has_seed) gen.sampling.seed += static_cast<uint64_t>(index);
        if (j == 0) {
          leader = add_seq(c.key, g, index, r.prompts[p], gen);
        } else {
          g.siblings[leader].push_back(Pending{index, r.prompts[p], gen});
          ++deferred_;
        }
      }
    }
  } catch (const std::exception& e) {
    group_fail(c.key, e.what(), 400);  // the engine refused it (validation happens before, so this is rare)
  }
}

void EngineLoop::release_siblings(Group& g, uint64_t leader) {
  auto it = g.siblings.find(leader);
  if (it == g.siblings.end()) return;
  std::vector<Pending> waiting = std::move(it->second);
  g.siblings.erase(it);
  deferred_ -= static_cast<int32_t>(waiting.size());
  const uint64_t key = seqs_.at(leader).key;
  for (Pending& p : waiting) add_seq(key, g, p.index, std::move(p.prompt), p.gen);
}

void EngineLoop::on_event(EngineEvent& ev, double now) {
  auto it = seqs_.find(ev.id);
  if (it == seqs_.end()) return;
  Seq& s = it->second;
  const uint64_t key = s.key;
  Group& g = groups_.at(key);
  if (s.first) {
    s.first = false;
    observed_.prompt_tokens += static_cast<uint64_t>(ev.prompt_tokens);
    observed_.cached_prompt_tokens += static_cast<uint64_t>(ev.cached_prompt_tokens);
    if (!ev.tokens.empty()) observed_.ttft.push_back(now - s.arrival);
    try {
      release_siblings(g, ev.id);
    } catch (const std::exception& e) {
      group_fail(key, e.what());
      return;
    }
  } else if (!ev.tokens.empty()) {
    observed_.itl.push_back(now - s.last);
  }
  if (!ev.tokens.empty()) s.last = now;
  observed_.generated_tokens += ev.tokens.size();
  const bool finished = ev.finished;
  const int32_t index = s.index;
  if (finished) observed_.e2e.emplace_back(now - s.arrival, ev.finish == FinishReason::FINISH_REASON_STOP ? "stop" : "length");
  if (!finished) {  // the common case: no reference count traffic unless a wake-up is due
    if (g.channel->push_quiet(ChannelItem{index, std::move(ev), {}, 0})) to_notify_.push_back(g.channel);
    return;
  }
  std::shared_ptr<RequestChannel> ch = g.channel;
  seq_done(ev.id);  // may erase the group
  if (ch->push_quiet(ChannelItem{index, std::move(ev), {}, 0})) to_notify_.push_back(std::move(ch));
}

void EngineLoop::seq_done(uint64_t id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return;
  const uint64_t key = it->second.key;
  seqs_.erase(it);
  Group& g = groups_.at(key);
  g.live.erase(std::remove(g.live.begin(), g.live.end(), id), g.live.end());
  --g.remaining;
  --outstanding_;
  if (g.remaining == 0) groups_.erase(key);
}

void EngineLoop::group_end(uint64_t key, const std::string& error, int status) {
  auto it = groups_.find(key);
  if (it == groups_.end()) return;
  Group& g = it->second;
  for (uint64_t id : g.live) {
    engine_.cancel(id);
    seqs_.erase(id);
  }
  for (const auto& [leader, waiting] : g.siblings) deferred_ -= static_cast<int32_t>(waiting.size());
  metrics_.finished_count(error.empty() ? "cancelled" : "error", static_cast<uint64_t>(g.remaining));
  outstanding_ -= g.remaining;
  std::shared_ptr<RequestChannel> ch = g.channel;
  groups_.erase(it);
  if (!error.empty()) ch->push(ChannelItem{-1, {}, error, status});
}

void EngineLoop::group_fail(uint64_t key, const std::string& error, int status) {
  group_end(key, error.empty() ? "failed" : error, status);
}
void EngineLoop::group_cancel(uint64_t key) { group_end(key, "", 0); }

}  // namespace pagoda::server
