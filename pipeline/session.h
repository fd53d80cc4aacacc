#pragma once
// The life of one `apply` or `rollback` against a state directory: take the lock, open the
// checkpoint, run (resuming an unfinished run), roll back what this run changed when a step fails,
// record every outcome, compact the state. Returns the exit code of the contract.

#include <chrono>
#include <string>
#include <vector>

#include "pipeline/dag.h"
#include "pipeline/executor.h"
#include "pipeline/rollback.h"
#include "pipeline/state.h"

namespace slipway::pipeline {

/// Exit codes of the contract.
enum ExitCode : int { kExitOk = 0, kExitStepFailed = 1, kExitUsage = 2, kExitRollbackFailed = 3, kExitLocked = 4,
                      kExitInterrupted = 130 };

struct SessionInputs {
  const Plan* plan = nullptr;
  const Dag* dag = nullptr;
  const KindRegistry* kinds = nullptr;
  const Json* vars = nullptr;
  const SecretStore* secrets = nullptr;
  const Masker* masker = nullptr;
  ExecOptions exec;
  bool fresh = false;
  bool no_rollback = false;
  bool rollback_on_interrupt = false;
  std::chrono::milliseconds lock_timeout{0};
  std::string command_line;
  /// A saved plan: fingerprints it was made with (by step id) and the state revision it expects.
  std::optional<std::map<std::string, std::string>> saved_fingerprints;
  std::optional<uint64_t> saved_revision;
};

struct SessionResult {
  int exit_code = kExitOk;
  RunResult run;
  std::vector<RollbackOutcome> rollback;
  std::string run_id;
  std::string message;  // the closing words: what happened and what to do next
};

/// `slipway apply`.
SessionResult ApplySession(const SessionInputs& in, EventSink& events);

/// `slipway rollback [--to ID]`: undo the recorded changes after step `to` (all when empty).
SessionResult RollbackSession(const SessionInputs& in, const std::string& to, EventSink& events);

/// `slipway plan` / `apply --dry-run`: a dry-run that reads (never writes) the checkpoint.
RunResult DryRunSession(const SessionInputs& in, EventSink& events);

/// `slipway status`: the checkpoint as a table, or JSON.
std::string StatusTable(const Plan& plan, const State& state);

/// A new run id: UTC time plus a few random hex digits, e.g. 20261123T134501Z-3fa9.
std::string NewRunId();

}  // namespace slipway::pipeline
