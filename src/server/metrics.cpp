#include "server/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace pagoda::server {

namespace {
std::vector<double> latency_bounds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
          0.75,  1.0,    2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 320.0};
}
void gauge(std::string& out, const char* name, const char* help, double v) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, help, v);
}
void counter(std::string& out, const char* name, const char* help, uint64_t v) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, v);
}
}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  ++buckets_[i];
  sum_ += v;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} histogram\n", name, help);
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += buckets_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cum);
  }
  cum += buckets_.back();
  out += fmt::format("{0}_bucket{{le=\"+Inf\"}} {1}\n{0}_sum {2}\n{0}_count {1}\n", name, cum, sum_);
}

Metrics::Metrics() : ttft_(latency_bounds()), itl_(latency_bounds()), e2e_(latency_bounds()) {}

void Metrics::engine_stats_set(const EngineStats& s, int32_t queued, const LoopSeconds& loop) {
  std::lock_guard lock(mu_);
  stats_ = s;
  loop_ = loop;
  queued_ = queued;
}
void Metrics::ttft_observe(double s) {
  std::lock_guard lock(mu_);
  ttft_.observe(s);
}
void Metrics::itl_observe(double s) {
  std::lock_guard lock(mu_);
  itl_.observe(s);
}
void Metrics::e2e_observe(double s, const char* finish_reason) {
  std::lock_guard lock(mu_);
  e2e_.observe(s);
  ++finished_[finish_reason];
}
void Metrics::tokens_add(uint64_t prompt, uint64_t cached_prompt, uint64_t generated) {
  std::lock_guard lock(mu_);
  prompt_tokens_ += prompt;
  cached_prompt_tokens_ += cached_prompt;
  generation_tokens_ += generated;
}
void Metrics::finished_count(const char* reason, uint64_t n) {
  std::lock_guard lock(mu_);
  finished_[reason] += n;
}
void StepObservations::clear() {
  ttft.clear();
  itl.clear();
  e2e.clear();
  prompt_tokens = cached_prompt_tokens = generated_tokens = 0;
}
void Metrics::observe(const StepObservations& o) {
  std::lock_guard lock(mu_);
  for (double v : o.ttft) ttft_.observe(v);
  for (double v : o.itl) itl_.observe(v);
  for (const auto& [v, reason] : o.e2e) {
    e2e_.observe(v);
    ++finished_[reason];
  }
  prompt_tokens_ += o.prompt_tokens;
  cached_prompt_tokens_ += o.cached_prompt_tokens;
  generation_tokens_ += o.generated_tokens;
}
void Metrics::response_count(int status) {
  std::lock_guard lock(mu_);
  ++responses_[status];
}
EngineStats Metrics::engine_stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}
LoopSeconds Metrics::loop_seconds() const {
  std::lock_guard lock(mu_);
  return loop_;
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  gauge(out, "pagoda_num_requests_running", "Sequences in the running batch.", stats_.running);
  gauge(out, "pagoda_num_requests_waiting", "Sequences waiting for admission (engine queue and server queue).",
        stats_.waiting + queued_);
  gauge(out, "pagoda_kv_blocks_in_use", "KV cache blocks held by live sequences.", stats_.kv_blocks_in_use);
  gauge(out, "pagoda_kv_blocks_total", "KV cache blocks in the pool.", stats_.kv_blocks_total);
  gauge(out, "pagoda_kv_running_blocks", "KV blocks in the tables of running sequences.", static_cast<double>(stats_.kv_running_blocks));
  gauge(out, "pagoda_kv_running_tokens", "Tokens whose K/V the running sequences' blocks hold.", static_cast<double>(stats_.kv_running_tokens));
  gauge(out, "pagoda_kv_page_size", "Tokens per KV block.", stats_.page_size);
  gauge(out, "pagoda_kv_cache_usage_ratio", "Fraction of KV cache blocks in use (0..1).",
        stats_.kv_blocks_total ? static_cast<double>(stats_.kv_blocks_in_use) / stats_.kv_blocks_total : 0.0);
  counter(out, "pagoda_prefix_cache_queries_total", "Prompt blocks looked up in the prefix cache.", stats_.prefix_queries);
  counter(out, "pagoda_prefix_cache_hits_total", "Prompt blocks found in the prefix cache.", stats_.prefix_hits);
  gauge(out, "pagoda_prefix_cache_hit_rate", "Prefix cache hits / queries since start.",
        stats_.prefix_queries ? static_cast<double>(stats_.prefix_hits) / static_cast<double>(stats_.prefix_queries) : 0.0);
  counter(out, "pagoda_num_preemptions_total", "Sequences preempted (KV freed, recomputed later).", stats_.preemptions);
  counter(out, "pagoda_engine_steps_total", "Engine steps run.", stats_.steps);
  counter(out, "pagoda_engine_step_tokens_total", "Tokens computed by engine steps (prefill and decode).", stats_.step_tokens);
  counter(out, "pagoda_engine_step_seqs_total", "Sequences in engine steps, summed over steps.", stats_.step_seqs);
  out += "# HELP pagoda_engine_step_seconds_total Wall time inside engine steps, by phase (forward: the model call).\n"
         "# TYPE pagoda_engine_step_seconds_total counter\n";
  for (size_t p = 0; p < kEnginePhases; ++p)
    out += fmt::format("pagoda_engine_step_seconds_total{{phase=\"{}\"}} {}\n", engine_phase_name(static_cast<EnginePhase>(p)),
                       stats_.phase_seconds[p]);
  out += "# HELP pagoda_engine_loop_seconds_total Engine-thread wall time outside steps, by phase.\n"
         "# TYPE pagoda_engine_loop_seconds_total counter\n";
  out += fmt::format("pagoda_engine_loop_seconds_total{{phase=\"commands\"}} {}\n", loop_.commands);
  out += fmt::format("pagoda_engine_loop_seconds_total{{phase=\"dispatch\"}} {}\n", loop_.dispatch);
  out += fmt::format("pagoda_engine_loop_seconds_total{{phase=\"stats\"}} {}\n", loop_.stats);
  counter(out, "pagoda_prompt_tokens_total", "Prompt tokens of admitted sequences.", prompt_tokens_);
  counter(out, "pagoda_prompt_tokens_cached_total", "Prompt tokens served from the prefix cache.", cached_prompt_tokens_);
  counter(out, "pagoda_generation_tokens_total", "Generated tokens.", generation_tokens_);
  out += "# HELP pagoda_request_finished_total Finished sequences by reason.\n# TYPE pagoda_request_finished_total counter\n";
  for (const char* r : {"stop", "length", "cancelled", "error"}) {
    auto it = finished_.find(r);
    out += fmt::format("pagoda_request_finished_total{{finished_reason=\"{}\"}} {}\n", r, it == finished_.end() ? 0 : it->second);
  }
  out += "# HELP pagoda_http_responses_total HTTP responses by status code.\n# TYPE pagoda_http_responses_total counter\n";
  for (auto [code, n] : responses_) out += fmt::format("pagoda_http_responses_total{{code=\"{}\"}} {}\n", code, n);
  ttft_.render(out, "pagoda_time_to_first_token_seconds", "Arrival to first generated token.");
  itl_.render(out, "pagoda_inter_token_latency_seconds", "Time between successive tokens of a sequence.");
  e2e_.render(out, "pagoda_e2e_request_latency_seconds", "Arrival to finish of a sequence.");
  return out;
}

}  // namespace pagoda::server
