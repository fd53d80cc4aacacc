#include <iostream>

#include "cmd/app.h"

namespace slipway::cmd {

void AddValidateCommand(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto opts = std::make_shared<PlanOptions>();
  auto* sub = app.add_subcommand("validate", "Check a plan: schema, graph and templates; changes nothing");
  AddPlanInputs(sub, *opts);
  sub->callback([opts, &g, exit_code] {
    auto loaded = LoadAndValidate(*opts, g);
    if (!loaded) {
      *exit_code = kUsage;
      return;
    }
    std::cout << opts->plan << ": ok (" << loaded->plan.steps.size() << " steps, " << loaded->dag.Waves().size()
              << " waves)\n";
    *exit_code = kOk;
  });
}

}  // namespace slipway::cmd
