// Where tests find their data: committed fixtures, and the default model that scripts/setup.sh
// downloads into $PAGODA_HOME (default ~/.cache/pagoda).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace pagoda::test {

inline std::string fixtures_dir() { return PAGODA_FIXTURES_DIR; }

inline std::string pagoda_home() {
  if (const char* h = std::getenv("PAGODA_HOME"); h && *h) return h;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/pagoda";
}

// The default model (SmolLM2-135M-Instruct Q4_1 GGUF) or "" when it has not been fetched.
inline std::string smollm2_path() {
  std::string p = pagoda_home() + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  return std::filesystem::exists(p) ? p : std::string();
}

}  // namespace pagoda::test
