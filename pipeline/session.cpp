#include "pipeline/session.h"

#include <unistd.h>

#include <algorithm>
#include <functional>
#include <random>
#include <sstream>

#include "pipeline/checkpoint.h"
#include "pipeline/duration.h"
#include "pipeline/lock.h"

namespace slipway::pipeline {

std::string NewRunId() {
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  std::random_device rd;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%04x", rd() & 0xffff);
  return std::string(buf) + "-" + suffix;
}

namespace {

std::string Host() {
  char host[256] = "?";
  ::gethostname(host, sizeof host - 1);
  return host;
}

Event Note(Level level, std::string name, std::string message) {
  Event e;
  e.level = level;
  e.name = std::move(name);
  e.message = std::move(message);
  return e;
}

// The rendered body to undo a change with: as recorded, or re-rendered from the plan when the
// record had secrets masked in it.
Json UndoBody(const SessionInputs& in, const StepSpec& step, const Json& rendered, bool masked, const State& state,
              EventSink& events) {
  if (!masked && !rendered.is_null()) return rendered;
  DryRunRunner unused;  // the executor is only used to render, never to run
  Executor ex(*in.plan, *in.dag, *in.kinds, *in.vars, *in.secrets, *in.masker, events, unused, in.exec);
  for (const auto& [id, s] : state.steps) ex.Outputs().Set(id, s.outputs);
  auto body = ex.Render(step);
  return body ? *body : rendered;
}

// Which of a record's earlier changes a rollback undoes.
using ChangeFilter = std::function<bool(const OwnedChange&)>;

// The undo request for one step: its own change (when the record is a succeeded one) and the
// earlier changes `undo_earlier` picks, newest first.
RollbackRequest UndoRequest(const SessionInputs& in, int index, const StepState& stored, const State& state,
                            const ChangeFilter& undo_earlier, EventSink& events) {
  const StepSpec& step = in.plan->steps[static_cast<size_t>(index)];
  RollbackRequest req{index, UndoBody(in, step, stored.rendered, stored.masked, state, events),
                      stored.status == "succeeded" ? stored.rollback : Json(nullptr), {}};
  for (auto it = stored.history.rbegin(); it != stored.history.rend(); ++it)
    if (undo_earlier(*it)) req.earlier.push_back({UndoBody(in, step, it->rendered, it->masked, state, events), it->rollback});
  return req;
}

std::vector<RollbackOutcome> UndoAndRecord(const SessionInputs& in, StateStore& store, const std::vector<int>& targets,
                                           const ChangeFilter& undo_earlier, EventSink& events) {
  State state = store.Snapshot();
  std::vector<RollbackRequest> requests;
  for (int i : targets)
    requests.push_back(UndoRequest(in, i, state.steps.at(in.plan->steps[static_cast<size_t>(i)].id), state,
                                   undo_earlier, events));
  ExecOptions opts = in.exec;
  opts.mode = Mode::kApply;
  return RunRollback(*in.plan, *in.dag, *in.kinds, requests, opts, events, *in.masker, [&](const RollbackOutcome& o) {
    const StepSpec& step = in.plan->steps[static_cast<size_t>(o.index)];
    StepState s = store.Snapshot().steps.at(step.id);
    if (o.result == RollbackOutcome::Result::kRolledBack) {
      s.status = "rolled-back";
      s.reason = "rolled back";
      // The earlier changes undone with it are no longer owned.
      std::erase_if(s.history, [&](const OwnedChange& c) { return undo_earlier(c); });
    } else if (o.result == RollbackOutcome::Result::kFailed) {
      s.status = "rollback-failed";
      s.reason = "rollback failed: " + o.message;
    } else {
      return;  // no undo / left in place: the record stays "succeeded", which is the truth
    }
    s.finished = IsoTimestamp();
    store.PutStep(step.id, s);
  });
}

std::string LeftAsIs(const Plan& plan, const std::vector<RollbackOutcome>& outcomes) {
  std::string out;
  for (const auto& o : outcomes) {
    if (o.result == RollbackOutcome::Result::kRolledBack || o.result == RollbackOutcome::Result::kWouldRollBack)
      continue;
    const char* what = o.result == RollbackOutcome::Result::kFailed     ? "rollback failed"
                       : o.result == RollbackOutcome::Result::kNoUndo   ? "no rollback defined"
                                                                        : "left in place";
    out += "\n  - " + plan.steps[static_cast<size_t>(o.index)].id + ": " + what + " (" + o.message + ")";
  }
  return out;
}

bool AnyFailed(const std::vector<RollbackOutcome>& outcomes) {
  for (const auto& o : outcomes)
    if (o.result == RollbackOutcome::Result::kFailed) return true;
  return false;
}

}  // namespace

RunResult DryRunSession(const SessionInputs& in, EventSink& events) {
  State previous;
  if (auto loaded = LoadState(in.exec.state_dir, in.plan->name)) previous = std::move(*loaded);
  DryRunRunner runner;
  ExecOptions opts = in.exec;
  opts.mode = Mode::kDryRun;
  Executor ex(*in.plan, *in.dag, *in.kinds, *in.vars, *in.secrets, *in.masker, events, runner, opts);
  Checkpointer checkpoint(nullptr, previous, *in.plan, *in.dag, previous.run.id, !in.fresh);
  ex.SetObserver(&checkpoint);
  return ex.Run();
}

SessionResult ApplySession(const SessionInputs& in, EventSink& events) {
  SessionResult out;
  const Plan& plan = *in.plan;
  auto lock = StateLock::Acquire(in.exec.state_dir / (plan.name + ".lock"), in.command_line, in.lock_timeout);
  if (!lock) {
    out.exit_code = lock.error().held_by_other ? kExitLocked : kExitUsage;
    out.message = lock.error().message;
    return out;
  }
  auto store = StateStore::Open(in.exec.state_dir, plan.name, *in.masker, in.fresh);
  if (!store) {
    out.exit_code = kExitUsage;
    out.message = store.error().message;
    return out;
  }
  State previous = (*store)->Snapshot();
  if (in.saved_revision && *in.saved_revision != previous.revision) {
    out.exit_code = kExitUsage;
    out.message = "saved plan is stale: the state changed since the plan was made (revision " +
                  std::to_string(*in.saved_revision) + ", now " + std::to_string(previous.revision) +
                  "); run 'slipway plan --out' again";
    return out;
  }
  bool resume = !in.fresh && !previous.run.id.empty() && !previous.run.Completed();
  RunInfo run;
  run.id = resume ? previous.run.id : NewRunId();
  run.status = "running";
  run.started = IsoTimestamp();
  run.command = in.command_line;
  run.pid = static_cast<int>(::getpid());
  run.host = Host();
  out.run_id = run.id;
  (*store)->PutRun(run);
  if (resume)
    events.Emit(Note(Level::kInfo, "run_resumed",
                     "resuming run " + run.id + " (it ended " + (previous.run.status.empty() ? "unexpectedly" : previous.run.status) +
                         "); finished steps with unchanged inputs are not run again"));

  ApplyRunner runner;
  ExecOptions opts = in.exec;
  opts.mode = Mode::kApply;
  opts.run_id = run.id;
  Executor ex(plan, *in.dag, *in.kinds, *in.vars, *in.secrets, *in.masker, events, runner, opts);
  Checkpointer checkpoint(store->get(), previous, plan, *in.dag, run.id, !in.fresh);
  ex.SetObserver(&checkpoint);
  if (in.saved_fingerprints) {
    // A saved plan runs exactly as planned: if a step would now render differently, refuse.
    for (const auto& step : plan.steps) {
      auto want = in.saved_fingerprints->find(step.id);
      if (want == in.saved_fingerprints->end() || want->second.empty()) continue;
      auto body = ex.Render(step);
      if (body && StepFingerprint(in.kinds->Find(step.kind), step, *body, opts.plan_dir) != want->second) {
        out.exit_code = kExitUsage;
        out.message = "saved plan is stale: step '" + step.id + "' would now run with different inputs";
        run.status = previous.run.status;
        return out;
      }
    }
  }
  out.run = ex.Run();
  (*store)->Sync();

  bool failed = out.run.failed;
  bool interrupted = out.run.interrupted;
  bool do_rollback = (failed && !interrupted && !in.no_rollback) || (interrupted && in.rollback_on_interrupt);
  std::vector<int> targets;
  if (do_rollback) {
    State now = (*store)->Snapshot();
    for (size_t i = 0; i < plan.steps.size(); ++i) {
      auto it = now.steps.find(plan.steps[i].id);
      if (it != now.steps.end() && it->second.status == "succeeded" && it->second.run_id == run.id)
        targets.push_back(static_cast<int>(i));
    }
    if (!targets.empty())
      events.Emit(Note(Level::kWarn, "rollback_started",
                       "rolling back " + std::to_string(targets.size()) + " step(s) this run changed"));
    // Only what this run changed; what earlier runs changed stays theirs (see `slipway rollback`).
    out.rollback = UndoAndRecord(in, **store, targets, [&](const OwnedChange& c) { return c.run_id == run.id; }, events);
  }
  std::string plan_arg = plan.file;
  if (interrupted) {
    run.status = do_rollback ? (AnyFailed(out.rollback) ? "rollback-failed" : "rolled-back") : "interrupted";
    out.exit_code = kExitInterrupted;
    out.message = do_rollback ? "interrupted; rolled back what this run changed" + LeftAsIs(plan, out.rollback)
                              : "interrupted; the state is saved. Resume with 'slipway apply " + plan_arg +
                                    "' or undo with 'slipway rollback " + plan_arg + "'";
  } else if (failed) {
    if (in.no_rollback) {
      run.status = "failed";
      out.exit_code = kExitStepFailed;
      out.message = "a step failed; --no-rollback left everything in place. Fix it and run 'slipway apply " +
                    plan_arg + "' to resume, or 'slipway rollback " + plan_arg + "' to undo";
    } else if (AnyFailed(out.rollback)) {
      run.status = "rollback-failed";
      out.exit_code = kExitRollbackFailed;
      out.message = "a step failed and its rollback did not complete; needs manual attention:" +
                    LeftAsIs(plan, out.rollback);
    } else {
      run.status = "rolled-back";
      out.exit_code = kExitStepFailed;
      std::string left = LeftAsIs(plan, out.rollback);
      size_t undone = 0;
      for (const auto& o : out.rollback) undone += o.result == RollbackOutcome::Result::kRolledBack;
      out.message = targets.empty() ? "a step failed; this run had changed nothing to roll back"
                                    : "a step failed; rolled back " + std::to_string(undone) +
                                          " step(s) this run changed" + (left.empty() ? "" : "; left as is:" + left);
    }
  } else {
    run.status = "succeeded";
    out.exit_code = kExitOk;
  }
  run.finished = IsoTimestamp();
  (*store)->PutRun(run);
  if (auto c = (*store)->Compact(); !c) {
    events.Emit(Note(Level::kError, "state_error", "could not compact the state: " + c.error().message));
  }
  return out;
}

SessionResult RollbackSession(const SessionInputs& in, const std::string& to, EventSink& events) {
  SessionResult out;
  const Plan& plan = *in.plan;
  bool dry = in.exec.mode == Mode::kDryRun;
  std::unique_ptr<StateLock> held;
  if (!dry) {
    auto lock = StateLock::Acquire(in.exec.state_dir / (plan.name + ".lock"), in.command_line, in.lock_timeout);
    if (!lock) {
      out.exit_code = lock.error().held_by_other ? kExitLocked : kExitUsage;
      out.message = lock.error().message;
      return out;
    }
    held = std::move(*lock);
  }
  auto loaded = LoadState(in.exec.state_dir, plan.name);
  if (!loaded) {
    out.exit_code = kExitUsage;
    out.message = loaded.error().message;
    return out;
  }
  uint64_t after = 0;
  if (!to.empty()) {
    auto it = loaded->steps.find(to);
    if (it == loaded->steps.end() || (it->second.status != "succeeded" && it->second.status != "unchanged")) {
      out.exit_code = kExitUsage;
      out.message = "--to: step '" + to + "' has no checkpoint to return to" +
                    (it == loaded->steps.end() ? " (it never ran)" : " (its status is " + it->second.status + ")");
      return out;
    }
    after = it->second.seq;
  }
  // Every change after `to` (all of them without it) that no rollback has undone yet: a record's
  // own change when it succeeded, and the earlier ones it still owns.
  ChangeFilter undo_earlier = [after](const OwnedChange& c) { return c.seq > after; };
  std::vector<int> targets;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    auto it = loaded->steps.find(plan.steps[i].id);
    if (it == loaded->steps.end() || plan.steps[i].id == to) continue;
    const StepState& s = it->second;
    bool own = s.status == "succeeded" && s.seq > after;
    bool earlier = std::any_of(s.history.begin(), s.history.end(), undo_earlier);
    if (own || earlier) targets.push_back(static_cast<int>(i));
  }
  if (targets.empty()) {
    out.message = "nothing to roll back" + (to.empty() ? std::string() : " after '" + to + "'");
    return out;
  }
  if (dry) {
    std::vector<RollbackRequest> requests;
    for (int i : targets)
      requests.push_back(
          UndoRequest(in, i, loaded->steps.at(plan.steps[static_cast<size_t>(i)].id), *loaded, undo_earlier, events));
    out.rollback = RunRollback(plan, *in.dag, *in.kinds, requests, in.exec, events, *in.masker, {});
    return out;
  }
  auto store = StateStore::Open(in.exec.state_dir, plan.name, *in.masker, false);
  if (!store) {
    out.exit_code = kExitUsage;
    out.message = store.error().message;
    return out;
  }
  out.rollback = UndoAndRecord(in, **store, targets, undo_earlier, events);
  RunInfo run = (*store)->Snapshot().run;
  bool failed = AnyFailed(out.rollback);
  run.status = failed ? "rollback-failed" : "rolled-back";
  run.finished = IsoTimestamp();
  (*store)->PutRun(run);
  (void)(*store)->Compact();
  out.exit_code = failed ? kExitRollbackFailed : kExitOk;
  std::string left = LeftAsIs(plan, out.rollback);
  size_t undone = 0;
  for (const auto& o : out.rollback) undone += o.result == RollbackOutcome::Result::kRolledBack;
  out.message = failed ? "rollback did not complete; needs manual attention:" + left
                       : "rolled back " + std::to_string(undone) + " step(s)" +
                             (left.empty() ? "" : "; left as is:" + left);
  return out;
}

std::string StatusTable(const Plan& plan, const State& state) {
  std::ostringstream out;
  if (state.run.id.empty()) {
    out << "plan '" << plan.name << "': no recorded runs\n";
    return out.str();
  }
  out << "plan '" << plan.name << "'  run " << state.run.id << "  " << state.run.status << "  started "
      << state.run.started << (state.run.finished.empty() ? "" : "  finished " + state.run.finished)
      << "  revision " << state.revision << "\n\n";
  size_t width = 4;
  for (const auto& s : plan.steps) width = std::max(width, s.id.size());
  out << "STEP" << std::string(width - 2, ' ') << "STATUS           FINISHED                  FINGERPRINT   NOTE\n";
  for (const auto& s : plan.steps) {
    auto it = state.steps.find(s.id);
    std::string status = it == state.steps.end() ? "pending" : it->second.status;
    std::string finished = it == state.steps.end() ? "-" : (it->second.finished.empty() ? "-" : it->second.finished);
    std::string fp = it == state.steps.end() ? "-" : it->second.fingerprint.substr(0, 12);
    std::string note = it == state.steps.end() ? "" : it->second.reason;
    if (note.size() > 80) note = note.substr(0, 77) + "...";
    out << s.id << std::string(width - s.id.size() + 2, ' ') << status
        << std::string(status.size() < 17 ? 17 - status.size() : 1, ' ') << finished
        << std::string(finished.size() < 26 ? 26 - finished.size() : 1, ' ') << (fp.empty() ? "-" : fp)
        << std::string(fp.size() < 14 ? 14 - fp.size() : 1, ' ') << note << "\n";
  }
  return out.str();
}

}  // namespace slipway::pipeline
