// Stop strings during streaming: found anywhere, and text that might start one is held back.
#include <gtest/gtest.h>

#include "runtime/generate.hpp"

namespace pagoda {
namespace {

TEST(StopStrings, FindsEarliest) {
  size_t held = 0;
  EXPECT_EQ(stop_string_find("hello world. bye", {"bye", "."}, &held), 11u);
  EXPECT_EQ(stop_string_find("no stop here", {"STOP"}, &held), std::string::npos);
}

TEST(StopStrings, HoldsBackAPossiblePrefix) {
  size_t held = 0;
  EXPECT_EQ(stop_string_find("answer: 42\n\nUs", {"\n\nUser:"}, &held), std::string::npos);
  EXPECT_EQ(held, 4u);  // "\n\nUs" may become "\n\nUser:"
  stop_string_find("answer", {"xyz"}, &held);
  EXPECT_EQ(held, 0u);
  stop_string_find("ab", {"abc", "b"}, &held);  // "b" completes a stop, "ab" may start "abc"
  EXPECT_EQ(held, 2u);
}

TEST(StopStrings, EmptyStopIsIgnored) {
  size_t held = 0;
  EXPECT_EQ(stop_string_find("abc", {""}, &held), std::string::npos);
  EXPECT_EQ(held, 0u);
}

}  // namespace
}  // namespace pagoda
