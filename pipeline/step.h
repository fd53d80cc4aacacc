#pragma once
// The Step interface every kind implements, the registry kinds are reached through, and the
// context a step runs in. pipeline/ knows no concrete kind: steps/ registers them.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/diagnostics.h"
#include "pipeline/events.h"
#include "pipeline/plan.h"
#include "pipeline/subprocess.h"

namespace slipway::pipeline {

enum class Mode { kApply, kDryRun };

/// The answer of a read-only probe.
struct Probe {
  enum class State { kInSync, kChanges, kUnknown };
  Probe() = default;
  Probe(State s, std::string d, std::map<std::string, std::string> o = {})
      : state(s), detail(std::move(d)), outputs(std::move(o)) {}
  State state = State::kUnknown;
  std::string detail;  // "namespace shop exists with the wanted labels", "would create ..."
  /// What a step found in sync publishes, read from the world (the outputs Apply would have given),
  /// so dependents can use them on a first or --fresh run too.
  std::map<std::string, std::string> outputs;
  /// Why the world could not be looked at (kUnknown): "cluster-unreachable", "kind-not-served",
  /// "forbidden", "tool-missing"; or "namespace-pending" (kChanges: an earlier step creates the namespace).
  /// Empty otherwise. Shown in `plan --output json` as probe.not_checked.
  std::string not_checked;
  /// The facts behind not_checked, e.g. {"kind": "PrometheusRule", "crd": "prometheusrules.monitoring.coreos.com",
  /// "provided_by": "prometheus-stack"}; in JSON as probe.facts.
  std::map<std::string, std::string> facts;
  /// The check already knows apply would fail here (a prerequisite is missing, the step's tool is not
  /// on PATH). `plan` still exits 0, but ends with "apply would fail at step X: detail", and
  /// --detailed-exitcode exits 1. In JSON as probe.would_fail and the top-level apply_would_fail.
  bool would_fail = false;
};

/// What applying a step did.
struct ApplyResult {
  std::map<std::string, std::string> outputs;
  nlohmann::json rollback = nullptr;   // what Rollback() needs; null: nothing to undo
  std::string summary;                 // one line for people
};

/// What a step may know about the other steps of the run (for reports and gates).
struct StepSnapshot {
  std::string id;
  std::string kind;
  std::string description;
  std::vector<std::string> needs;
  std::vector<std::string> tags;
  std::string status;                      // pending, running, succeeded, unchanged, failed, skipped, ...
  std::string reason;
  int attempts = 0;
  std::chrono::system_clock::time_point started{}, finished{};
  std::map<std::string, std::string> outputs;
  SourceLoc loc;
};

/// The run as seen by a step: its id, when it started, every step's state so far.
struct RunView {
  std::string plan_name;
  std::string plan_file;
  std::string run_id;
  std::chrono::system_clock::time_point started{};
  std::function<std::vector<StepSnapshot>()> steps;  // a consistent copy, taken when called
};

/// Everything a kind may use while it runs. Built by the executor per attempt.
class StepContext {
 public:
  const Plan* plan = nullptr;
  const StepSpec* spec = nullptr;
  Json body;                          // the step's body after templating: with, run, check, ...
  Mode mode = Mode::kApply;
  std::filesystem::path plan_dir;     // relative paths in the plan resolve here
  std::filesystem::path state_dir;    // slipway's own files (logs, outputs, pid files)
  std::filesystem::path log_file;     // this step's log
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds grace{std::chrono::seconds(10)};
  const std::atomic<bool>* cancel = nullptr;
  const std::atomic<bool>* kill_now = nullptr;
  EventSink* events = nullptr;
  const Masker* masker = nullptr;
  std::map<std::string, std::string> extra_env;  // e.g. KUBECONFIG from the plan's kube: block
  const RunView* run = nullptr;                   // the run so far (null outside a run)
  const Json* vars = nullptr;                     // the resolved plan vars (manifest templates see them)
  /// The id of the nearest step this one needs (directly or not) whose kind Provides() `what`
  /// ("namespace/shop", "group/monitoring.coreos.com", "kind/monitoring.coreos.com/PrometheusRule"), or "".
  /// Unset outside the executor.
  std::function<std::string(const std::string& what)> provider;
  /// Outputs a kind publishes even when Apply then fails (a load test whose thresholds failed still
  /// has a summary the report shows).
  mutable std::map<std::string, std::string> partial_outputs;

  const Json& With() const;
  /// A note from the step, shown with its id and written to its log.
  void Log(const std::string& line, Level level = Level::kInfo) const;
  /// Runs a command, streaming its lines to the console (prefixed with the step id) and to the step
  /// log, with the step's timeout and cancellation. Relative cwd resolves against plan_dir.
  Expected<ProcessResult> Run(ProcessSpec spec) const;
  /// Resolves a path from the plan against plan_dir.
  std::filesystem::path Resolve(const std::string& path) const;
  bool Cancelled() const { return cancel && cancel->load(); }
};

/// One step kind (run, k8s.apply, loadtest, ...). Implementations are stateless and thread-safe.
class StepKind {
 public:
  virtual ~StepKind() = default;
  virtual std::string Name() const = 0;
  /// Load-time checks of the step's body (with: keys and types). Strings may still hold templates.
  virtual void Validate(const StepSpec& step, Diagnostics& diag) const {
    (void)step;
    (void)diag;
  }
  /// Output keys the kind publishes; nullopt when they are only known at run time (run steps).
  virtual std::optional<std::vector<std::string>> Outputs(const StepSpec& step) const {
    (void)step;
    return std::vector<std::string>{};
  }
  /// Exactly what Apply would do, for the dry-run: commands (quoted argv), manifests, requests.
  virtual std::vector<std::string> Describe(const StepContext& ctx) const = 0;
  /// Whether Check() really looks at the world for this step. Such steps are probed on every run
  /// instead of being skipped on the checkpoint's word: the probe sees what changed since.
  virtual bool HasProbe(const StepSpec& step) const {
    (void)step;
    return false;
  }
  /// Read-only probe: is the step already in its desired state? Runs in dry-runs too.
  virtual Expected<Probe> Check(const StepContext& ctx) const {
    (void)ctx;
    return Probe{};
  }
  /// Makes the change. A failure is an Error whose message says what went wrong.
  virtual Expected<ApplyResult> Apply(const StepContext& ctx) const = 0;
  /// Files whose content belongs to the step's fingerprint (manifests, values files, template
  /// sources, request bodies), as named by the rendered body; relative paths resolve against plan_dir.
  /// A step is re-run when one of them changes even though its definition did not.
  virtual std::vector<std::filesystem::path> ReferencedFiles(const StepSpec& step, const Json& rendered,
                                                             const std::filesystem::path& plan_dir) const {
    (void)step;
    (void)rendered;
    (void)plan_dir;
    return {};
  }
  /// What the step makes exist in the cluster for the steps after it, as "namespace/NAME", "group/GROUP"
  /// (every kind of an API group, e.g. a mesh's CRDs) or "kind/GROUP/KIND" (one CRD). Used by dry-runs to
  /// tell "not there yet, step X creates it" from a real error. May run read-only commands.
  virtual std::vector<std::string> Provides(const StepContext& ctx) const {
    (void)ctx;
    return {};
  }
  /// Whether this step, as written, can be undone.
  virtual bool CanRollback(const StepSpec& step) const {
    (void)step;
    return false;
  }
  /// Undoes what Apply did, from the data Apply recorded.
  virtual Expected<void> Rollback(const StepContext& ctx, const nlohmann::json& data) const {
    (void)ctx;
    (void)data;
    return {};
  }
};

/// The kinds a build knows, by name.
class KindRegistry {
 public:
  void Register(std::unique_ptr<StepKind> kind);
  const StepKind* Find(const std::string& name) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, std::unique_ptr<StepKind>> kinds_;
};

}  // namespace slipway::pipeline
