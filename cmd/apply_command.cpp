#include <iostream>

#include "cmd/github_actions.h"
#include "cmd/run_plan.h"
#include "pipeline/dry_run_output.h"

namespace slipway::cmd {

void AddApplyCommand(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto opts = std::make_shared<PlanOptions>();
  auto* sub = app.add_subcommand("apply", "Run the plan (or a saved plan): every step whose state differs, in "
                                          "dependency order, with a checkpoint after each step");
  AddPlanInputs(sub, *opts);
  AddSelection(sub, *opts);
  sub->add_flag("--dry-run", opts->dry_run, "Show what would happen instead (same as 'slipway plan')");
  sub->add_flag("--detailed-exitcode", opts->detailed_exitcode, "With --dry-run: exit 2 when changes are pending");
  sub->add_flag("--fail-fast", opts->fail_fast, "When a step fails, cancel the steps still running");
  sub->add_flag("--no-rollback", opts->no_rollback, "When a step fails, leave everything in place for inspection");
  sub->add_flag("--rollback-on-interrupt", opts->rollback_on_interrupt,
                "On SIGINT/SIGTERM, roll back what this run changed (default: keep it, resume later)");
  sub->add_flag("--fresh", opts->fresh, "Ignore the checkpoint state and start a new run");
  sub->add_option("--grace", opts->grace, "Time between SIGTERM and SIGKILL for cancelled steps (default 10s)");
  sub->add_option("--lock-timeout", opts->lock_timeout, "Wait this long for another run's lock (default: fail at once)");
  sub->callback([opts, &g, exit_code] {
    auto loaded = LoadAndValidate(*opts, g);
    auto only = loaded ? ParseOnly(opts->only, loaded->plan) : std::nullopt;
    if (!loaded || !only) {
      *exit_code = kUsage;
      if (IsGithubActions()) github::PublishInvalid(*opts, *exit_code, opts->dry_run ? "apply --dry-run" : "apply");
      return;
    }
    if (opts->dry_run) {
      *exit_code = RunDryRun(*loaded, *opts, g, *only);
      return;
    }
    InstallSignalHandlers();
    auto reporter = MakeReporter(g, *loaded->masker);
    auto in = MakeSessionInputs(*loaded, *opts, g, pipeline::Mode::kApply, *only);
    if (loaded->saved) {
      std::map<std::string, std::string> fingerprints;
      for (auto& [id, s] : (*loaded->saved)["steps"].items()) fingerprints[id] = s.value("fingerprint", "");
      in.saved_fingerprints = fingerprints;
      in.saved_revision = (*loaded->saved).value("state_revision", uint64_t{0});
    }
    auto result = pipeline::ApplySession(in, *reporter);
    reporter->Finish();
    if (!result.run.steps.empty() && g.log_format != "json")
      reporter->Print(pipeline::ApplySummary(loaded->plan, result.run, *loaded->masker));
    if (!result.message.empty()) {
      pipeline::Event e;
      e.level = result.exit_code == kOk ? pipeline::Level::kInfo : pipeline::Level::kError;
      e.name = "run_finished";
      e.message = result.message;
      e.fields = {{"exit_code", result.exit_code}, {"run_id", result.run_id}};
      reporter->Emit(e);
    } else {
      pipeline::Event e;
      e.name = "run_finished";
      e.message = "apply complete (run " + result.run_id + ")";
      e.fields = {{"exit_code", result.exit_code}, {"run_id", result.run_id}};
      reporter->Emit(e);
    }
    for (size_t i = 0; i < result.run.steps.size(); ++i) {
      auto it = result.run.steps[i].outputs.find("html");
      if (it != result.run.steps[i].outputs.end() && !it->second.empty())
        reporter->Print("report: " + it->second);
    }
    if (IsGithubActions()) github::PublishApply(*loaded, *opts, result);
    *exit_code = result.exit_code;
  });
}

void AddRollbackCommand(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto opts = std::make_shared<PlanOptions>();
  auto to = std::make_shared<std::string>();
  auto* sub = app.add_subcommand("rollback", "Undo the recorded changes of the plan, in reverse dependency order");
  AddPlanInputs(sub, *opts);
  sub->add_option("--to", *to, "Restore the checkpoint right after this step: undo only what finished later");
  sub->add_flag("--dry-run", opts->dry_run, "Print what would be undone, in order; change nothing");
  sub->add_option("--lock-timeout", opts->lock_timeout, "Wait this long for another run's lock");
  sub->add_option("--parallel", opts->parallel, "Independent rollbacks run at once")->check(CLI::PositiveNumber);
  sub->callback([opts, to, &g, exit_code] {
    auto loaded = LoadAndValidate(*opts, g);
    if (!loaded) {
      *exit_code = kUsage;
      return;
    }
    if (!to->empty() && loaded->plan.IndexOf(*to) < 0) {
      std::cerr << "error: --to: unknown step '" << *to << "'\n";
      *exit_code = kUsage;
      return;
    }
    InstallSignalHandlers();
    auto reporter = MakeReporter(g, *loaded->masker);
    auto mode = opts->dry_run ? pipeline::Mode::kDryRun : pipeline::Mode::kApply;
    auto in = MakeSessionInputs(*loaded, *opts, g, mode, {});
    auto result = pipeline::RollbackSession(in, *to, *reporter);
    if (opts->dry_run) {
      std::string text = result.rollback.empty() ? "nothing to roll back\n" : "would roll back, in this order:\n";
      for (const auto& o : result.rollback) {
        const auto& id = loaded->plan.steps[static_cast<size_t>(o.index)].id;
        text += "  " + id + ": " +
                (o.result == pipeline::RollbackOutcome::Result::kNoUndo ? "no rollback defined; left as is"
                                                                        : o.message) + "\n";
      }
      reporter->Print(text);
    } else if (!result.message.empty()) {
      pipeline::Event e;
      e.level = result.exit_code == kOk ? pipeline::Level::kInfo : pipeline::Level::kError;
      e.name = "rollback_complete";
      e.message = result.message;
      reporter->Emit(e);
    }
    *exit_code = result.exit_code;
  });
}

void AddStatusCommand(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto opts = std::make_shared<PlanOptions>();
  auto* sub = app.add_subcommand("status", "Show what the checkpoint says: per step status, when, fingerprint");
  AddPlanInputs(sub, *opts);
  sub->add_option("--output", opts->output, "text or json")->check(CLI::IsMember({"text", "json"}));
  sub->callback([opts, &g, exit_code] {
    auto loaded = LoadAndValidate(*opts, g);
    if (!loaded) {
      *exit_code = kUsage;
      return;
    }
    auto state = pipeline::LoadState(g.state_dir, loaded->plan.name);
    if (!state) {
      std::cerr << "error: " << state.error().message << "\n";
      *exit_code = kUsage;
      return;
    }
    if (opts->output == "json")
      std::cout << loaded->masker->Mask(pipeline::ToJson(*state).dump(2)) << "\n";
    else
      std::cout << loaded->masker->Mask(pipeline::StatusTable(loaded->plan, *state));
    *exit_code = kOk;
  });
}

}  // namespace slipway::cmd
