#include "runtime/engine.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "core/error.hpp"

namespace pagoda {

namespace {
// log_softmax of `raw` at the chosen token plus the top-k alternatives.
SampledLogprobs logprobs_of(std::span<const float> raw, int32_t chosen, int32_t top_k) {
  float max_l = -INFINITY;
  for (float l : raw) max_l = std::max(max_l, l);
  double sum = 0.0;
  for (float l : raw) sum += std::exp(static_cast<double>(l) - max_l);
  const double lse = max_l + std::log(sum);
  SampledLogprobs out;
  out.chosen = {chosen, static_cast<float>(raw[static_cast<size_t>(chosen)] - lse)};
  if (top_k > 0) {
    std::vector<int32_t> idx(raw.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int32_t>(i);
    const size_t k = std::min(static_cast<size_t>(top_k), idx.size());
    std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), [&](int32_t a, int32_t b) {
      const float la = raw[static_cast<size_t>(a)], lb = raw[static_cast<size_t>(b)];
      return la > lb || (la == lb && a < b);
    });
    for (size_t i = 0; i < k; ++i) out.top.push_back({idx[i], static_cast<float>(raw[static_cast<size_t>(idx[i])] - lse)});
  }
  return out;
}

// Sampler::sample would reduce to argmax of the raw logits: temperature 0 and no penalty.
bool is_plain_greedy(const SamplingParams& p) {
  const bool repetition = p.repetition_penalty != 1.0f && p.penalty_last_n > 0;
  return p.temperature <= 0.0f && !repetition && p.presence_penalty == 0.0f && p.frequency_penalty == 0.0f;
}

// Adds the time since the previous lap to one phase's total.
class PhaseClock {
 public:
  explicit PhaseClock(std::array<double, kEnginePhases>& totals) : totals_(totals), last_(std::chrono::steady_clock::now()) {}
  void lap(EnginePhase p) {
    const auto now = std::chrono::steady_clock::now();
    totals_[static_cast<size_t>(p)] += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }

 private:
  std::array<double, kEnginePhases>& totals_;
  std::chrono::steady_clock::time_point last_;
};

uint64_t pick_hash_key(uint64_t k) {
  if (k != 0) return k;
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();  // keyed per process: hashes can't be precomputed
}
}  // namespace

const char* engine_phase_name(EnginePhase p) {
  switch (p) {
    case EnginePhase::ENGINE_PHASE_SCHEDULE: return "schedule";
    case EnginePhase::ENGINE_PHASE_BUILD_BATCH: return "build_batch";
    case EnginePhase::ENGINE_PHASE_FORWARD: return "forward";
    case EnginePhase::ENGINE_PHASE_SAMPLE: return "sample";
    case EnginePhase::ENGINE_PHASE_UPDATE: return "update";
    case EnginePhase::ENGINE_PHASE_EVENTS: return "events";
    case EnginePhase::ENGINE_PHASE_COUNT: break;
  }
  return "?";
}

Engine::Engine(Model& model, const Tokenizer* tokenizer, const EngineConfig& config)
    : model_(model),
      tokenizer_(tokenizer),
      pool_(static_cast<int32_t>(model.num_pages()), model.page_size(), pick_hash_key(config.hash_key)),
      scheduler_(config.scheduler, pool_) {}

void Engine::add(uint64_t id, std::vector<int32_t> prompt, const GenerationParams& params) {
  add(id, std::move(prompt), params, EngineRequestOptions{});
}

void Engine::add(uint64_t id, std::vector<int32_t> prompt, const GenerationParams& params, const EngineRequestOptions& options) {
  PAGODA_CHECK(options.top_logprobs >= 0 && options.top_logprobs <= EngineRequestOptions::kMaxTopLogprobs,
               "top_logprobs must be between 0 and {}", EngineRequestOptions::kMaxTopLogprobs);
  PAGODA_CHECK(params.max_tokens >= 1 && params.max_tokens <= INT32_MAX, "max_tokens must be at least 1");
  PAGODA_CHECK(options.detokenize || params.stop.empty(), "stop strings need the engine to detokenize");
  for (int32_t t : prompt)
    PAGODA_CHECK(t >= 0 && t < model_.config().vocab_size, "token id {} outside the vocabulary", t);
  Sampler sampler(params.sampling);  // validates the sampling parameters
  scheduler_.add(id, std::move(prompt), static_cast<int32_t>(params.max_tokens));
  Live live{params, std::move(sampler), nullptr, options};
  if (tokenizer_ && options.detokenize) live.stream = std::make_unique<TextStream>(*tokenizer_, params.stop);
  live_.emplace(id, std::move(live));
}

void Engine::cancel(uint64_t id) {
  scheduler_.finish(id);
  live_.erase(id);
}

void Engine::build_batch(const SchedulerOutput& out) {
  ForwardBatch& b = batch_;
  const int32_t P = model_.page_size();
  b.logit_rows.clear();
  int32_t max_pages = 1;
  size_t T = 0;
  for (const ScheduledSeq& s : out.seqs) {
    max_pages = std::max(max_pages, static_cast<int32_t>(s.request->blocks.size()));
    T += static_cast<size_t>(s.num_tokens);
  }
  b.max_pages_per_seq = max_pages;
  // Sized once, then written by index: per-element push_back showed at 1024 sequences.
  const size_t B = out.seqs.size();
  b.block_table.assign(B * static_cast<size_t>(max_pages), 0);
  b.tokens.resize(T);
  b.positions.resize(T);
  b.slot_mapping.resize(T);
  b.cu_seqlens_q.resize(B + 1);
  b.cu_seqlens_q[0] = 0;
  b.kv_lens.resize(B);
  size_t t = 0;
  for (size_t i = 0; i < B; ++i) {
    const ScheduledSeq& s = out.seqs[i];
    const Request& r = *s.request;
    std::copy(r.blocks.begin(), r.blocks.end(), b.block_table.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(max_pages)));
    for (int32_t p = s.start; p < s.start + s.num_tokens; ++p, ++t) {
      b.tokens[t] = r.tokens[static_cast<size_t>(p)];
      b.positions[t] = p;
      b.slot_mapping[t] = int64_t(r.blocks[static_cast<size_t>(p / P)]) * P + p % P;
    }
    b.cu_seqlens_q[i + 1] = static_cast<int32_t>(t);
    b.kv_lens[i] = s.start + s.num_tokens;
    if (s.sample) b.logit_rows.push_back(static_cast<int32_t>(t) - 1);
  }
}

// One row per sampled sequence, in logit-row order: its parameters, device seed, the position of
// the token it draws, and its penalty entries (what Sampler::sample would apply on the host).
void Engine::fill_device_sampling(const SchedulerOutput& out) {
  DeviceSampling& d = device_sampling_;
  d.rows.clear();
  d.penalties.clear();
  d.penalty_offsets.assign(1, 0);
  const int64_t V = model_.config().vocab_size;
  for (const ScheduledSeq& s : out.seqs) {
    if (!s.sample) continue;
    const Request& r = scheduler_.get(s.request_id);
    const Live& live = live_.at(s.request_id);
    const SamplingParams& p = live.sampler.params();
    DeviceSampleRow row;
    row.temperature = p.temperature;
    row.top_k = p.top_k;
    row.top_p = p.top_p;
    row.min_p = p.min_p;
    row.repetition_penalty = p.repetition_penalty;
    row.seed = live.sampler.device_seed();
    row.position = r.tokens.size();
    d.rows.push_back(row);
    for (const PenaltyEntry& e : penalty_entries(p, r.tokens, static_cast<size_t>(r.num_prompt_tokens), V))
      d.penalties.push_back({e.token, e.repetition, e.subtract});
    d.penalty_offsets.push_back(static_cast<int32_t>(d.penalties.size()));
  }
}

std::vector<EngineEvent> Engine::step() {
  std::vector<EngineEvent> events;
  PhaseClock clock(phase_seconds_);
  SchedulerOutput out = scheduler_.schedule();
  preemptions_ += out.preempted.size();
  clock.lap(EnginePhase::ENGINE_PHASE_SCHEDULE);
  if (out.empty()) return events;
  ++steps_;
  step_tokens_ += static_cast<uint64_t>(out.num_tokens);
  step_seqs_ += out.seqs.size();
  for (const auto& c : out.copies) model_.kv_copy_page(c.src, c.dst);
  build_batch(out);
  const size_t V = static_cast<size_t>(model_.config().vocab_size);
  // No row wants logprobs: a model that samples on its device skips the [B, V] copy (plain
  // argmax when every row is plain greedy, otherwise each row with its own parameters). The device
  // draws with its counter-based generator keyed by (seed, position), not the host sampler's RNG:
  // a request's tokens on the device path do not depend on its batch neighbours.
  bool all_greedy = !batch_.logit_rows.empty(), any_logprobs = false;
  for (const ScheduledSeq& s : out.seqs) {
    if (!s.sample) continue;
    const Live& live = live_.at(s.request_id);
    if (!is_plain_greedy(live.sampler.params())) all_greedy = false;
    if (live.options.logprobs) any_logprobs = true;
  }
  const bool device_sample = !all_greedy && !any_logprobs && !batch_.logit_rows.empty();
  if (device_sample) fill_device_sampling(out);
  clock.lap(EnginePhase::ENGINE_PHASE_BUILD_BATCH);
  greedy_ids_.resize(batch_.logit_rows.size());
  bool on_device = all_greedy && !any_logprobs && model_.try_forward_greedy(batch_, greedy_ids_.data());
  if (device_sample) on_device = model_.try_forward_sample(batch_, device_sampling_, greedy_ids_.data());
  if (!on_device) {
    logits_.resize(batch_.logit_rows.size() * V);
    model_.forward(batch_, logits_.data());
  }
  clock.lap(EnginePhase::ENGINE_PHASE_FORWARD);

  std::vector<int32_t> sampled;
  std::vector<uint64_t> sampled_ids;
  std::map<uint64_t, SampledLogprobs> sampled_logprobs;
  size_t row = 0;
  for (const ScheduledSeq& s : out.seqs) {
    if (!s.sample) continue;
    const Request& r = scheduler_.get(s.request_id);
    Live& live = live_.at(s.request_id);
    if (on_device) {
      sampled.push_back(greedy_ids_[row++]);
      sampled_ids.push_back(s.request_id);
      continue;
    }
    std::span<float> l(logits_.data() + row * V, V);
    ++row;
    if (live.options.logprobs) raw_row_.assign(l.begin(), l.end());  // sample() edits l in place
    sampled.push_back(live.sampler.sample(l, r.tokens, static_cast<size_t>(r.num_prompt_tokens)));
    sampled_ids.push_back(s.request_id);
    if (live.options.logprobs)
      sampled_logprobs[s.request_id] = logprobs_of(raw_row_, sampled.back(), live.options.top_logprobs);
  }
  clock.lap(EnginePhase::ENGINE_PHASE_SAMPLE);
  scheduler_.update(out, sampled);
  clock.lap(EnginePhase::ENGINE_PHASE_UPDATE);

  for (size_t i = 0; i < sampled.size(); ++i) {
    const uint64_t id = sampled_ids[i];
    const int32_t tok = sampled[i];
    const Request& r = scheduler_.get(id);
    Live& live = live_.at(id);
    EngineEvent ev;
    ev.id = id;
    ev.prompt_tokens = r.num_prompt_tokens;
    ev.cached_prompt_tokens = r.num_cached_prompt_tokens;
    const bool eos = !live.params.ignore_eos && tokenizer_ && tokenizer_->is_end_of_generation(tok);
    if (eos) {
      ev.finished = true;
      ev.finish = FinishReason::FINISH_REASON_STOP;
      if (live.stream) ev.text = live.stream->finish();
    } else {
      ev.tokens.push_back(tok);
      if (auto it = sampled_logprobs.find(id); it != sampled_logprobs.end()) ev.logprobs.push_back(std::move(it->second));
      if (live.stream) {
        ev.text = live.stream->push(tok);
        if (live.stream->stopped()) {
          ev.finished = true;
          ev.finish = FinishReason::FINISH_REASON_STOP;
        }
      }
      if (!ev.finished && r.num_generated() >= live.params.max_tokens) {
        ev.finished = true;
        ev.finish = FinishReason::FINISH_REASON_LENGTH;
        if (live.stream) ev.text += live.stream->finish();
      }
    }
    ev.generated_tokens = r.num_generated() - (eos ? 1 : 0);
    if (ev.finished) cancel(id);
    events.push_back(std::move(ev));
  }
  clock.lap(EnginePhase::ENGINE_PHASE_EVENTS);
  return events;
}

EngineStats Engine::stats() const {
  EngineStats s;
  s.running = scheduler_.num_running();
  s.waiting = scheduler_.num_waiting();
  s.kv_blocks_total = pool_.num_blocks();
  s.kv_blocks_in_use = pool_.num_in_use();
  s.page_size = model_.page_size();
  for (const Request* r : scheduler_.running()) {
    s.kv_running_blocks += static_cast<int64_t>(r->blocks.size());
    s.kv_running_tokens += r->num_computed_tokens;
  }
  s.prefix_queries = pool_.queries();
  s.prefix_hits = pool_.hits();
  s.steps = steps_;
  s.step_tokens = step_tokens_;
  s.step_seqs = step_seqs_;
  s.preemptions = preemptions_;
  s.phase_seconds = phase_seconds_;
  return s;
}

}  // namespace pagoda
