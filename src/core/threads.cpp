// Thread-count control over OpenMP.
#include "core/threads.hpp"

#include <omp.h>

#include <thread>

namespace pagoda {

namespace {
int g_threads = 0;
}

int threads_hardware() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

int threads_get() { return g_threads > 0 ? g_threads : threads_hardware(); }

void threads_set(int n) {
  g_threads = n > 0 ? n : threads_hardware();
  omp_set_num_threads(g_threads);
}

}  // namespace pagoda
