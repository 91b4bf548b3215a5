// A read-only bandwidth ceiling for the decode bench (see read_ceiling.cu).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace pagoda::bench {

// Reads bytes_each bytes (a multiple of 16) from each of a and b once; sink holds >= 4096 words of
// device memory (written only on a checksum that random data practically never gives). Plain launch.
cudaError_t read_two_launch(const void* a, const void* b, std::size_t bytes_each, unsigned* sink, int num_sms,
                            cudaStream_t stream);

}  // namespace pagoda::bench
