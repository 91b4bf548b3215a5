// CPU parallelism: one process-wide thread count used by every parallel loop (OpenMP underneath).
#pragma once

#include <cstdint>

namespace pagoda {

int threads_get();
void threads_set(int n);  // n <= 0 means all hardware threads
int threads_hardware();

}  // namespace pagoda
