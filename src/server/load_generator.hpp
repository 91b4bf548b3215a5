// The load generator behind `pagoda bench serve`: client threads (Boost.Beast, keep-alive) send
// streaming /v1/completions requests with token-id prompts of chosen lengths (fixed, or drawn from
// a lognormal like ShareGPT's) and ignore_eos, at a Poisson rate or a fixed concurrency, and time
// each token as it arrives (time to first token, inter-token latency, end-to-end). It measures; it
// does not judge.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pagoda::server {

struct LoadConfig {
  std::string url = "http://127.0.0.1:8080";  // http://host[:port]
  std::string api_key;
  std::string model;       // "" = the first model /v1/models lists
  double rate = 0;         // requests/s, Poisson arrivals; 0 = closed loop at `concurrency`
  int32_t concurrency = 0; // closed loop: requests in flight; with rate: a cap (0 = 256)
  int32_t num_requests = 64;
  int32_t prompt_len = 128;
  int32_t output_len = 64;
  bool lognormal = false;  // lengths ~ lognormal with these medians and `sigma`
  double sigma = 0.7;
  uint64_t seed = 1;
  double timeout_s = 600;
};

struct LoadReport {
  std::string model;
  int32_t completed = 0, failed = 0;
  std::string first_error;
  double duration_s = 0;
  int64_t input_tokens = 0, output_tokens = 0;
  std::vector<double> ttft, itl, tpot, e2e;  // seconds; itl per token gap, tpot per request
};

LoadReport load_run(const LoadConfig& config);
double percentile(std::vector<double> v, double p);  // p in [0, 100]; 0 for an empty list

}  // namespace pagoda::server
