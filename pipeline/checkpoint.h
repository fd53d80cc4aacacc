#pragma once
// Connects the executor to the state store: every transition is recorded, and a step whose
// checkpoint says it succeeded with the same fingerprint is not run again ("unchanged
// (checkpoint)") unless something it needs ran in this run.
//
// Ownership: every record this run writes carries this run's id, and the earlier changes the
// step's previous record still owned (StepState::Owned) move into its history, whatever this run
// finds (unchanged, changed again, failed), so `slipway rollback` can undo them until one does.

#include <mutex>
#include <set>
#include <string>

#include "pipeline/dag.h"
#include "pipeline/executor.h"
#include "pipeline/state.h"

namespace slipway::pipeline {

class Checkpointer : public RunObserver {
 public:
  /// `store` may be null (a dry-run reads the checkpoint but writes nothing).
  /// With `reuse` false (--fresh) every step is checked again, but the records of what earlier
  /// runs changed are carried forward all the same.
  Checkpointer(StateStore* store, State previous, const Plan& plan, const Dag& dag, std::string run_id,
               bool reuse = true);
  void OnTransition(int index, const StepRecord& record) override;
  std::optional<StepRecord> Reuse(int index, const StepRecord& fresh) override;
  std::optional<std::map<std::string, std::string>> PreviousOutputs(int index) override;

 private:
  StateStore* store_;
  State previous_;
  const Plan& plan_;
  const Dag& dag_;
  std::string run_id_;
  bool reuse_;
  std::mutex mu_;
  std::set<int> ran_;  // steps that changed something in this run
};

/// A StepState from an executor record (times as ISO-8601).
StepState ToStepState(const StepRecord& r, const std::string& kind);

}  // namespace slipway::pipeline
