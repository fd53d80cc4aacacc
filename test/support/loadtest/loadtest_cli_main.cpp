// What cmd/main.cpp does for `loadtest`, alone: the worker and CLI tests run this binary.
#include <CLI/CLI.hpp>
namespace slipway::cmd {
void AddLoadtestCommand(CLI::App& app, int* exit_code);
}
int main(int argc, char** argv) {
  CLI::App app{"slipway"};
  app.require_subcommand(1);
  int exit_code = 0;
  slipway::cmd::AddLoadtestCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return exit_code;
}
