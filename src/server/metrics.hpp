// Server metrics in Prometheus text format: gauges read from the engine's stats, counters and
// latency histograms recorded by the engine thread (time to first token, inter-token latency,
// end-to-end latency) and by HTTP threads (responses by status). Thread-safe; rendering takes a
// consistent snapshot under one lock. It does not decide what to measure when: callers do.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/engine.hpp"

namespace pagoda::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  void render(std::string& out, const std::string& name, const std::string& help) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> buckets_;  // per bound, not cumulative; the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// What one engine step observed, recorded under one lock instead of one per event.
struct StepObservations {
  std::vector<double> ttft, itl;
  std::vector<std::pair<double, const char*>> e2e;  // latency, finish reason
  uint64_t prompt_tokens = 0, cached_prompt_tokens = 0, generated_tokens = 0;
  void clear();
};

// The engine thread's time outside Engine::step, summed since start.
struct LoopSeconds {
  double commands = 0;  // applying submitted requests and cancellations
  double dispatch = 0;  // handing each step's events to their requests' channels
  double stats = 0;     // reading the engine's stats for these metrics
};

class Metrics {
 public:
  Metrics();
  // Engine thread.
  void engine_stats_set(const EngineStats& s, int32_t queued, const LoopSeconds& loop = {});
  void ttft_observe(double s);
  void itl_observe(double s);
  void e2e_observe(double s, const char* finish_reason);
  void tokens_add(uint64_t prompt, uint64_t cached_prompt, uint64_t generated);
  void finished_count(const char* reason, uint64_t n);  // sequences that ended without a latency sample
  void observe(const StepObservations& o);
  // HTTP threads.
  void response_count(int status);

  std::string render() const;
  EngineStats engine_stats() const;
  LoopSeconds loop_seconds() const;

 private:
  mutable std::mutex mu_;
  EngineStats stats_;
  LoopSeconds loop_;
  int32_t queued_ = 0;
  Histogram ttft_, itl_, e2e_;
  uint64_t prompt_tokens_ = 0, cached_prompt_tokens_ = 0, generation_tokens_ = 0;
  std::map<std::string, uint64_t> finished_;
  std::map<int, uint64_t> responses_;
};

}  // namespace pagoda::server
