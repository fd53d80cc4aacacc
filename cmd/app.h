#pragma once
// Shared pieces of the subcommands: option structs, loading + validating a plan, and the console.

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "pipeline/dag.h"
#include "pipeline/diagnostics.h"
#include "pipeline/events.h"
#include "pipeline/plan.h"
#include "pipeline/secrets.h"
#include "pipeline/step.h"
#include "pipeline/vars.h"

namespace slipway::cmd {

/// Exit codes of the contract.
enum ExitCode : int { kOk = 0, kStepFailed = 1, kUsage = 2, kRollbackFailed = 3, kLocked = 4, kInterrupted = 130 };

struct GlobalOptions {
  std::string log_format = "text";
  bool verbose = false;
  bool quiet = false;
  bool no_color = false;
  std::string state_dir = ".slipway";
};

/// The options every plan-reading command shares.
struct PlanOptions {
  std::string plan;
  std::vector<std::string> sets;
  std::vector<std::string> values;
  std::vector<std::string> secrets_files;
  std::string profile;
  bool skip_tests = false;
  std::string only;
  std::string output = "text";
  bool detailed_exitcode = false;
  int parallel = 0;
  bool dry_run = false;
  bool fail_fast = false;
  std::string grace = "10s";
  bool fresh = false;
  bool no_rollback = false;
  bool rollback_on_interrupt = false;
  std::string lock_timeout = "0s";
  std::string out;             // plan --out
  std::string saved;           // set when PLAN is a saved plan (JSON) rather than YAML
};

/// A plan that loaded and validated, with everything needed to run it.
struct LoadedPlan {
  pipeline::Plan plan;
  pipeline::Dag dag;
  pipeline::Json vars;
  std::unique_ptr<pipeline::Masker> masker = std::make_unique<pipeline::Masker>();
  std::unique_ptr<pipeline::SecretStore> secrets = std::make_unique<pipeline::SecretStore>(*masker);
  pipeline::KindRegistry kinds;
  std::optional<pipeline::Json> saved;  // the saved plan, when PLAN was one
};

/// Adds --set/--values/--profile/--secrets-file (and the plan positional) to a subcommand.
void AddPlanInputs(CLI::App* sub, PlanOptions& o);
/// Adds --skip-tests, --only, --output, --parallel.
void AddSelection(CLI::App* sub, PlanOptions& o);

/// Loads, resolves vars and validates. On any problem prints every error (file:line:col, source line,
/// caret; GitHub annotations under Actions) to stderr and returns nullopt: the caller exits 2.
/// PLAN may also be a saved plan written by `plan --out`: its plan text and resolved vars are used
/// as saved (no re-rendering from changed vars or files); its selection options replace the flags.
std::optional<LoadedPlan> LoadAndValidate(PlanOptions& o, const GlobalOptions& g);

/// The console reporter configured from the global options and the environment.
std::unique_ptr<pipeline::Reporter> MakeReporter(const GlobalOptions& g, const pipeline::Masker& masker);

/// --only "a,b" as a set; unknown ids are reported and make the result nullopt.
std::optional<std::set<std::string>> ParseOnly(const std::string& only, const pipeline::Plan& plan);

/// Installs SIGINT/SIGTERM handlers: the first sets Interrupted(), the second KillNow().
void InstallSignalHandlers();
const std::atomic<bool>& Interrupted();
const std::atomic<bool>& KillNow();

bool IsGithubActions();

// Subcommand registration: each sets *exit_code when it runs.
void AddValidateCommand(CLI::App& app, GlobalOptions& g, int* exit_code);
void AddPlanCommand(CLI::App& app, GlobalOptions& g, int* exit_code);
void AddApplyCommand(CLI::App& app, GlobalOptions& g, int* exit_code);
void AddGraphCommand(CLI::App& app, GlobalOptions& g, int* exit_code);
void AddVersionCommand(CLI::App& app, int* exit_code);
void AddRollbackCommand(CLI::App& app, GlobalOptions& g, int* exit_code);
void AddStatusCommand(CLI::App& app, GlobalOptions& g, int* exit_code);
/// `completion bash|zsh`: generated from `app`'s definitions when it runs, so add it last.
void AddCompletionCommand(CLI::App& app, int* exit_code);

}  // namespace slipway::cmd
