#include "server/fd_limit.hpp"

#include <sys/resource.h>

namespace pagoda::server {

uint64_t fd_limit_raise() {
  rlimit l{};
  if (getrlimit(RLIMIT_NOFILE, &l) != 0) return 0;
  if (l.rlim_cur < l.rlim_max) {
    rlimit want = l;
    want.rlim_cur = l.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) l = want;
  }
  return static_cast<uint64_t>(l.rlim_cur);
}

}  // namespace pagoda::server
