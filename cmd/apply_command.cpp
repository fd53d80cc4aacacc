#include <iostream>

#include "cmd/run_plan.h"
#include "pipeline/dry_run_output.h"

namespace slipway::cmd {

void AddApplyCommand(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto opts = std::make_shared<PlanOptions>();
  auto* sub = app.add_subcommand("apply", "Run the plan: every step whose state differs, in dependency order");
  AddPlanInputs(sub, *opts);
  AddSelection(sub, *opts);
  sub->add_flag("--dry-run", opts->dry_run, "Show what would happen instead (same as 'slipway plan')");
  sub->add_flag("--detailed-exitcode", opts->detailed_exitcode, "With --dry-run: exit 2 when changes are pending");
  sub->add_flag("--fail-fast", opts->fail_fast, "When a step fails, cancel the steps still running");
  sub->add_option("--grace", opts->grace, "How long a cancelled step gets between SIGTERM and SIGKILL (default 10s)");
  sub->callback([opts, &g, exit_code] {
    auto loaded = LoadAndValidate(*opts, g);
    if (!loaded) {
      *exit_code = kUsage;
      return;
    }
    auto only = ParseOnly(opts->only, loaded->plan);
    if (!only) {
      *exit_code = kUsage;
      return;
    }
    if (opts->dry_run) {
      pipeline::RecordingSink quiet;
      auto result = ExecutePlan(*loaded, *opts, g, pipeline::Mode::kDryRun, *only, quiet);
      *exit_code = ReportDryRun(*loaded, *opts, result);
      return;
    }
    InstallSignalHandlers();
    auto reporter = MakeReporter(g, *loaded->masker);
    auto result = ExecutePlan(*loaded, *opts, g, pipeline::Mode::kApply, *only, *reporter);
    reporter->Finish();
    if (g.log_format != "json") reporter->Print(pipeline::ApplySummary(loaded->plan, result, *loaded->masker));
    if (result.interrupted) {
      *exit_code = kInterrupted;
    } else {
      *exit_code = result.failed ? kStepFailed : kOk;
    }
  });
}

}  // namespace slipway::cmd
