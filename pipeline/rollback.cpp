#include "pipeline/rollback.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace slipway::pipeline {

StepContext MakeStepContext(const Plan& plan, const StepSpec& step, const ExecOptions& options, EventSink& events,
                            const Masker& masker, const std::atomic<bool>* cancel) {
  StepContext ctx;
  ctx.plan = &plan;
  ctx.spec = &step;
  ctx.mode = options.mode;
  ctx.plan_dir = options.plan_dir;
  ctx.state_dir = options.state_dir;
  std::filesystem::path log_dir = options.state_dir / "logs" / plan.name;
  std::error_code ec;
  std::filesystem::create_directories(log_dir, ec);
  ctx.log_file = log_dir / (step.id + ".log");
  ctx.timeout = plan.TimeoutOf(step);
  ctx.grace = options.grace;
  ctx.cancel = cancel;
  ctx.kill_now = options.kill_now;
  ctx.events = &events;
  ctx.masker = &masker;
  ctx.extra_env = options.extra_env;
  ctx.vars = options.vars;
  return ctx;
}

std::vector<RollbackOutcome> RunRollback(const Plan& plan, const Dag& dag, const KindRegistry& kinds,
                                         const std::vector<RollbackRequest>& requests, const ExecOptions& options,
                                         EventSink& events, const Masker& masker,
                                         const std::function<void(const RollbackOutcome&)>& on_done) {
  std::map<int, const RollbackRequest*> pending;
  for (const auto& r : requests) pending[r.index] = &r;
  std::set<int> targets;
  for (const auto& [i, _] : pending) targets.insert(i);
  // For each target, the other targets that need it (transitively): they go first.
  std::map<int, std::set<int>> must_wait;
  for (int i : targets) {
    for (int j : dag.WithDependents({i}))
      if (j != i && targets.count(j)) must_wait[i].insert(j);
  }
  std::vector<RollbackOutcome> outcomes;
  std::map<int, RollbackOutcome::Result> done;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<RollbackOutcome> finished;
  std::map<int, std::thread> threads;
  size_t running = 0;
  const size_t parallel = static_cast<size_t>(std::max(1, options.parallel));
  std::atomic<bool> never{false};
  const std::atomic<bool>* cancel = options.kill_now ? options.kill_now : &never;

  auto emit = [&](const RollbackOutcome& o) {
    const StepSpec& step = plan.steps[static_cast<size_t>(o.index)];
    Event e;
    e.name = "rollback_finished";
    e.step = step.id;
    e.loc = step.loc;
    switch (o.result) {
      case RollbackOutcome::Result::kRolledBack:
        e.message = "rolled back" + (o.message.empty() ? "" : ": " + o.message);
        e.fields["result"] = "rolled-back";
        break;
      case RollbackOutcome::Result::kFailed:
        e.level = Level::kError;
        e.message = "rollback FAILED: " + o.message;
        e.fields["result"] = "rollback-failed";
        break;
      case RollbackOutcome::Result::kNoUndo:
        e.level = Level::kWarn;
        e.message = "left as is: " + o.message;
        e.fields["result"] = "no-undo";
        break;
      case RollbackOutcome::Result::kLeftInPlace:
        e.level = Level::kWarn;
        e.message = "left in place: " + o.message;
        e.fields["result"] = "left-in-place";
        break;
      case RollbackOutcome::Result::kWouldRollBack:
        e.message = "would roll back: " + o.message;
        e.fields["result"] = "would-roll-back";
        break;
    }
    if (options.mode == Mode::kApply) events.Emit(e);
  };
  auto record = [&](const RollbackOutcome& o) {
    done[o.index] = o.result;
    outcomes.push_back(o);
    emit(o);
    if (on_done) on_done(o);
  };

  while (!pending.empty() || running > 0) {
    bool progressed = true;
    while (progressed) {
      progressed = false;
      for (auto it = pending.begin(); it != pending.end();) {
        int i = it->first;
        bool ready = true;
        std::string blocked_by;
        for (int j : must_wait[i]) {
          auto d = done.find(j);
          if (d == done.end()) {
            ready = false;
            break;
          }
          if (d->second == RollbackOutcome::Result::kFailed || d->second == RollbackOutcome::Result::kLeftInPlace)
            blocked_by = plan.steps[static_cast<size_t>(j)].id;
        }
        if (!ready) {
          ++it;
          continue;
        }
        const StepSpec& step = plan.steps[static_cast<size_t>(i)];
        const StepKind* kind = kinds.Find(step.kind);
        if (!blocked_by.empty()) {
          record({i, RollbackOutcome::Result::kLeftInPlace, "'" + blocked_by + "', which needs it, could not be undone"});
          it = pending.erase(it);
          progressed = true;
          continue;
        }
        if (kind && !kind->CanRollback(step) && step.kind != "run") {
          // Read-only kinds (checks, load tests, reports) changed nothing: nothing to say, but the
          // steps they need may now go.
          done[i] = RollbackOutcome::Result::kNoUndo;
          it = pending.erase(it);
          progressed = true;
          continue;
        }
        if (!kind || !kind->CanRollback(step) || (it->second->data.is_null() && it->second->earlier.empty())) {
          record({i, RollbackOutcome::Result::kNoUndo, "the step defines no rollback"});
          it = pending.erase(it);
          progressed = true;
          continue;
        }
        if (options.mode == Mode::kDryRun) {
          StepContext ctx = MakeStepContext(plan, step, options, events, masker, cancel);
          ctx.body = it->second->body;
          std::string what;
          if (auto it_rb = ctx.body.find("rollback"); it_rb != ctx.body.end()) what = it_rb->dump();
          size_t changes = it->second->earlier.size() + (it->second->data.is_null() ? 0 : 1);
          record({i, RollbackOutcome::Result::kWouldRollBack,
                  step.kind + (what.empty() ? "" : " " + what) +
                      (changes > 1 ? " (" + std::to_string(changes) + " changes, newest first)" : "")});
          it = pending.erase(it);
          progressed = true;
          continue;
        }
        if (running >= parallel) break;
        const RollbackRequest* req = it->second;
        it = pending.erase(it);
        ++running;
        progressed = true;
        Event start;
        start.name = "rollback_started";
        start.step = step.id;
        start.message = "rolling back";
        events.Emit(start);
        threads[i] = std::thread([&, i, req, kind] {
          const StepSpec& s = plan.steps[static_cast<size_t>(i)];
          StepContext ctx = MakeStepContext(plan, s, options, events, masker, cancel);
          RollbackOutcome o{i, RollbackOutcome::Result::kRolledBack, ""};
          std::vector<RollbackRequest::Change> chain;
          if (!req->data.is_null()) chain.push_back({req->body, req->data});
          chain.insert(chain.end(), req->earlier.begin(), req->earlier.end());
          for (size_t c = 0; c < chain.size(); ++c) {
            ctx.body = chain[c].body;
            try {
              auto r = kind->Rollback(ctx, chain[c].data);
              if (!r) o = {i, RollbackOutcome::Result::kFailed, r.error().message};
            } catch (const std::exception& ex) {
              o = {i, RollbackOutcome::Result::kFailed, std::string("internal error: ") + ex.what()};
            }
            if (o.result == RollbackOutcome::Result::kFailed) {
              if (chain.size() > 1)
                o.message += " (undoing change " + std::to_string(c + 1) + " of " + std::to_string(chain.size()) +
                             ", newest first)";
              break;
            }
          }
          std::lock_guard lock(mu);
          finished.push_back(o);
          cv.notify_one();
        });
      }
    }
    if (running == 0) {
      if (!pending.empty()) {
        // Cannot happen for an acyclic graph; say so instead of spinning.
        for (auto& [i, _] : pending)
          record({i, RollbackOutcome::Result::kLeftInPlace, "internal error: rollback order could not be resolved"});
        pending.clear();
      }
      break;
    }
    RollbackOutcome o;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return !finished.empty(); });
      o = finished.front();
      finished.pop_front();
    }
    threads[o.index].join();
    threads.erase(o.index);
    --running;
    record(o);
  }
  return outcomes;
}

}  // namespace slipway::pipeline
