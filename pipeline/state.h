#pragma once
// Checkpoint state of a plan: <state>/<plan>.json (a snapshot) plus <state>/<plan>.journal (the
// transitions since). Format, version 1:
//
//   <plan>.json  {"version": 1, "plan": "shop", "revision": 42,
//                 "run": {"id", "status", "started", "finished", "command", "pid", "host"},
//                 "steps": {"<id>": StepState}}
//   StepState    {"status": pending|running|succeeded|unchanged|failed|skipped|interrupted|rolled-back|
//                  rollback-failed, "kind", "started", "finished", "attempts", "fingerprint", "outputs": {},
//                  "rollback": <kind's undo data>, "rendered": <the step body as run>, "reason",
//                  "seq": <finish order>, "run_id": <run that wrote the record>, "masked": <secrets were masked>,
//                  "history": [OwnedChange, ...]}   (oldest first)
//   OwnedChange  {"run_id", "seq", "rollback", "rendered", "masked"}: an earlier change of the step that
//                  no rollback has undone yet (a later run found it in place, re-checked it with --fresh,
//                  or changed it again). `slipway rollback` undoes the record's own change, then these,
//                  newest first; the automatic rollback of a failed run undoes only that run's change.
//   <plan>.journal  one JSON object per line, applied in order over the snapshot:
//                 {"rev": 43, "step": "<id>", "state": StepState}  or  {"rev": 44, "run": {...}}
//
// Every transition is appended to the journal with write() before the run goes on, so a killed
// process loses nothing; fdatasync runs on a background thread that commits whatever has been
// appended (group commit), so the cost is paid once per batch, not per step. Compaction writes the
// snapshot atomically (temp file, fsync, rename, fsync of the directory), keeps the previous
// snapshot as <plan>.json.bak, and empties the journal. A torn last journal line (a crash
// mid-append) is ignored; any other damage, or a newer version, is an error and nothing is
// overwritten. Secrets are masked before anything is written; a record whose outputs or rendered
// body were masked is marked and never reused as a checkpoint.

#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/atomic_file.h"
#include "pipeline/error.h"
#include "pipeline/secrets.h"

namespace slipway::pipeline {

inline constexpr int kStateVersion = 1;

/// An earlier change of a step that the plan still owns (see OwnedChange above).
struct OwnedChange {
  std::string run_id;
  uint64_t seq = 0;
  nlohmann::json rollback = nullptr;
  nlohmann::json rendered = nullptr;
  bool masked = false;
};

/// At most this many earlier changes are kept per step: the first (usually what created the
/// object, whose undo restores the world as it was before the plan) and the latest ones.
inline constexpr size_t kMaxOwnedChanges = 8;

struct StepState {
  std::string status = "pending";
  std::string kind;
  std::string started, finished;
  int attempts = 0;
  std::string fingerprint;
  std::map<std::string, std::string> outputs;
  nlohmann::json rollback = nullptr;
  nlohmann::json rendered = nullptr;
  std::string reason;
  uint64_t seq = 0;
  std::string run_id;
  bool masked = false;
  std::vector<OwnedChange> history;
  /// What this record owns: its earlier changes plus its own change when it is one not yet undone
  /// (a succeeded record with undo data). Oldest first, capped at kMaxOwnedChanges.
  std::vector<OwnedChange> Owned() const;
};

struct RunInfo {
  std::string id;
  std::string status;  // running | succeeded | failed | interrupted | rolled-back | rollback-failed
  std::string started, finished, command, host;
  int pid = 0;
  /// True when the run ended: a new apply starts a new run instead of resuming this one.
  bool Completed() const { return status == "succeeded" || status == "rolled-back" || status == "rollback-failed"; }
};

struct State {
  int version = kStateVersion;
  std::string plan;
  uint64_t revision = 0;
  RunInfo run;
  std::map<std::string, StepState> steps;
  uint64_t MaxSeq() const;
};

nlohmann::json ToJson(const StepState& s);
nlohmann::json ToJson(const RunInfo& r);
nlohmann::json ToJson(const State& s);

/// Reads snapshot + journal without changing anything. A missing state is an empty State.
/// Errors (exit 2): newer version, corrupt snapshot or journal.
Expected<State> LoadState(const std::filesystem::path& dir, const std::string& plan);

/// The live state of one plan during a run. Thread-safe.
class StateStore {
 public:
  /// Opens (creating the directory, mode 0700). With `fresh`, a damaged state is moved aside to
  /// <name>.corrupt.<time> and a new one started; a readable one is kept (--fresh does not reuse
  /// checkpoints, but what the plan owns stays recorded: the session decides).
  static Expected<std::unique_ptr<StateStore>> Open(const std::filesystem::path& dir, const std::string& plan,
                                                    const Masker& masker, bool fresh);
  ~StateStore();

  State Snapshot() const;
  uint64_t Revision() const;
  void PutRun(const RunInfo& run);
  /// Records a step's new state (masked first). Returns the stored record.
  StepState PutStep(const std::string& id, StepState state);
  /// Waits until everything appended so far is on disk.
  void Sync();
  /// Writes the snapshot atomically and empties the journal.
  Expected<void> Compact(const FaultHook& fault = {});
  /// The next finish sequence number.
  uint64_t NextSeq();

 private:
  StateStore(std::filesystem::path dir, std::string plan, const Masker& masker);
  void Append(const nlohmann::json& line);
  void SyncLoop();

  std::filesystem::path dir_, snapshot_, journal_;
  const Masker& masker_;
  mutable std::mutex mu_;
  State state_;
  int journal_fd_ = -1;
  uint64_t appended_ = 0, synced_ = 0;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread syncer_;
};

}  // namespace slipway::pipeline
