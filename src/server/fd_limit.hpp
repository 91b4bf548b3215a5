// The open-files limit for processes that hold one socket per stream: `pagoda serve` and the load
// generator at 512-1024 concurrent streams outgrow the common soft limit of 1024. It only raises
// the soft limit up to the hard one; it never fails.
#pragma once

#include <cstdint>

namespace pagoda::server {

// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the soft limit now in force
// (0 when it cannot be read).
uint64_t fd_limit_raise();

}  // namespace pagoda::server
