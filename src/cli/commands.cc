// Argument parsing and dispatch for every tusk command.
#include "cli/commands.h"

#include <CLI/CLI.hpp>

namespace tusk::cli {

int Main(int argc, char** argv) {
  CLI::App app{"tusk: a self-hosted PostgreSQL platform"};
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return 0;
}

}  // namespace tusk::cli
