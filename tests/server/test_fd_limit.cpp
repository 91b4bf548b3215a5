// fd_limit_raise: a process whose soft open-files limit is below its hard limit gets the hard one.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include "server/fd_limit.hpp"

namespace pagoda::server {
namespace {

TEST(FdLimit, RaisesTheSoftLimitToTheHardLimit) {
  rlimit l{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &l), 0);
  if (l.rlim_max < 128) GTEST_SKIP() << "hard limit too low to test";
  rlimit low = l;
  low.rlim_cur = 64;  // lowering is always allowed; raising back up to the hard limit is too
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  EXPECT_EQ(fd_limit_raise(), static_cast<uint64_t>(l.rlim_max));
  rlimit now{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, l.rlim_max);
  EXPECT_EQ(fd_limit_raise(), static_cast<uint64_t>(l.rlim_max));  // already there: unchanged
}

}  // namespace
}  // namespace pagoda::server
