#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "cmd/github_actions.h"
#include "cmd/run_plan.h"
#include "pipeline/dry_run_output.h"
#include "pipeline/duration.h"
#include "pipeline/state.h"

namespace slipway::cmd {

std::string CommandLine() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> argv;
  size_t start = 0;
  for (size_t i = 0; i < raw.size(); ++i)
    if (raw[i] == '\0') {
      argv.push_back(raw.substr(start, i - start));
      start = i + 1;
    }
  return pipeline::QuoteArgv(argv);
}

pipeline::SessionInputs MakeSessionInputs(const LoadedPlan& loaded, const PlanOptions& o, const GlobalOptions& g,
                                          pipeline::Mode mode, const std::set<std::string>& only) {
  pipeline::SessionInputs in;
  in.plan = &loaded.plan;
  in.dag = &loaded.dag;
  in.kinds = &loaded.kinds;
  in.vars = &loaded.vars;
  in.secrets = loaded.secrets.get();
  in.masker = loaded.masker.get();
  pipeline::ExecOptions& exec = in.exec;
  exec.mode = mode;
  exec.parallel = o.parallel > 0 ? o.parallel
                                 : loaded.plan.parallel.value_or(static_cast<int>(std::thread::hardware_concurrency()));
  exec.skip_tests = o.skip_tests;
  exec.only = only;
  exec.fail_fast = o.fail_fast;
  exec.plan_dir = std::filesystem::current_path();
  exec.state_dir = g.state_dir;
  exec.grace = pipeline::ParseDuration(o.grace).value_or(std::chrono::seconds(10));
  exec.vars = &loaded.vars;
  exec.interrupt = &Interrupted();
  exec.kill_now = &KillNow();
  if (!loaded.plan.kube.kubeconfig.empty()) exec.extra_env["KUBECONFIG"] = loaded.plan.kube.kubeconfig;
  in.fresh = o.fresh;
  in.no_rollback = o.no_rollback;
  in.rollback_on_interrupt = o.rollback_on_interrupt;
  in.lock_timeout = pipeline::ParseDuration(o.lock_timeout).value_or(std::chrono::milliseconds(0));
  in.command_line = CommandLine();
  return in;
}

// A saved plan: everything `apply F` needs to run exactly what was shown.
static pipeline::Json SavedPlan(const LoadedPlan& loaded, const PlanOptions& o, const pipeline::RunResult& result,
                                uint64_t revision) {
  pipeline::Json steps = pipeline::Json::object();
  for (size_t i = 0; i < loaded.plan.steps.size(); ++i) {
    const auto& r = result.steps[i];
    // Steps whose inputs depend on outputs not yet known cannot be pinned; the rest are.
    bool pinned = r.rendered.dump().find("(known after apply") == std::string::npos;
    steps[loaded.plan.steps[i].id] = {{"fingerprint", pinned ? r.fingerprint : ""},
                                      {"action", pipeline::StatusName(r.status)}};
  }
  return {{"kind", "SlipwaySavedPlan"},
          {"format_version", 1},
          {"plan_file", loaded.plan.file},
          {"plan_source", loaded.plan.source},
          {"vars", loaded.vars},
          {"skip_tests", o.skip_tests},
          {"only", o.only},
          {"state_revision", revision},
          {"steps", steps}};
}

int RunDryRun(const LoadedPlan& loaded, const PlanOptions& o, const GlobalOptions& g, const std::set<std::string>& only) {
  pipeline::RecordingSink quiet;
  auto in = MakeSessionInputs(loaded, o, g, pipeline::Mode::kDryRun, only);
  auto result = pipeline::DryRunSession(in, quiet);
  if (o.output == "json")
    std::cout << pipeline::DryRunJson(loaded.plan, loaded.dag, result, *loaded.masker).dump(2) << "\n";
  else
    std::cout << pipeline::DryRunText(loaded.plan, loaded.dag, result, *loaded.masker);
  int code = kOk;
  if (!o.out.empty()) {
    auto state = pipeline::LoadState(g.state_dir, loaded.plan.name);
    uint64_t revision = state ? state->revision : 0;
    std::string text = loaded.masker->Mask(SavedPlan(loaded, o, result, revision).dump(2)) + "\n";
    if (auto w = pipeline::WriteFileAtomically(o.out, text, 0600); !w) {
      std::cerr << "error: --out: " << w.error().message << "\n";
      code = kUsage;
    } else if (o.output != "json") {
      std::cout << "saved plan written to " << o.out << "; run it with 'slipway apply " << o.out << "'\n";
    }
  }
  if (code == kOk) {
    bool errors = false;
    for (const auto& r : result.steps) errors |= r.status == pipeline::StepStatus::kFailed;
    if (errors || (o.detailed_exitcode && pipeline::WouldFailAt(loaded.dag, result) >= 0))
      code = kStepFailed;
    else if (o.detailed_exitcode && pipeline::ChangesPending(result))
      code = 2;
  }
  if (IsGithubActions()) {
    std::cout << std::flush;
    github::PublishDryRun(loaded, o, result, code, o.dry_run ? "apply --dry-run" : "plan");
  }
  return code;
}

void AddPlanCommand(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto opts = std::make_shared<PlanOptions>();
  auto* sub = app.add_subcommand("plan", "Show what apply would do (a dry-run: only read-only checks run)");
  AddPlanInputs(sub, *opts);
  AddSelection(sub, *opts);
  sub->add_flag("--detailed-exitcode", opts->detailed_exitcode,
                "Exit 0 when nothing would change, 2 when changes are pending, 1 on error");
  sub->add_option("--out", opts->out, "Save the rendered plan to this file; 'slipway apply FILE' runs exactly it")
      ->type_name("FILE");
  sub->add_flag("--fresh", opts->fresh, "Ignore the checkpoint state");
  sub->callback([opts, &g, exit_code] {
    auto loaded = LoadAndValidate(*opts, g);
    auto only = loaded ? ParseOnly(opts->only, loaded->plan) : std::nullopt;
    if (!loaded || !only) {
      *exit_code = kUsage;
      if (IsGithubActions()) github::PublishInvalid(*opts, *exit_code, "plan");
      return;
    }
    *exit_code = RunDryRun(*loaded, *opts, g, *only);
  });
}

}  // namespace slipway::cmd
