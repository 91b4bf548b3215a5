// Token sampling on the device for R rows of logits: penalties -> temperature -> top-k -> top-p ->
// min-p -> draw, the semantics of runtime/sampler.cpp (exact cut points, ties by lower id), with a
// counter-based draw. Promises: launches only (graph capturable, no allocation, no host sync); a
// row's result depends only on its own logits, parameters, seed and position (batch invariant).
// Does not: compute logprobs, or reproduce the host sampler's mt19937_64 draws.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace pagoda::cuda {

// Per row, in device memory.
struct SampleRowParams {
  float inv_temperature = 0.0f;  // 1 / temperature (rounded in float, as the host does); 0: greedy
  int32_t top_k = 0;             // <= 0: off
  float top_p = 1.0f;            // >= 1: off
  float min_p = 0.0f;            // <= 0: off
  float repetition_penalty = 1.0f;
  int32_t penalty_begin = 0;  // this row's entries are penalties[penalty_begin, penalty_end)
  int32_t penalty_end = 0;
  int32_t pad = 0;
  uint64_t seed = 0;      // Philox key: the request's seed
  uint64_t position = 0;  // Philox counter: the position of the token being drawn
};

// One token's adjustment: l = l > 0 ? l / rp : l * rp when `repetition`, then l -= subtract.
// At most one entry per (row, token), so rows apply them without atomics.
struct SamplePenalty {
  int32_t token = 0;
  int32_t repetition = 0;
  float subtract = 0.0f;
};

// logits [R, V] fp32, modified in place by the penalties. ids [R] the drawn tokens.
// probs: null, or [R, V] fp32 receiving each row's final distribution (renormalised over the kept
// tokens, 0 elsewhere; greedy rows get one 1) -- two more passes, for tests.
// V < 2^24. Draw: the exponential race argmin_i E_i / p_i over the kept tokens, E_i = -log(1 - u_i),
// u_i 64 bits of Philox4x32-10 keyed by `seed` at counter (token id / 2, 0, position): exact in
// distribution, and independent of which rows share the launch.
void sample_rows(float* logits, int64_t R, int64_t V, const SampleRowParams* params, const SamplePenalty* penalties,
                 int32_t* ids, float* probs, cudaStream_t stream);

}  // namespace pagoda::cuda
