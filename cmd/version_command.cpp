#include <iostream>

#include "cmd/app.h"

namespace slipway::cmd {

void AddVersionCommand(CLI::App& app, int* exit_code) {
  auto* sub = app.add_subcommand("version", "Print slipway's version");
  sub->callback([exit_code] {
    std::cout << "slipway " << SLIPWAY_VERSION << "\n";
    *exit_code = kOk;
  });
}

}  // namespace slipway::cmd
