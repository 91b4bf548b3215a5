// pagoda: one binary, many subcommands. Every error a user can cause ends here as one line on
// stderr and exit code 1.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <map>

#include "cli/cli_common.hpp"
#include "core/error.hpp"

int main(int argc, char** argv) {
  using namespace pagoda::cli;
  CLI::App app{"pagoda: run and serve large language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "pagoda 0.1.0");
  std::map<std::string, Runner> runners;
  runners["run"] = register_run(app);
  runners["chat"] = register_chat(app);
  runners["logits"] = register_logits(app);
  runners["tokenize"] = register_tokenize(app);
  runners["inspect"] = register_inspect(app);
  runners["bench"] = register_bench(app);
  runners["fetch"] = register_fetch(app);
  runners["serve"] = register_serve(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto* sub : app.get_subcommands()) return runners.at(sub->get_name())();
  } catch (const pagoda::Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 1;
}
