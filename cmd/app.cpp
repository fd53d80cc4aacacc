#include "cmd/app.h"

#include <csignal>
#include <fstream>
#include <cstdlib>
#include <iostream>
#include <unistd.h>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "pipeline/loader.h"
#include "pipeline/validate.h"
#include "steps/registry.h"

namespace slipway::cmd {

namespace {
std::atomic<bool> g_interrupted{false};
std::atomic<bool> g_kill_now{false};

void OnSignal(int) {
  if (g_interrupted.load()) g_kill_now.store(true);
  g_interrupted.store(true);
}
}  // namespace

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}
const std::atomic<bool>& Interrupted() { return g_interrupted; }
const std::atomic<bool>& KillNow() { return g_kill_now; }

bool IsGithubActions() {
  const char* v = std::getenv("GITHUB_ACTIONS");
  return v && std::string(v) == "true";
}

void AddPlanInputs(CLI::App* sub, PlanOptions& o) {
  sub->add_option("plan", o.plan, "The plan file (YAML), or a saved plan written by 'plan --out'")
      ->required()
      ->type_name("FILE");
  sub->add_option("--set", o.sets, "Set a variable: NAME=VALUE (repeatable; highest precedence)")->type_name("NAME=VALUE");
  sub->add_option("--values", o.values, "A YAML file of variable values (repeatable)")->type_name("FILE");
  sub->add_option("--profile", o.profile, "Apply the plan's named profile of variables")->type_name("NAME");
  sub->add_option("--secrets-file", o.secrets_files, "A file of SECRET=VALUE lines for {{ secrets.X }} (repeatable)")
      ->type_name("FILE");
}

void AddSelection(CLI::App* sub, PlanOptions& o) {
  sub->add_flag("--skip-tests", o.skip_tests, "Skip steps tagged 'test' (their dependents still run)");
  sub->add_option("--only", o.only, "Run only these steps (comma-separated ids) and what they need")->type_name("ID,...");
  sub->add_option("--output", o.output, "Output format: text or json")->check(CLI::IsMember({"text", "json"}));
  sub->add_option("--parallel", o.parallel, "Steps run at once (default: the plan's 'parallel', else CPUs)")
      ->check(CLI::PositiveNumber);
}

static void PrintDiagnostics(const pipeline::Diagnostics& diag) {
  std::cerr << diag.Format();
  if (IsGithubActions()) {
    for (const auto& d : diag.Items())
      std::cout << pipeline::GithubErrorCommand(d.loc, d.message + (d.hint.empty() ? "" : "; " + d.hint)) << "\n";
  }
}

static std::optional<pipeline::Json> ReadSavedPlan(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '{') return std::nullopt;
  auto j = pipeline::Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("kind", "") != "SlipwaySavedPlan") return std::nullopt;
  return j;
}

std::optional<LoadedPlan> LoadAndValidate(PlanOptions& o, const GlobalOptions& g) {
  (void)g;
  pipeline::Diagnostics diag;
  auto saved = ReadSavedPlan(o.plan);
  if (saved) {
    if (!o.sets.empty() || !o.values.empty() || !o.profile.empty() || !o.only.empty() || o.skip_tests) {
      std::cerr << "error: " << o.plan << " is a saved plan: it runs exactly as planned, so --set, --values, "
                << "--profile, --only and --skip-tests cannot change it; make a new one with 'slipway plan --out'\n";
      return std::nullopt;
    }
    o.skip_tests = saved->value("skip_tests", false);
    o.only = saved->value("only", "");
  }
  auto plan = saved ? pipeline::LoadPlanText(saved->value("plan_file", o.plan), saved->value("plan_source", ""), diag)
                    : pipeline::LoadPlanFile(o.plan, diag);
  if (!plan) {
    PrintDiagnostics(diag);
    return std::nullopt;
  }
  LoadedPlan loaded;
  loaded.plan = std::move(*plan);
  loaded.saved = saved;
  loaded.kinds = steps::BuiltinKinds();
  loaded.dag = pipeline::Dag::Build(loaded.plan, diag);
  if (saved) {
    loaded.vars = (*saved)["vars"];
  } else {
    pipeline::VarOverrides overrides{o.values, o.profile, o.sets, true};
    loaded.vars = pipeline::ResolveVars(loaded.plan, overrides, diag);
  }
  for (const auto& f : o.secrets_files) {
    if (auto r = loaded.secrets->LoadFile(f); !r) diag.Error(r.error().loc, r.error().message);
  }
  pipeline::ValidatePlan(loaded.plan, loaded.dag, loaded.kinds, loaded.vars, diag);
  if (diag.HasErrors()) {
    PrintDiagnostics(diag);
    return std::nullopt;
  }
  return loaded;
}

std::optional<std::set<std::string>> ParseOnly(const std::string& only, const pipeline::Plan& plan) {
  std::set<std::string> out;
  bool ok = true;
  size_t start = 0;
  while (start <= only.size() && !only.empty()) {
    size_t comma = only.find(',', start);
    std::string id = only.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!id.empty()) {
      if (plan.IndexOf(id) < 0) {
        std::vector<std::string> ids;
        for (const auto& s : plan.steps) ids.push_back(s.id);
        std::string near = pipeline::ClosestMatch(id, ids);
        std::cerr << "error: --only: unknown step '" << id << "'"
                  << (near.empty() ? "" : "; did you mean '" + near + "'?") << "\n";
        ok = false;
      }
      out.insert(id);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::unique_ptr<pipeline::Reporter> MakeReporter(const GlobalOptions& g, const pipeline::Masker& masker) {
  auto logger = spdlog::get("slipway");
  if (!logger) {
    auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    logger = std::make_shared<spdlog::logger>("slipway", sink);
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::info);
    spdlog::register_logger(logger);
  }
  pipeline::ReporterOptions opts;
  opts.format = g.log_format == "json" ? pipeline::LogFormat::kJson : pipeline::LogFormat::kText;
  opts.github = IsGithubActions();
  bool tty = ::isatty(STDOUT_FILENO) && ::isatty(STDERR_FILENO);
  opts.live = tty && !std::getenv("CI");
  opts.color = tty && !g.no_color && !std::getenv("NO_COLOR");
  opts.verbosity = g.quiet ? -1 : (g.verbose ? 1 : 0);
  return std::make_unique<pipeline::Reporter>(logger, masker, opts);
}

}  // namespace slipway::cmd
