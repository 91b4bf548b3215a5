// Scheduler: token budgets, chunked prefill mixed with decode, sequence limits, preemption and
// recompute, prefix-cache reuse, cancellation — and a randomized simulation in which a fake model
// (next token = a hash of the whole prefix) must give every request exactly the tokens it gets
// when run alone, however it was batched, chunked or preempted.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "core/error.hpp"
#include "sched/scheduler.hpp"

namespace pagoda {
namespace {

std::vector<int32_t> seq(int32_t start, int32_t n) {
  std::vector<int32_t> v;
  for (int32_t i = 0; i < n; ++i) v.push_back(start + i);
  return v;
}

// The fake model: the next token depends on every token before it.
int32_t fake_next(const std::vector<int32_t>& tokens) {
  uint64_t h = 1469598103934665603ull;
  for (int32_t t : tokens) h = (h ^ static_cast<uint64_t>(t)) * 1099511628211ull;
  return static_cast<int32_t>(h % 1000);
}

// Runs one step: checks the schedule is consistent with each request's state, "computes" it and
// samples with the fake model.
void step(Scheduler& s, std::map<uint64_t, int>* finished_at = nullptr, int now = 0) {
  SchedulerOutput out = s.schedule();
  std::vector<int32_t> sampled;
  for (const ScheduledSeq& q : out.seqs) {
    const Request& r = s.get(q.request_id);
    EXPECT_EQ(q.start, r.num_computed_tokens);
    EXPECT_LE(q.start + q.num_tokens, static_cast<int32_t>(r.tokens.size()));
    const int32_t P = s.pool().block_size();
    EXPECT_GE(static_cast<int32_t>(r.blocks.size()) * P, q.start + q.num_tokens) << "blocks not allocated";
    if (q.sample) sampled.push_back(fake_next(r.tokens));
  }
  EXPECT_LE(out.num_tokens, s.config().max_num_batched_tokens);
  s.update(out, sampled);
  for (const ScheduledSeq& q : out.seqs) {
    const Request* r = s.find(q.request_id);
    if (r && q.sample && r->num_generated() >= r->max_new_tokens) {
      if (finished_at) (*finished_at)[r->id] = now;
      s.finish(r->id);
    }
  }
  s.pool().check_invariants();
}

std::vector<int32_t> run_alone(const std::vector<int32_t>& prompt, int32_t max_new) {
  std::vector<int32_t> t = prompt;
  for (int32_t i = 0; i < max_new; ++i) t.push_back(fake_next(t));
  return std::vector<int32_t>(t.begin() + static_cast<std::ptrdiff_t>(prompt.size()), t.end());
}

TEST(Scheduler, ChunkedPrefillThenDecode) {
  KvBlockPool pool(64, 4, 1);
  SchedulerConfig c;
  c.max_num_batched_tokens = 8;
  Scheduler s(c, pool);
  s.add(1, seq(0, 20), 3);
  SchedulerOutput a = s.schedule();
  ASSERT_EQ(a.seqs.size(), 1u);
  EXPECT_EQ(a.seqs[0].num_tokens, 8);
  EXPECT_FALSE(a.seqs[0].sample);
  s.update(a, {});
  SchedulerOutput b = s.schedule();
  EXPECT_EQ(b.seqs[0].start, 8);
  s.update(b, {});
  SchedulerOutput c3 = s.schedule();
  EXPECT_EQ(c3.seqs[0].num_tokens, 4);
  EXPECT_TRUE(c3.seqs[0].sample);
  s.update(c3, {42});
  SchedulerOutput d = s.schedule();  // decode: one token
  EXPECT_EQ(d.seqs[0].num_tokens, 1);
  EXPECT_EQ(d.seqs[0].start, 20);
  EXPECT_TRUE(d.seqs[0].sample);
}

TEST(Scheduler, DecodeAndPrefillShareAStep) {
  KvBlockPool pool(64, 4, 1);
  SchedulerConfig c;
  c.max_num_batched_tokens = 16;
  Scheduler s(c, pool);
  s.add(1, seq(0, 10), 5);
  step(s);  // prefill of 1
  s.add(2, seq(100, 30), 5);
  SchedulerOutput out = s.schedule();
  ASSERT_EQ(out.seqs.size(), 2u);
  EXPECT_EQ(out.seqs[0].request_id, 1u);
  EXPECT_EQ(out.seqs[0].num_tokens, 1);  // decode
  EXPECT_EQ(out.seqs[1].request_id, 2u);
  EXPECT_EQ(out.seqs[1].num_tokens, 15);  // the rest of the budget: a prefill chunk
}

TEST(Scheduler, RespectsMaxNumSeqs) {
  KvBlockPool pool(64, 4, 1);
  SchedulerConfig c;
  c.max_num_seqs = 2;
  Scheduler s(c, pool);
  for (uint64_t i = 0; i < 4; ++i) s.add(i, seq(int32_t(i) * 10, 5), 4);
  SchedulerOutput out = s.schedule();
  EXPECT_EQ(out.seqs.size(), 2u);
  EXPECT_EQ(s.num_waiting(), 2);
}

TEST(Scheduler, RejectsRequestsLargerThanTheCache) {
  KvBlockPool pool(4, 4, 1);
  Scheduler s(SchedulerConfig{}, pool);
  EXPECT_THROW(s.add(1, seq(0, 10), 7), Error);  // 17 > 16
  EXPECT_NO_THROW(s.add(2, seq(0, 10), 6));
  EXPECT_THROW(s.add(3, {}, 4), Error);
  EXPECT_THROW(s.add(2, seq(0, 3), 4), Error);  // duplicate id
}

TEST(Scheduler, PreemptsTheNewestWhenBlocksRunOutAndRecomputes) {
  KvBlockPool pool(6, 4, 1);  // 24 tokens
  SchedulerConfig c;
  c.enable_prefix_caching = false;
  Scheduler s(c, pool);
  s.add(1, seq(0, 8), 8);    // needs up to 16 tokens
  s.add(2, seq(50, 8), 8);   // needs up to 16 tokens: both cannot finish together
  std::map<uint64_t, int> done;
  bool saw_preemption = false;
  for (int i = 0; i < 100 && s.has_work(); ++i) {
    step(s, &done, i);
    if (const Request* r = s.find(2); r && r->num_preemptions > 0) saw_preemption = true;
  }
  EXPECT_FALSE(s.has_work());
  EXPECT_TRUE(saw_preemption);
  EXPECT_LT(done[1], done[2]);  // the older request kept running
  EXPECT_EQ(pool.num_available(), 6);
}

TEST(Scheduler, ReusesCachedPrefixBlocks) {
  KvBlockPool pool(32, 4, 1);
  Scheduler s(SchedulerConfig{}, pool);
  std::vector<int32_t> system = seq(0, 16);
  std::vector<int32_t> a = system, b = system;
  a.push_back(900);
  b.push_back(901);
  s.add(1, a, 2);
  step(s);
  s.add(2, b, 2);
  SchedulerOutput out = s.schedule();
  ASSERT_EQ(out.seqs.size(), 2u);
  EXPECT_EQ(out.seqs[1].start, 16);  // four cached blocks reused
  EXPECT_EQ(out.seqs[1].num_tokens, 1);
  EXPECT_EQ(s.get(2).num_cached_prompt_tokens, 16);
  EXPECT_EQ(s.get(2).blocks[0], s.get(1).blocks[0]);  // shared, not copied
  EXPECT_EQ(pool.ref_count(s.get(1).blocks[0]), 2);
}

TEST(Scheduler, FullyCachedPromptStillComputesItsLastToken) {
  KvBlockPool pool(32, 4, 1);
  Scheduler s(SchedulerConfig{}, pool);
  s.add(1, seq(0, 8), 1);
  step(s);  // computes and publishes two blocks, then finishes (max 1 token)
  EXPECT_EQ(s.num_running(), 0);
  s.add(2, seq(0, 8), 1);
  SchedulerOutput out = s.schedule();
  ASSERT_EQ(out.seqs.size(), 1u);
  EXPECT_EQ(out.seqs[0].start, 4);  // one block reused, the last block recomputed
  EXPECT_EQ(out.seqs[0].num_tokens, 4);
  EXPECT_TRUE(out.seqs[0].sample);
}

TEST(Scheduler, CancellationFreesBlocksAtOnce) {
  KvBlockPool pool(16, 4, 1);
  Scheduler s(SchedulerConfig{}, pool);
  s.add(1, seq(0, 30), 10);
  step(s);
  EXPECT_GT(pool.num_in_use(), 0);
  s.finish(1);
  EXPECT_EQ(pool.num_in_use(), 0);
  EXPECT_FALSE(s.has_work());
  pool.check_invariants();
}

// Random arrivals, budgets and a tight cache: every request's tokens equal its solo run.
TEST(Scheduler, RandomizedBatchingEqualsRunningAlone) {
  int64_t total_requests = 0, total_preemptions = 0, total_cache_hits = 0;
  for (int trial = 0; trial < 20; ++trial) {
    std::mt19937 rng(trial);
    KvBlockPool pool(std::uniform_int_distribution<int32_t>(12, 40)(rng), 4, 3);
    SchedulerConfig c;
    c.max_num_batched_tokens = std::uniform_int_distribution<int32_t>(1, 32)(rng);
    c.max_num_seqs = std::uniform_int_distribution<int32_t>(1, 8)(rng);
    c.enable_prefix_caching = trial % 2 == 0;
    Scheduler s(c, pool);
    std::map<uint64_t, std::vector<int32_t>> prompts;
    std::map<uint64_t, int32_t> max_new;
    std::map<uint64_t, std::vector<int32_t>> outputs;
    uint64_t next_id = 0;
    // One step with the fake model; finished requests record their output. False: nothing ran.
    auto run_step = [&]() {
      SchedulerOutput out = s.schedule();
      total_preemptions += static_cast<int64_t>(out.preempted.size());
      std::vector<int32_t> sampled;
      for (const ScheduledSeq& q : out.seqs)
        if (q.sample) sampled.push_back(fake_next(s.get(q.request_id).tokens));
      s.update(out, sampled);
      for (const ScheduledSeq& q : out.seqs) {
        const Request* r = s.find(q.request_id);
        if (r && q.sample && r->num_generated() >= r->max_new_tokens) {
          outputs[r->id] = std::vector<int32_t>(r->tokens.begin() + r->num_prompt_tokens, r->tokens.end());
          s.finish(r->id);
        }
      }
      return !out.empty();
    };
    for (int t = 0; t < 400; ++t) {
      if (next_id < 30 && std::uniform_int_distribution<int>(0, 2)(rng) == 0) {
        const int32_t shared = std::uniform_int_distribution<int32_t>(0, 2)(rng);  // common prefixes
        std::vector<int32_t> p = seq(shared * 100, 8);
        const int32_t extra = std::uniform_int_distribution<int32_t>(1, 12)(rng);
        for (int32_t k = 0; k < extra; ++k) p.push_back(std::uniform_int_distribution<int32_t>(0, 999)(rng));
        const int32_t mn = std::uniform_int_distribution<int32_t>(1, 12)(rng);
        if (int64_t(p.size()) + mn > int64_t(pool.num_blocks()) * 4) continue;
        prompts[next_id] = p;
        max_new[next_id] = mn;
        s.add(next_id, p, mn);
        ++next_id;
      }
      run_step();
      ASSERT_NO_THROW(pool.check_invariants());
    }
    for (int t = 0; t < 2000 && s.has_work(); ++t) {
      ASSERT_TRUE(run_step()) << "scheduler stalled with work queued (trial " << trial << ")";
    }
    EXPECT_FALSE(s.has_work());
    total_requests += static_cast<int64_t>(prompts.size());
    total_cache_hits += static_cast<int64_t>(pool.hits());
    for (auto& [id, p] : prompts) EXPECT_EQ(outputs[id], run_alone(p, max_new[id])) << "trial " << trial << " request " << id;
    EXPECT_EQ(pool.num_in_use(), 0);
  }
  // The simulation must actually exercise batching under pressure.
  EXPECT_GT(total_requests, 200);
  EXPECT_GT(total_preemptions, 10);
  EXPECT_GT(total_cache_hits, 10);
  RecordProperty("preemptions", static_cast<int>(total_preemptions));
}

// running() lists exactly the RUNNING requests in admission order, and every scheduled sequence
// points at its own request, through admissions, preemptions and finishes in any position.
TEST(Scheduler, RunningListAndScheduledPointersFollowTheRequests) {
  KvBlockPool pool(10, 4, 1);  // 40 tokens: tight enough to preempt
  SchedulerConfig c;
  c.max_num_batched_tokens = 16;
  c.max_num_seqs = 6;
  Scheduler s(c, pool);
  std::vector<uint64_t> admitted;  // admission order, as the test sees it
  for (uint64_t id = 0; id < 8; ++id) s.add(id, seq(static_cast<int32_t>(id) * 10, 3), 9);
  auto check = [&](const SchedulerOutput& out) {
    for (const ScheduledSeq& q : out.seqs) EXPECT_EQ(q.request, &s.get(q.request_id));
    std::vector<uint64_t> running;
    for (const Request* r : s.running()) {
      EXPECT_EQ(r->state, RequestState::REQUEST_STATE_RUNNING);
      EXPECT_EQ(r, &s.get(r->id));
      running.push_back(r->id);
    }
    EXPECT_EQ(static_cast<int32_t>(running.size()), s.num_running());
    // Admission order: each running id appears in the order it was (last) admitted.
    std::vector<uint64_t> expect;
    for (uint64_t id : admitted)
      if (std::find(running.begin(), running.end(), id) != running.end()) expect.push_back(id);
    EXPECT_EQ(running, expect);
  };
  int preemptions = 0;
  for (int t = 0; t < 200 && s.has_work(); ++t) {
    const std::vector<const Request*> before(s.running().begin(), s.running().end());
    SchedulerOutput out = s.schedule();
    preemptions += static_cast<int>(out.preempted.size());
    for (uint64_t id : out.preempted) admitted.erase(std::find(admitted.begin(), admitted.end(), id));
    for (const Request* r : s.running())
      if (std::find(before.begin(), before.end(), r) == before.end()) admitted.push_back(r->id);
    check(out);
    std::vector<int32_t> sampled;
    for (const ScheduledSeq& q : out.seqs)
      if (q.sample) sampled.push_back(fake_next(q.request->tokens));
    s.update(out, sampled);
    if (t == 3 && s.num_running() >= 3) {  // finish one from the middle of the running list
      const uint64_t mid = s.running()[1]->id;
      s.finish(mid);
      admitted.erase(std::find(admitted.begin(), admitted.end(), mid));
    }
    if (const Request* w = s.find(7); t == 4 && w && w->state == RequestState::REQUEST_STATE_WAITING) s.finish(7);  // a waiting one
    for (const ScheduledSeq& q : out.seqs) {
      const Request* r = s.find(q.request_id);
      if (r && q.sample && r->num_generated() >= r->max_new_tokens) {
        s.finish(r->id);
        admitted.erase(std::find(admitted.begin(), admitted.end(), q.request_id));
      }
    }
    check(SchedulerOutput{});
    ASSERT_NO_THROW(pool.check_invariants());
  }
  EXPECT_FALSE(s.has_work());
  EXPECT_GT(preemptions, 0);
  EXPECT_EQ(pool.num_in_use(), 0);
}

// The serving sizes the GPU runs at: 1024 sequences decode together, each step schedules all of
// them, and every output equals its run alone.
TEST(Scheduler, ThousandSequencesDecodeInOneBatch) {
  const int32_t C = 1024, P = 16, prompt = 20, max_new = 12;
  KvBlockPool pool(C * ((prompt + max_new + P - 1) / P), P, 9);
  SchedulerConfig c;
  c.max_num_batched_tokens = 8192;
  c.max_num_seqs = C;
  Scheduler s(c, pool);
  std::mt19937 rng(11);
  std::vector<std::vector<int32_t>> prompts(C);
  for (int32_t i = 0; i < C; ++i) {
    for (int32_t k = 0; k < prompt; ++k) prompts[static_cast<size_t>(i)].push_back(std::uniform_int_distribution<int32_t>(0, 999)(rng));
    s.add(static_cast<uint64_t>(i), prompts[static_cast<size_t>(i)], max_new);
  }
  std::map<uint64_t, std::vector<int32_t>> outputs;
  int decode_steps = 0;
  for (int t = 0; t < 100 && s.has_work(); ++t) {
    SchedulerOutput out = s.schedule();
    EXPECT_TRUE(out.preempted.empty());
    if (out.num_tokens == C && static_cast<int32_t>(out.seqs.size()) == C) ++decode_steps;
    // The token budget covers a decode token for every running sequence: none is left out.
    EXPECT_EQ(static_cast<int32_t>(out.seqs.size()), s.num_running()) << "step " << t;
    std::vector<int32_t> sampled;
    for (const ScheduledSeq& q : out.seqs)
      if (q.sample) sampled.push_back(fake_next(q.request->tokens));
    s.update(out, sampled);
    for (const ScheduledSeq& q : out.seqs) {
      const Request& r = s.get(q.request_id);
      if (q.sample && r.num_generated() >= r.max_new_tokens) {
        outputs[r.id] = std::vector<int32_t>(r.tokens.begin() + r.num_prompt_tokens, r.tokens.end());
        s.finish(r.id);
      }
    }
  }
  EXPECT_FALSE(s.has_work());
  EXPECT_GE(decode_steps, max_new - 4);  // admission takes 3 steps (20480 prompt tokens / 8192)
  ASSERT_EQ(static_cast<int32_t>(outputs.size()), C);
  for (int32_t i = 0; i < C; ++i)
    EXPECT_EQ(outputs[static_cast<uint64_t>(i)], run_alone(prompts[static_cast<size_t>(i)], max_new)) << "request " << i;
  EXPECT_EQ(pool.num_in_use(), 0);
}

}  // namespace
}  // namespace pagoda
