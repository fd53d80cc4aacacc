#include "pipeline/executor.h"

#include <condition_variable>
#include <deque>
#include <fstream>
#include <regex>
#include <thread>

#include "pipeline/condition.h"
#include "pipeline/duration.h"
#include "pipeline/sha256.h"

namespace slipway::pipeline {

namespace {

using SysClock = std::chrono::system_clock;

constexpr std::pair<StepStatus, const char*> kStatusNames[] = {
    {StepStatus::kPending, "pending"},     {StepStatus::kRunning, "running"},
    {StepStatus::kSucceeded, "succeeded"}, {StepStatus::kUnchanged, "unchanged"},
    {StepStatus::kWouldRun, "would-run"},  {StepStatus::kFailed, "failed"},
    {StepStatus::kSkipped, "skipped"},     {StepStatus::kCancelled, "interrupted"},
    {StepStatus::kRolledBack, "rolled-back"}, {StepStatus::kRollbackFailed, "rollback-failed"},
};

// A string that was exactly one reference and renders to a number or boolean becomes one, so
// `rate: "{{ vars.rate }}"` gives kinds the number they expect.
void CoerceScalars(const Json& original, Json& rendered) {
  if (original.is_string() && rendered.is_string()) {
    const auto& o = original.get_ref<const std::string&>();
    auto segments = ParseTemplate(o);
    if (!segments || segments->size() != 1 || !segments->front().ref) return;  // exactly one reference
    const std::string r = rendered.get<std::string>();
    if (r == "true") {
      rendered = true;
    } else if (r == "false") {
      rendered = false;
    } else {
      // Only when nothing is lost: "1.10" and "007" stay strings.
      Json number = Json::parse(r, nullptr, false);
      if (!number.is_discarded() && number.is_number() && number.dump() == r) rendered = number;
    }
  } else if (original.is_array() && rendered.is_array() && original.size() == rendered.size()) {
    for (size_t i = 0; i < original.size(); ++i) CoerceScalars(original[i], rendered[i]);
  } else if (original.is_object() && rendered.is_object()) {
    for (auto it = original.begin(); it != original.end(); ++it)
      if (rendered.contains(it.key())) CoerceScalars(it.value(), rendered[it.key()]);
  }
}

std::string ErrorText(const Error& e) { return e.loc.Known() ? e.loc.ToString() + ": " + e.message : e.message; }

bool SleepUnlessCancelled(std::chrono::milliseconds d, const std::atomic<bool>* cancel) {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (cancel && cancel->load()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(d, std::chrono::milliseconds(50)));
  }
  return true;
}

}  // namespace

std::string StatusName(StepStatus s) {
  for (const auto& [status, name] : kStatusNames)
    if (status == s) return name;
  return "unknown";
}

std::optional<StepStatus> StatusFromName(const std::string& name) {
  for (const auto& [status, n] : kStatusNames)
    if (name == n) return status;
  return std::nullopt;
}

std::string Fingerprint(const std::string& kind, const Json& rendered, const std::string& extra) {
  Sha256 h;
  h.Update(kind);
  h.Update(std::string_view("\0", 1));
  h.Update(rendered.dump());
  h.Update(std::string_view("\0", 1));
  h.Update(extra);
  return h.HexDigest();
}

std::string ReferencedFilesDigest(const std::vector<std::filesystem::path>& files) {
  if (files.empty()) return {};
  Sha256 h;
  for (const auto& f : files) {
    h.Update(f.string());
    h.Update(std::string_view("\0", 1));
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      h.Update(std::string_view("\1missing", 8));
      continue;
    }
    char buf[1 << 14];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) h.Update(std::string_view(buf, static_cast<size_t>(in.gcount())));
    h.Update(std::string_view("\0", 1));
  }
  return h.HexDigest();
}

std::string StepFingerprint(const StepKind* kind, const StepSpec& step, const Json& rendered,
                            const std::filesystem::path& plan_dir) {
  std::string extra;
  if (kind) extra = ReferencedFilesDigest(kind->ReferencedFiles(step, rendered, plan_dir));
  return Fingerprint(step.kind, rendered, extra);
}

void ApplyRunner::Run(const StepKind& kind, StepContext& ctx, StepRecord& record) {
  auto probe = kind.Check(ctx);
  if (!probe) {
    record.status = StepStatus::kFailed;
    record.reason = "check failed: " + ErrorText(probe.error());
    record.attempts = 0;
    return;
  }
  if (probe->state == Probe::State::kInSync) {
    record.status = StepStatus::kUnchanged;
    record.probed = true;
    record.probe_detail = probe->detail;
    record.reason = probe->detail.empty() ? "already in the desired state" : probe->detail;
    record.outputs = probe->outputs;
    return;
  }
  RetryPolicy retries = ctx.plan->RetriesOf(*ctx.spec);
  auto backoff = retries.backoff;
  for (int attempt = 1; attempt <= retries.attempts; ++attempt) {
    record.attempts = attempt;
    auto applied = kind.Apply(ctx);
    if (applied) {
      record.status = StepStatus::kSucceeded;
      record.outputs = std::move(applied->outputs);
      record.rollback = std::move(applied->rollback);
      record.reason = applied->summary;
      return;
    }
    record.status = StepStatus::kFailed;
    record.reason = ErrorText(applied.error());
    record.outputs = ctx.partial_outputs;
    if (ctx.Cancelled()) {
      record.status = StepStatus::kCancelled;
      return;
    }
    if (attempt < retries.attempts) {
      ctx.Log("attempt " + std::to_string(attempt) + "/" + std::to_string(retries.attempts) + " failed: " +
                  record.reason + "; retrying in " + FormatDuration(backoff),
              Level::kWarn);
      if (!SleepUnlessCancelled(backoff, ctx.cancel)) {
        record.status = StepStatus::kCancelled;
        return;
      }
      backoff *= 2;
    }
  }
}

void DryRunRunner::Run(const StepKind& kind, StepContext& ctx, StepRecord& record) {
  record.describe = kind.Describe(ctx);
  auto probe = kind.Check(ctx);
  if (!probe) {
    record.status = StepStatus::kWouldRun;
    record.probed = true;
    record.probe_detail = "check could not run: " + ErrorText(probe.error());
    return;
  }
  record.probed = probe->state != Probe::State::kUnknown;
  record.probe_detail = probe->detail;
  record.probe_not_checked = probe->not_checked;
  record.probe_facts = probe->facts;
  record.would_fail = probe->would_fail;
  record.status = probe->state == Probe::State::kInSync ? StepStatus::kUnchanged : StepStatus::kWouldRun;
  if (probe->state == Probe::State::kInSync) record.outputs = probe->outputs;
}

Executor::Executor(const Plan& plan, const Dag& dag, const KindRegistry& kinds, const Json& vars,
                   const SecretStore& secrets, const Masker& masker, EventSink& events, StepRunner& runner,
                   ExecOptions options)
    : plan_(plan),
      dag_(dag),
      kinds_(kinds),
      vars_(vars),
      secrets_(secrets),
      masker_(masker),
      events_(events),
      runner_(runner),
      options_(std::move(options)),
      scope_(vars, secrets, outputs_) {
  scope_.SetDryRun(options_.mode == Mode::kDryRun);
  if (options_.parallel < 1) options_.parallel = 1;
  std::set<int> roots;
  for (const auto& id : options_.only) roots.insert(plan_.IndexOf(id));
  roots.erase(-1);
  if (options_.only.empty()) {
    for (size_t i = 0; i < plan_.steps.size(); ++i) selected_.insert(static_cast<int>(i));
  } else {
    selected_ = dag_.WithDependencies(roots);
  }
}

std::string Executor::FindProvider(int index, const std::string& what) const {
  // Nearest first: the steps `index` needs, latest in plan order first.
  std::set<int> upstream = dag_.WithDependencies({index});
  for (auto it = upstream.rbegin(); it != upstream.rend(); ++it) {
    if (*it == index) continue;
    const StepSpec& step = plan_.steps[static_cast<size_t>(*it)];
    const StepKind* kind = kinds_.Find(step.kind);
    if (!kind) continue;
    auto body = Render(step);
    if (!body) continue;
    StepContext ctx;
    ctx.plan = &plan_;
    ctx.spec = &step;
    ctx.body = *body;
    ctx.mode = Mode::kDryRun;
    ctx.plan_dir = options_.plan_dir;
    ctx.state_dir = options_.state_dir;
    ctx.extra_env = options_.extra_env;
    ctx.masker = &masker_;
    ctx.vars = &vars_;
    try {
      for (const auto& p : kind->Provides(ctx))
        if (p == what) return step.id;
    } catch (const std::exception&) {
      // A kind that cannot say what it provides provides nothing here.
    }
  }
  return {};
}

Expected<Json> Executor::Render(const StepSpec& step) const {
  std::vector<Error> errors;
  Json rendered = RenderJson(step.body, scope_, step.locs, "", errors);
  if (!errors.empty()) {
    Error first = errors.front();
    for (auto& e : errors)
      if (e.loc.file.empty()) e.loc = step.loc;
    return tl::unexpected(errors.front().loc.file.empty() ? Error(first.message, step.loc) : errors.front());
  }
  // Commands, env and cwd are text; only a kind's with: gets typed values.
  if (step.body.contains("with") && rendered.contains("with")) CoerceScalars(step.body["with"], rendered["with"]);
  return rendered;
}

Executor::Decision Executor::Decide(int i, StepRecord& record, bool stop_scheduling) {
  const StepSpec& step = plan_.steps[static_cast<size_t>(i)];
  auto skip = [&](std::string why) {
    record.status = StepStatus::kSkipped;
    record.reason = std::move(why);
    return Decision::kSkip;
  };
  if (!selected_.count(i)) return skip("not selected by --only");
  bool interrupted = options_.interrupt && options_.interrupt->load();
  Condition cond;
  if (!step.if_expr.empty()) {
    auto parsed = Condition::Parse(step.if_expr);
    if (!parsed) {
      record.status = StepStatus::kFailed;
      record.reason = ErrorText(Error(parsed.error().message, step.if_loc));
      return Decision::kSkip;
    }
    cond = *parsed;
  }
  if (interrupted && !cond.RunsAfterFailure()) {
    record.status = StepStatus::kCancelled;
    record.reason = "not started: the run was interrupted";
    return Decision::kSkip;
  }
  if (options_.skip_tests && step.HasTag("test")) return skip("--skip-tests (tagged test)");
  // After a failure only steps whose condition asks for it (always(), failure()) still start.
  if ((any_failed_ || stop_scheduling) && !cond.RunsAfterFailure()) return skip("not started: an earlier step failed");
  RunStatus status{any_failed_, interrupted};
  auto result = cond.Evaluate(scope_, status);
  if (!result) {
    if (options_.mode == Mode::kDryRun) {
      record.reason = "if: " + step.if_expr + " (decided at apply time: " + result.error().message + ")";
      return Decision::kStart;
    }
    record.status = StepStatus::kFailed;
    record.reason = ErrorText(Error("if: " + result.error().message, step.if_loc));
    return Decision::kSkip;
  }
  if (!*result) return skip("condition is false: " + step.if_expr);
  return Decision::kStart;
}

void Executor::Finish(int i, StepRecord& record) {
  const StepSpec& step = plan_.steps[static_cast<size_t>(i)];
  if (record.finished == SysClock::time_point{}) record.finished = SysClock::now();
  if (record.status == StepStatus::kFailed) {
    if (step.continue_on_error) {
      record.continued = true;
    } else {
      any_failed_ = true;
    }
  }
  if (record.status == StepStatus::kSucceeded) {
    outputs_.Set(step.id, record.outputs);
  } else if (record.status == StepStatus::kUnchanged) {
    // A step left unchanged by its check published nothing now; an earlier run's outputs stand in.
    // In a dry-run without them, dependents show "(known after apply)" rather than failing.
    if (record.outputs.empty() && !record.from_checkpoint && observer_)
      if (auto previous = observer_->PreviousOutputs(i)) record.outputs = *previous;
    if (!record.outputs.empty() || record.from_checkpoint || options_.mode == Mode::kApply)
      outputs_.Set(step.id, record.outputs);
  }
  Event e;
  e.name = "step_finished";
  e.step = step.id;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(record.finished - record.started);
  if (record.started == SysClock::time_point{}) ms = std::chrono::milliseconds(0);
  e.fields = {{"status", StatusName(record.status)},
              {"duration_ms", ms.count()},
              {"attempts", record.attempts},
              {"reason", record.reason}};
  std::string status = StatusName(record.status);
  switch (record.status) {
    case StepStatus::kFailed:
      e.level = record.continued ? Level::kWarn : Level::kError;
      e.message = "failed after " + FormatDuration(ms) + ": " + record.reason +
                  (record.continued ? " (continue_on_error: dependents go on)" : "");
      e.loc = step.loc;
      break;
    case StepStatus::kSkipped:
      e.message = "skipped: " + record.reason;
      break;
    case StepStatus::kUnchanged:
      e.message = "unchanged (" + record.reason + ")";
      break;
    case StepStatus::kCancelled:
      e.level = Level::kWarn;
      e.message = "interrupted: " + record.reason;
      break;
    case StepStatus::kWouldRun:
      e.message = "would run";
      break;
    default:
      e.message = status + " in " + FormatDuration(ms) + (record.reason.empty() ? "" : ": " + record.reason);
  }
  if (observer_) observer_->OnTransition(i, record);
  if (options_.mode == Mode::kApply) events_.Emit(e);
}

RunResult Executor::Run() {
  const size_t n = plan_.steps.size();
  RunResult result;
  result.steps.resize(n);
  view_.plan_name = plan_.name;
  view_.plan_file = plan_.file;
  view_.run_id = options_.run_id;
  view_.started = SysClock::now();
  std::mutex mu;
  view_.steps = [this, &result, &mu] {
    std::vector<StepSnapshot> out;
    std::lock_guard lock(mu);
    for (size_t i = 0; i < plan_.steps.size(); ++i) {
      const StepSpec& s = plan_.steps[i];
      const StepRecord& r = result.steps[i];
      out.push_back({s.id, s.kind, s.description, s.needs, s.tags, StatusName(r.status), r.reason, r.attempts,
                     r.started, r.finished, r.outputs, s.loc});
    }
    return out;
  };
  std::vector<int> order = dag_.TopoOrder();
  std::condition_variable cv;
  std::deque<std::pair<int, StepRecord>> completed;  // finished by a worker, not yet handled
  std::map<int, std::thread> threads;
  std::vector<StepContext> contexts(n);
  size_t running = 0;
  bool stop_scheduling = false;

  if (options_.mode == Mode::kApply) {
    Event start;
    start.name = "run_started";
    start.message = "applying plan '" + plan_.name + "' (" + std::to_string(n) + " steps, parallel " +
                    std::to_string(options_.parallel) + ")";
    start.fields = {{"plan", plan_.name}, {"steps", n}, {"parallel", options_.parallel}};
    events_.Emit(start);
  }
  std::filesystem::path log_dir = options_.state_dir / "logs" / plan_.name;
  std::error_code ec;
  std::filesystem::create_directories(log_dir, ec);

  auto all_deps_done = [&](int i) {
    for (int d : dag_.Deps(i))
      if (!result.steps[static_cast<size_t>(d)].Done()) return false;
    return true;
  };

  // The records are shared with the run view (reports read them from step threads): the loop
  // holds `mu` whenever it touches them and releases it only while waiting.
  std::unique_lock lock(mu);
  while (true) {
    bool interrupted = options_.interrupt && options_.interrupt->load();
    if (interrupted) {
      stop_scheduling = true;
      cancel_running_ = true;
    }
    // Start (or settle) every step whose needs are done, while a slot is free.
    bool progressed = true;
    while (progressed) {
      progressed = false;
      for (int i : order) {
        StepRecord& rec = result.steps[static_cast<size_t>(i)];
        if (rec.status != StepStatus::kPending || !all_deps_done(i)) continue;
        Decision d = Decide(i, rec, stop_scheduling);
        if (d == Decision::kSkip) {
          Finish(i, rec);
          result.finish_order.push_back(i);
          progressed = true;
          continue;
        }
        if (running >= static_cast<size_t>(options_.parallel)) break;
        const StepSpec& step = plan_.steps[static_cast<size_t>(i)];
        const StepKind* kind = kinds_.Find(step.kind);
        rec.started = SysClock::now();
        auto rendered = Render(step);
        if (!kind || !rendered) {
          rec.status = StepStatus::kFailed;
          rec.reason = !kind ? "unknown step kind '" + step.kind + "'" : ErrorText(rendered.error());
          Finish(i, rec);
          result.finish_order.push_back(i);
          progressed = true;
          continue;
        }
        rec.rendered = *rendered;
        rec.fingerprint = StepFingerprint(kind, step, rec.rendered, options_.plan_dir);
        if (observer_ && !kind->HasProbe(step)) {
          if (auto reused = observer_->Reuse(i, rec)) {
            rec = *reused;
            Finish(i, rec);
            result.finish_order.push_back(i);
            progressed = true;
            continue;
          }
        }
        StepContext& ctx = contexts[static_cast<size_t>(i)];
        ctx.plan = &plan_;
        ctx.spec = &step;
        ctx.body = rec.rendered;
        ctx.mode = options_.mode;
        ctx.plan_dir = options_.plan_dir;
        ctx.state_dir = options_.state_dir;
        ctx.log_file = log_dir / (step.id + ".log");
        ctx.timeout = plan_.TimeoutOf(step);
        ctx.grace = options_.grace;
        // A step started after an interrupt (an always()/cancelled() step) is stopped only by a second Ctrl-C.
        ctx.cancel = (options_.interrupt && options_.interrupt->load()) ? options_.kill_now : &cancel_running_;
        ctx.kill_now = options_.kill_now;
        ctx.events = &events_;
        ctx.masker = &masker_;
        ctx.extra_env = options_.extra_env;
        ctx.run = &view_;
        ctx.vars = &vars_;
        ctx.provider = [this, i](const std::string& what) { return FindProvider(i, what); };
        if (options_.mode == Mode::kApply) std::ofstream(ctx.log_file, std::ios::trunc);
        rec.status = StepStatus::kRunning;
        if (observer_) observer_->OnTransition(i, rec);
        if (options_.mode == Mode::kApply) {
          Event e;
          e.name = "step_started";
          e.step = step.id;
          e.message = "started" + (step.description.empty() ? "" : ": " + step.description);
          e.fields = {{"kind", step.kind}};
          events_.Emit(e);
        }
        ++running;
        progressed = true;
        StepRecord start_record = rec;
        threads[i] = std::thread([&, i, kind, start_record] {
          StepRecord local = start_record;
          try {
            runner_.Run(*kind, contexts[static_cast<size_t>(i)], local);
          } catch (const std::exception& ex) {
            local.status = StepStatus::kFailed;
            local.reason = std::string("internal error: ") + ex.what();
          }
          local.finished = SysClock::now();
          // The record becomes visible only when the loop handles it: until then the step is
          // still running as far as its dependents are concerned.
          std::lock_guard lock(mu);
          completed.emplace_back(i, std::move(local));
          cv.notify_one();
        });
      }
    }
    if (running == 0) break;
    // Wait for a step to finish (or an interrupt to notice).
    cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return !completed.empty(); });
    if (completed.empty()) continue;
    int done = completed.front().first;
    result.steps[static_cast<size_t>(done)] = std::move(completed.front().second);
    completed.pop_front();
    threads[done].join();  // it has handed its record over and only returns now
    threads.erase(done);
    --running;
    StepRecord& rec = result.steps[static_cast<size_t>(done)];
    Finish(done, rec);
    result.finish_order.push_back(done);
    if (rec.status == StepStatus::kFailed && !rec.continued) {
      stop_scheduling = true;
      if (options_.fail_fast) cancel_running_ = true;
    }
  }
  lock.unlock();
  for (size_t i = 0; i < n; ++i) {
    if (!result.steps[i].Done()) {
      // Nothing runs, nothing is ready, yet work is left: only a cycle could do this, and
      // validation rejects cycles. Say so rather than hang or pretend.
      result.steps[i].status = StepStatus::kFailed;
      result.steps[i].reason = "internal error: step never became ready";
      any_failed_ = true;
    }
  }
  result.failed = any_failed_;
  result.interrupted = options_.interrupt && options_.interrupt->load();
  return result;
}

}  // namespace slipway::pipeline
