// slipway: runs deployment plans as a DAG of idempotent steps. Everything but wiring lives in the
// libraries; see cmd/app.h for the subcommands.
#include <iostream>

#include "cmd/app.h"

#ifdef SLIPWAY_HAVE_LOADTEST
namespace slipway::cmd {
void AddLoadtestCommand(CLI::App& app, int* exit_code);
}
#endif

int main(int argc, char** argv) {
  using namespace slipway::cmd;
  CLI::App app{"slipway — deployment plans as a DAG of idempotent steps, with dry-run, checkpoints and rollback"};
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions global;
  int exit_code = kOk;
  app.add_option("--log-format", global.log_format, "Log format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_flag("-v,--verbose", global.verbose, "Show debug events");
  app.add_flag("-q,--quiet", global.quiet, "Show only warnings, errors and the summary");
  app.add_flag("--no-color", global.no_color, "Never color the output");
  app.add_option("--state", global.state_dir, "Directory for checkpoint state, locks and logs (default .slipway)")
      ->type_name("DIR");
  AddValidateCommand(app, global, &exit_code);
  AddPlanCommand(app, global, &exit_code);
  AddApplyCommand(app, global, &exit_code);
  AddGraphCommand(app, global, &exit_code);
  AddRollbackCommand(app, global, &exit_code);
  AddStatusCommand(app, global, &exit_code);
  AddVersionCommand(app, &exit_code);
#ifdef SLIPWAY_HAVE_LOADTEST
  AddLoadtestCommand(app, &exit_code);
#endif
  // The global options are accepted after any subcommand too (fallthrough); say so in each --help.
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
    sub->footer("Global options (also accepted here): --log-format text|json, -v/--verbose, -q/--quiet, "
                "--no-color, --state DIR; see 'slipway --help'.");
  AddCompletionCommand(app, &exit_code);  // last: it describes every command added before it
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kUsage;
  }
  return exit_code;
}
