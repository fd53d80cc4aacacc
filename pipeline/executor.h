#pragma once
// The scheduler: one readable run loop. Start ready steps while a slot is free; otherwise wait for
// one to finish; handle its outcome; repeat. How a step is executed (for real, as a dry-run, or
// by a test's fake) is a StepRunner's business.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "pipeline/dag.h"
#include "pipeline/events.h"
#include "pipeline/plan.h"
#include "pipeline/step.h"
#include "pipeline/vars.h"

namespace slipway::pipeline {

enum class StepStatus {
  kPending,
  kRunning,
  kSucceeded,
  kUnchanged,
  kWouldRun,      // dry-run: apply would run
  kFailed,
  kSkipped,
  kCancelled,
  kRolledBack,
  kRollbackFailed,
};

/// "succeeded", "would-run", "rolled-back", ...
std::string StatusName(StepStatus s);
/// Inverse of StatusName; nullopt for an unknown name.
std::optional<StepStatus> StatusFromName(const std::string& name);

/// What happened to one step in this run.
struct StepRecord {
  StepStatus status = StepStatus::kPending;
  std::string reason;                      // why skipped / failed / unchanged
  int attempts = 0;
  std::chrono::system_clock::time_point started{}, finished{};
  std::map<std::string, std::string> outputs;
  Json rollback = nullptr;                 // the kind's data for undoing it
  std::vector<std::string> describe;       // dry-run: the exact commands/manifests
  bool probed = false;                     // a read-only check ran
  std::string probe_detail;
  std::string probe_not_checked;           // Probe::not_checked
  std::map<std::string, std::string> probe_facts;
  bool would_fail = false;                 // Probe::would_fail
  std::string fingerprint;
  Json rendered = nullptr;                 // the body after templating (masked when shown)
  bool continued = false;                  // failed, but continue_on_error let dependents go on
  bool from_checkpoint = false;            // reused from an earlier run's checkpoint, not run now
  bool Done() const { return status != StepStatus::kPending && status != StepStatus::kRunning; }
  bool Changed() const { return status == StepStatus::kSucceeded; }
};

/// Runs one step (every attempt) and fills in its record. Implementations must not throw.
class StepRunner {
 public:
  virtual ~StepRunner() = default;
  virtual void Run(const StepKind& kind, StepContext& ctx, StepRecord& record) = 0;
};

/// Runs for real: the kind's check (if any), then apply with retries and backoff.
class ApplyRunner : public StepRunner {
 public:
  void Run(const StepKind& kind, StepContext& ctx, StepRecord& record) override;
};

/// Runs nothing with a side effect: describes the step and runs its read-only check.
class DryRunRunner : public StepRunner {
 public:
  void Run(const StepKind& kind, StepContext& ctx, StepRecord& record) override;
};

/// Called after every step transition (the checkpoint hook). Must be thread-safe.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  /// `index` is into plan.steps; `record` the step's new state.
  virtual void OnTransition(int index, const StepRecord& record) = 0;
  /// Before a step is started: return a record to reuse instead of running it (resume), or nullopt.
  virtual std::optional<StepRecord> Reuse(int index, const StepRecord& fresh) {
    (void)index;
    (void)fresh;
    return std::nullopt;
  }
  /// Outputs an earlier run recorded for a step that is now unchanged (its check passed), so
  /// dependents can still read them; nullopt when there are none.
  virtual std::optional<std::map<std::string, std::string>> PreviousOutputs(int index) {
    (void)index;
    return std::nullopt;
  }
};

struct ExecOptions {
  Mode mode = Mode::kApply;
  int parallel = 1;
  bool skip_tests = false;
  std::set<std::string> only;              // empty: all steps
  bool fail_fast = false;                  // cancel running steps when one fails
  std::filesystem::path plan_dir;
  std::filesystem::path state_dir = ".slipway";
  std::chrono::milliseconds grace{std::chrono::seconds(10)};
  const std::atomic<bool>* interrupt = nullptr;  // SIGINT/SIGTERM: stop scheduling, terminate steps
  const std::atomic<bool>* kill_now = nullptr;   // a second Ctrl-C
  std::map<std::string, std::string> extra_env;
  std::string run_id;                            // shown to steps (reports)
  const Json* vars = nullptr;                    // for contexts built outside the executor (rollback)
};

struct RunResult {
  std::vector<StepRecord> steps;           // by plan index
  std::vector<int> finish_order;           // indexes in the order they finished
  bool failed = false;                     // a step failed (not continue_on_error)
  bool interrupted = false;
};

/// The fingerprint of a rendered step: SHA-256 over its kind and rendered body (and the content
/// of files it names, via `extra`). Hex.
std::string Fingerprint(const std::string& kind, const Json& rendered, const std::string& extra = {});

/// The digest of the files a step names (see StepKind::ReferencedFiles): path and content of each,
/// in order; a missing or unreadable file counts as such (so creating it later changes the digest).
std::string ReferencedFilesDigest(const std::vector<std::filesystem::path>& files);

/// The full fingerprint of a step as it would run now: its rendered body plus the files it names.
std::string StepFingerprint(const StepKind* kind, const StepSpec& step, const Json& rendered,
                            const std::filesystem::path& plan_dir);

/// Executes a validated plan.
class Executor {
 public:
  Executor(const Plan& plan, const Dag& dag, const KindRegistry& kinds, const Json& vars, const SecretStore& secrets,
           const Masker& masker, EventSink& events, StepRunner& runner, ExecOptions options);
  /// Hooks the state store in (optional).
  void SetObserver(RunObserver* observer) { observer_ = observer; }
  /// Pre-publishes outputs of steps finished in an earlier run (resume).
  OutputStore& Outputs() { return outputs_; }
  RunResult Run();
  /// Renders a step's body in the current scope; errors carry positions.
  Expected<Json> Render(const StepSpec& step) const;

 private:
  enum class Decision { kStart, kSkip, kWait };
  Decision Decide(int i, StepRecord& record, bool stop_scheduling);
  /// The nearest step `index` needs that Provides() `what`, or "" (StepContext::provider).
  std::string FindProvider(int index, const std::string& what) const;
  void Finish(int i, StepRecord& record);

  const Plan& plan_;
  const Dag& dag_;
  const KindRegistry& kinds_;
  const Json& vars_;
  const SecretStore& secrets_;
  const Masker& masker_;
  EventSink& events_;
  StepRunner& runner_;
  ExecOptions options_;
  RunObserver* observer_ = nullptr;
  OutputStore outputs_;
  RunView view_;
  RunScope scope_;
  std::set<int> selected_;
  bool any_failed_ = false;
  std::atomic<bool> cancel_running_{false};
};

}  // namespace slipway::pipeline
