// Errors: one exception type whose message is what the user reads.
// Everything a user can get wrong (files, flags, requests) throws pagoda::Error; the CLI and server
// turn it into one clear line. Programming mistakes use PAGODA_ASSERT, which also throws.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace pagoda {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace pagoda

#define PAGODA_CHECK(cond, ...)              \
  do {                                       \
    if (!(cond)) ::pagoda::fail(__VA_ARGS__); \
  } while (0)

#define PAGODA_ASSERT(cond)                                                                 \
  do {                                                                                      \
    if (!(cond))                                                                            \
      ::pagoda::fail("internal error: {} failed at {}:{}", #cond, __FILE__, __LINE__);       \
  } while (0)
