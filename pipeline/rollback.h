#pragma once
// Undoing what a run changed: steps are rolled back in reverse dependency order (a step only after
// every step that needs it, directly or not), independent ones in parallel. If a step's undo fails,
// the steps it needs are left in place too (removing what a half-undone step still uses would make
// things worse), and the outcome says so.

#include <functional>
#include <string>
#include <vector>

#include "pipeline/dag.h"
#include "pipeline/executor.h"
#include "pipeline/step.h"

namespace slipway::pipeline {

struct RollbackRequest {
  int index = -1;      // into plan.steps
  Json body;           // the rendered body the step was applied with
  Json data;           // the kind's undo data recorded at apply time (null: only `earlier` to undo)
  /// Earlier changes of the same step still owned (StepState::history), undone after `data`,
  /// newest first, each with the body it was applied with. The first failure stops the chain.
  struct Change {
    Json body, data;
  };
  std::vector<Change> earlier;
};

struct RollbackOutcome {
  enum class Result { kRolledBack, kFailed, kNoUndo, kLeftInPlace, kWouldRollBack };
  int index = -1;
  Result result = Result::kRolledBack;
  std::string message;
};

/// Rolls back the requested steps; `on_done` is called (from the calling thread) after each one,
/// in the order they complete. With Mode::kDryRun nothing runs: each is reported kWouldRollBack
/// (or kNoUndo) in the order it would run.
std::vector<RollbackOutcome> RunRollback(const Plan& plan, const Dag& dag, const KindRegistry& kinds,
                                         const std::vector<RollbackRequest>& requests, const ExecOptions& options,
                                         EventSink& events, const Masker& masker,
                                         const std::function<void(const RollbackOutcome&)>& on_done);

/// A StepContext for running a step's kind outside the executor (rollback, tools).
StepContext MakeStepContext(const Plan& plan, const StepSpec& step, const ExecOptions& options, EventSink& events,
                            const Masker& masker, const std::atomic<bool>* cancel);

}  // namespace slipway::pipeline
