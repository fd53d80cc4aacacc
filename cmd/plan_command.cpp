#include <filesystem>
#include <iostream>
#include <thread>

#include "cmd/run_plan.h"
#include "pipeline/dry_run_output.h"
#include "pipeline/duration.h"

namespace slipway::cmd {

pipeline::RunResult ExecutePlan(const LoadedPlan& loaded, const PlanOptions& o, const GlobalOptions& g,
                                pipeline::Mode mode, const std::set<std::string>& only, pipeline::EventSink& events) {
  pipeline::ExecOptions exec;
  exec.mode = mode;
  exec.parallel = o.parallel > 0 ? o.parallel
                                 : loaded.plan.parallel.value_or(static_cast<int>(std::thread::hardware_concurrency()));
  exec.skip_tests = o.skip_tests;
  exec.only = only;
  exec.fail_fast = o.fail_fast;
  exec.plan_dir = std::filesystem::current_path();
  exec.state_dir = g.state_dir;
  exec.grace = pipeline::ParseDuration(o.grace).value_or(std::chrono::seconds(10));
  exec.interrupt = &Interrupted();
  exec.kill_now = &KillNow();
  if (!loaded.plan.kube.kubeconfig.empty()) exec.extra_env["KUBECONFIG"] = loaded.plan.kube.kubeconfig;
  pipeline::ApplyRunner apply_runner;
  pipeline::DryRunRunner dry_runner;
  pipeline::StepRunner& runner =
      mode == pipeline::Mode::kApply ? static_cast<pipeline::StepRunner&>(apply_runner) : dry_runner;
  pipeline::Executor executor(loaded.plan, loaded.dag, loaded.kinds, loaded.vars, *loaded.secrets, *loaded.masker,
                              events, runner, exec);
  return executor.Run();
}

int ReportDryRun(const LoadedPlan& loaded, const PlanOptions& o, const pipeline::RunResult& result) {
  if (o.output == "json")
    std::cout << pipeline::DryRunJson(loaded.plan, loaded.dag, result, *loaded.masker).dump(2) << "\n";
  else
    std::cout << pipeline::DryRunText(loaded.plan, loaded.dag, result, *loaded.masker);
  bool errors = false;
  for (const auto& r : result.steps) errors |= r.status == pipeline::StepStatus::kFailed;
  if (errors) return kStepFailed;
  if (o.detailed_exitcode && pipeline::ChangesPending(result)) return 2;
  return kOk;
}

void AddPlanCommand(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto opts = std::make_shared<PlanOptions>();
  auto* sub = app.add_subcommand("plan", "Show what apply would do (a dry-run: only read-only checks run)");
  AddPlanInputs(sub, *opts);
  AddSelection(sub, *opts);
  sub->add_flag("--detailed-exitcode", opts->detailed_exitcode,
                "Exit 0 when nothing would change, 2 when changes are pending, 1 on error");
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
    pipeline::RecordingSink quiet;
    auto result = ExecutePlan(*loaded, *opts, g, pipeline::Mode::kDryRun, *only, quiet);
    *exit_code = ReportDryRun(*loaded, *opts, result);
  });
}

}  // namespace slipway::cmd
