// A read-only bandwidth ceiling for the decode bench (see read_ceiling.cu).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace pagoda::bench {

// Reads bytes_each bytes (a multiple of 16) from each of a and b once; sink holds >= 4096 words of
// device memory (written only on a checksum that random data practically never gives). Plain launch.
cudaError_t read_two_launch(const void* a, const void* b, std::size_t bytes_each, unsigned* sink, int num_sms,
                            cudaStream_t stream);

// The same as a programmatic dependent (sm_90): ctas_per_sm CTAs of 256 threads per SM (4 lets two
// launches share an SM), the first pre_batches batches of 8 loads per thread issued before
// griddepcontrol.wait (READ_PRE_ALL: all of them, a chain of reads that never waits for one another).
constexpr int READ_PRE_ALL = 1 << 20;
cudaError_t read_two_launch_pdl(const void* a, const void* b, std::size_t bytes_each, unsigned* sink, int num_sms,
                                int ctas_per_sm, int pre_batches, cudaStream_t stream);

// The chained read (every load before the wait) with a split decode's tail after it: ctas_per_sm CTAs of
// 256 threads per SM in merge groups of `group` (<= 16) CTAs; tail 0: none, 1: combine + partial store,
// 2: + the ticket, 3: + the last CTA's merge, 4: a cluster of `group` (<= 8) CTAs merged through distributed
// shared memory, 5: the partials summed by vector reductions (read_merge_ceiling.cu); pad_smem: dynamic
// shared memory per CTA, to keep launches apart.
// workspace: read_merge_workspace_bytes, zeroed once; out: >= max(4096, workspace / 4) floats.
std::size_t read_merge_workspace_bytes(int num_sms, int ctas_per_sm, int group);
cudaError_t read_merge_launch_pdl(const void* a, const void* b, std::size_t bytes_each, void* workspace, float* out,
                                  int num_sms, int ctas_per_sm, int group, int tail, int pad_smem,
                                  cudaStream_t stream);

}  // namespace pagoda::bench
