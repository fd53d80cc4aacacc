#include <iostream>

#include "cmd/app.h"
#include "pipeline/dry_run_output.h"

namespace slipway::cmd {

void AddGraphCommand(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto opts = std::make_shared<PlanOptions>();
  auto format = std::make_shared<std::string>("dot");
  auto* sub = app.add_subcommand("graph", "Print the plan's step graph as Graphviz dot or Mermaid");
  AddPlanInputs(sub, *opts);
  sub->add_option("--format", *format, "dot or mermaid")->check(CLI::IsMember({"dot", "mermaid"}));
  sub->callback([opts, format, &g, exit_code] {
    auto loaded = LoadAndValidate(*opts, g);
    if (!loaded) {
      *exit_code = kUsage;
      return;
    }
    std::cout << (*format == "dot" ? pipeline::GraphDot(loaded->plan, loaded->dag)
                                   : pipeline::GraphMermaid(loaded->plan, loaded->dag));
    *exit_code = kOk;
  });
}

}  // namespace slipway::cmd
