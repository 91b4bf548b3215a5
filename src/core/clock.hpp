// Monotonic wall-clock seconds, for speed reports.
#pragma once

#include <chrono>

namespace pagoda {

inline double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace pagoda
