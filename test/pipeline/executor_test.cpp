// The scheduler, driven through a fake step kind that records when each step ran, can sleep,
// fail on demand and publish outputs. Runs the real Executor with the real ApplyRunner and
// DryRunRunner.

#include "pipeline/executor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include "pipeline/loader.h"
#include "pipeline/validate.h"
#include "test/pipeline/testing.h"

namespace slipway::pipeline {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using slipway::testing::TempDir;

/// What the fake kind saw, shared by every step of a run.
struct Recorder {
  struct Span {
    std::string id;
    Clock::time_point start, end;
  };
  std::mutex mu;
  std::vector<Span> applies;  // in start order
  std::vector<std::string> checks;
  std::map<std::string, std::vector<Clock::time_point>> attempts;
  int running = 0;
  int max_running = 0;

  void Reset() {
    std::lock_guard lock(mu);
    applies.clear();
    checks.clear();
    attempts.clear();
    running = max_running = 0;
  }
  const Span* Find(const std::string& id) {
    for (const auto& s : applies)
      if (s.id == id) return &s;
    return nullptr;
  }
  std::vector<std::string> AppliedIds() {
    std::vector<std::string> out;
    for (const auto& s : applies) out.push_back(s.id);
    return out;
  }
};

/// A step kind steered by its `with:` block:
///   sleep_ms: N        Apply takes N ms
///   fail: true         Apply fails with "boom"
///   fail_times: N      the first N attempts fail with "flaky attempt K"
///   outputs: {k: v}    published on success
///   in_sync: true      Check says the step is already done
class FakeKind : public StepKind {
 public:
  explicit FakeKind(Recorder& rec) : rec_(rec) {}
  std::string Name() const override { return "fake"; }
  std::optional<std::vector<std::string>> Outputs(const StepSpec&) const override { return std::nullopt; }
  std::vector<std::string> Describe(const StepContext& ctx) const override { return {"fake " + ctx.spec->id}; }
  Expected<Probe> Check(const StepContext& ctx) const override {
    {
      std::lock_guard lock(rec_.mu);
      rec_.checks.push_back(ctx.spec->id);
    }
    if (ctx.With().value("in_sync", false)) return Probe{Probe::State::kInSync, "fake is in sync"};
    return Probe{};
  }
  Expected<ApplyResult> Apply(const StepContext& ctx) const override {
    const Json& with = ctx.With();
    const std::string id = ctx.spec->id;
    size_t span_index;
    int attempt;
    {
      std::lock_guard lock(rec_.mu);
      rec_.applies.push_back({id, Clock::now(), {}});
      span_index = rec_.applies.size() - 1;
      rec_.attempts[id].push_back(Clock::now());
      attempt = static_cast<int>(rec_.attempts[id].size());
      rec_.max_running = std::max(rec_.max_running, ++rec_.running);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(with.value("sleep_ms", 0)));
    {
      std::lock_guard lock(rec_.mu);
      --rec_.running;
      rec_.applies[span_index].end = Clock::now();
    }
    if (with.value("fail", false)) return Fail("boom");
    if (attempt <= with.value("fail_times", 0)) return Fail("flaky attempt " + std::to_string(attempt));
    ApplyResult result;
    if (with.contains("outputs"))
      for (auto& [k, v] : with["outputs"].items()) result.outputs[k] = v.get<std::string>();
    result.summary = "did " + id;
    return result;
  }

 private:
  Recorder& rec_;
};

/// Calls a hook on every transition; used to hold the scheduler at a chosen moment.
class HookObserver : public RunObserver {
 public:
  std::function<void(int, const StepRecord&)> hook;
  void OnTransition(int index, const StepRecord& record) override {
    if (hook) hook(index, record);
  }
};

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override { kinds_.Register(std::make_unique<FakeKind>(rec_)); }

  /// Loads and validates a plan made of `body` (vars and steps), then runs it.
  RunResult Run(const std::string& body, ExecOptions options = {}, StepRunner* runner = nullptr,
                RunObserver* observer = nullptr) {
    Diagnostics diag;
    auto plan = LoadPlanText("plan.yaml", "apiVersion: slipway/v1\nkind: Plan\nmetadata: {name: demo}\n" + body, diag);
    EXPECT_TRUE(plan.has_value());
    if (!plan) return {};
    plan_ = std::move(*plan);
    dag_ = Dag::Build(plan_, diag);
    vars_ = plan_.vars;
    ValidatePlan(plan_, dag_, kinds_, vars_, diag);
    EXPECT_FALSE(diag.HasErrors()) << diag.Format();
    options.state_dir = tmp_.Path() / "state";
    options.plan_dir = tmp_.Path();
    Executor executor(plan_, dag_, kinds_, vars_, secrets_, masker_, events_, runner ? *runner : apply_,
                      std::move(options));
    if (observer) executor.SetObserver(observer);
    return executor.Run();
  }
  /// The record of step `id` in `result`.
  const StepRecord& Rec(const RunResult& result, const std::string& id) {
    int i = plan_.IndexOf(id);
    EXPECT_GE(i, 0) << id;
    return result.steps.at(static_cast<size_t>(std::max(i, 0)));
  }
  std::string Status(const RunResult& result, const std::string& id) { return StatusName(Rec(result, id).status); }
  static ExecOptions Parallel(int n) {
    ExecOptions o;
    o.parallel = n;
    return o;
  }

  Recorder rec_;
  KindRegistry kinds_;
  Plan plan_;
  Dag dag_;
  Json vars_;
  Masker masker_;
  SecretStore secrets_{masker_};
  RecordingSink events_;
  ApplyRunner apply_;
  TempDir tmp_;
};

TEST_F(ExecutorTest, OrderRespectsNeeds) {
  RunResult r = Run(R"(steps:
  - {id: c, uses: fake, needs: [b], with: {sleep_ms: 30}}
  - {id: b, uses: fake, needs: [a], with: {sleep_ms: 30}}
  - {id: a, uses: fake, with: {sleep_ms: 30}}
  - {id: d, uses: fake, with: {sleep_ms: 30}}
)",
                    Parallel(4));
  EXPECT_FALSE(r.failed);
  for (const char* id : {"a", "b", "c", "d"}) EXPECT_EQ(Status(r, id), "succeeded") << id;
  ASSERT_NE(rec_.Find("a"), nullptr);
  ASSERT_NE(rec_.Find("b"), nullptr);
  ASSERT_NE(rec_.Find("c"), nullptr);
  EXPECT_GE(rec_.Find("b")->start, rec_.Find("a")->end);
  EXPECT_GE(rec_.Find("c")->start, rec_.Find("b")->end);
  EXPECT_EQ(r.finish_order.back(), plan_.IndexOf("c"));
  EXPECT_EQ(Rec(r, "a").reason, "did a");
  EXPECT_EQ(Rec(r, "a").attempts, 1);
}

TEST_F(ExecutorTest, IndependentStepsOverlapWithParallelTwo) {
  RunResult r = Run(R"(steps:
  - {id: x, uses: fake, with: {sleep_ms: 200}}
  - {id: y, uses: fake, with: {sleep_ms: 200}}
)",
                    Parallel(2));
  ASSERT_NE(rec_.Find("x"), nullptr);
  ASSERT_NE(rec_.Find("y"), nullptr);
  EXPECT_LT(rec_.Find("y")->start, rec_.Find("x")->end);
  EXPECT_LT(rec_.Find("x")->start, rec_.Find("y")->end);
  EXPECT_EQ(rec_.max_running, 2);
}

TEST_F(ExecutorTest, IndependentStepsDoNotOverlapWithParallelOne) {
  RunResult r = Run(R"(steps:
  - {id: x, uses: fake, with: {sleep_ms: 100}}
  - {id: y, uses: fake, with: {sleep_ms: 100}}
)",
                    Parallel(1));
  EXPECT_EQ(rec_.AppliedIds(), (std::vector<std::string>{"x", "y"}));  // plan order
  EXPECT_GE(rec_.Find("y")->start, rec_.Find("x")->end);
  EXPECT_EQ(rec_.max_running, 1);
}

TEST_F(ExecutorTest, ConcurrencyNeverExceedsParallel) {
  RunResult r = Run(R"(steps:
  - {id: s1, uses: fake, with: {sleep_ms: 120}}
  - {id: s2, uses: fake, with: {sleep_ms: 120}}
  - {id: s3, uses: fake, with: {sleep_ms: 120}}
  - {id: s4, uses: fake, with: {sleep_ms: 120}}
  - {id: s5, uses: fake, with: {sleep_ms: 120}}
  - {id: s6, uses: fake, with: {sleep_ms: 120}}
  - {id: s7, uses: fake, with: {sleep_ms: 120}}
)",
                    Parallel(3));
  EXPECT_FALSE(r.failed);
  EXPECT_EQ(rec_.applies.size(), 7u);
  EXPECT_EQ(rec_.max_running, 3);
}

TEST_F(ExecutorTest, FailureStopsSchedulingButRunningStepsFinish) {
  RunResult r = Run(R"(steps:
  - {id: slow, uses: fake, with: {sleep_ms: 300}}
  - {id: bad, uses: fake, with: {fail: true}}
  - {id: later, uses: fake}
  - {id: after_bad, uses: fake, needs: [bad]}
)",
                    Parallel(2));
  EXPECT_TRUE(r.failed);
  EXPECT_EQ(Status(r, "slow"), "succeeded");
  EXPECT_EQ(Status(r, "bad"), "failed");
  EXPECT_EQ(Rec(r, "bad").reason, "boom");
  EXPECT_EQ(Status(r, "later"), "skipped");
  EXPECT_EQ(Rec(r, "later").reason, "not started: an earlier step failed");
  EXPECT_EQ(Status(r, "after_bad"), "skipped");
  EXPECT_EQ(Rec(r, "after_bad").reason, "not started: an earlier step failed");
  auto applied = rec_.AppliedIds();
  std::sort(applied.begin(), applied.end());  // the two start together, in either order
  EXPECT_EQ(applied, (std::vector<std::string>{"bad", "slow"}));
  EXPECT_GT(rec_.Find("slow")->end, rec_.Find("bad")->end);
  EXPECT_EQ(r.finish_order.back(), plan_.IndexOf("slow"));
}

TEST_F(ExecutorTest, FailureEventNamesTheStepAndReason) {
  Run(R"(steps:
  - {id: bad, uses: fake, with: {fail: true}}
)");
  bool found = false;
  for (const auto& e : events_.Events()) {
    if (e.name != "step_finished" || e.step != "bad") continue;
    found = true;
    EXPECT_EQ(e.level, Level::kError);
    EXPECT_EQ(e.fields["status"], "failed");
    EXPECT_EQ(e.fields["reason"], "boom");
    EXPECT_EQ(e.loc.ToString(), "plan.yaml:5:10");
    EXPECT_EQ(e.message.rfind("failed after ", 0), 0u) << e.message;
  }
  EXPECT_TRUE(found);
}

TEST_F(ExecutorTest, AlwaysAndFailureConditionsStillRunAfterAFailure) {
  RunResult r = Run(R"(steps:
  - {id: bad, uses: fake, with: {fail: true}}
  - {id: cleanup, uses: fake, needs: [bad], if: always()}
  - {id: alert, uses: fake, needs: [bad], if: failure()}
  - {id: only_ok, uses: fake, needs: [bad], if: success()}
  - {id: plain, uses: fake, needs: [bad]}
)");
  EXPECT_TRUE(r.failed);
  EXPECT_EQ(Status(r, "cleanup"), "succeeded");
  EXPECT_EQ(Status(r, "alert"), "succeeded");
  EXPECT_EQ(Status(r, "only_ok"), "skipped");
  EXPECT_EQ(Rec(r, "only_ok").reason, "not started: an earlier step failed");
  EXPECT_EQ(Status(r, "plain"), "skipped");
}

TEST_F(ExecutorTest, FailureConditionIsFalseWhenNothingFailed) {
  RunResult r = Run(R"(steps:
  - {id: ok, uses: fake}
  - {id: alert, uses: fake, needs: [ok], if: failure()}
)");
  EXPECT_FALSE(r.failed);
  EXPECT_EQ(Status(r, "alert"), "skipped");
  EXPECT_EQ(Rec(r, "alert").reason, "condition is false: failure()");
}

TEST_F(ExecutorTest, ContinueOnErrorLetsDependentsRun) {
  RunResult r = Run(R"(steps:
  - {id: flaky, uses: fake, continue_on_error: true, with: {fail: true}}
  - {id: next, uses: fake, needs: [flaky]}
  - {id: independent, uses: fake}
)");
  EXPECT_FALSE(r.failed);
  EXPECT_EQ(Status(r, "flaky"), "failed");
  EXPECT_TRUE(Rec(r, "flaky").continued);
  EXPECT_EQ(Status(r, "next"), "succeeded");
  EXPECT_EQ(Status(r, "independent"), "succeeded");
}

TEST_F(ExecutorTest, RetriesWithDoublingBackoff) {
  RunResult r = Run(R"(steps:
  - id: flaky
    uses: fake
    retries: {attempts: 3, backoff: 100ms}
    with: {fail_times: 2}
)");
  EXPECT_FALSE(r.failed);
  EXPECT_EQ(Status(r, "flaky"), "succeeded");
  EXPECT_EQ(Rec(r, "flaky").attempts, 3);
  const auto& t = rec_.attempts["flaky"];
  ASSERT_EQ(t.size(), 3u);
  auto gap1 = std::chrono::duration_cast<std::chrono::milliseconds>(t[1] - t[0]);
  auto gap2 = std::chrono::duration_cast<std::chrono::milliseconds>(t[2] - t[1]);
  EXPECT_GE(gap1, 95ms);
  EXPECT_LT(gap1, 300ms);
  EXPECT_GE(gap2, 195ms);
  EXPECT_LT(gap2, 600ms);
  std::vector<std::string> warnings;
  for (const auto& e : events_.Events())
    if (e.name == "step_log" && e.step == "flaky") warnings.push_back(e.message);
  EXPECT_EQ(warnings, (std::vector<std::string>{"attempt 1/3 failed: flaky attempt 1; retrying in 100ms",
                                                "attempt 2/3 failed: flaky attempt 2; retrying in 200ms"}));
}

TEST_F(ExecutorTest, RetriesExhaustedFailWithTheLastError) {
  RunResult r = Run(R"(defaults: {retries: {attempts: 2, backoff: 10ms}}
steps:
  - {id: flaky, uses: fake, with: {fail_times: 5}}
)");
  EXPECT_TRUE(r.failed);
  EXPECT_EQ(Status(r, "flaky"), "failed");
  EXPECT_EQ(Rec(r, "flaky").attempts, 2);
  EXPECT_EQ(Rec(r, "flaky").reason, "flaky attempt 2");
}

TEST_F(ExecutorTest, SkipTestsSkipsTaggedStepsAndTheirDependentsStillRun) {
  const std::string plan = R"(steps:
  - {id: build, uses: fake}
  - {id: smoke, uses: fake, needs: [build], tags: [test]}
  - {id: deploy, uses: fake, needs: [smoke]}
)";
  ExecOptions o;
  o.skip_tests = true;
  RunResult r = Run(plan, o);
  EXPECT_FALSE(r.failed);
  EXPECT_EQ(Status(r, "smoke"), "skipped");
  EXPECT_EQ(Rec(r, "smoke").reason, "--skip-tests (tagged test)");
  EXPECT_EQ(Status(r, "deploy"), "succeeded");
  EXPECT_EQ(rec_.AppliedIds(), (std::vector<std::string>{"build", "deploy"}));
}

TEST_F(ExecutorTest, TaggedTestStepsRunWithoutSkipTests) {
  RunResult r = Run(R"(steps:
  - {id: smoke, uses: fake, tags: [test]}
)");
  EXPECT_EQ(Status(r, "smoke"), "succeeded");
}

TEST_F(ExecutorTest, OnlySelectsTheStepsAndTheirNeeds) {
  ExecOptions o;
  o.only = {"c"};
  RunResult r = Run(R"(steps:
  - {id: a, uses: fake}
  - {id: b, uses: fake, needs: [a]}
  - {id: c, uses: fake, needs: [b]}
  - {id: d, uses: fake}
  - {id: e, uses: fake, needs: [c]}
)",
                    o);
  EXPECT_EQ(rec_.AppliedIds(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Status(r, "d"), "skipped");
  EXPECT_EQ(Rec(r, "d").reason, "not selected by --only");
  EXPECT_EQ(Status(r, "e"), "skipped");
  EXPECT_FALSE(r.failed);
}

TEST_F(ExecutorTest, FalseConditionSkipsWithTheReason) {
  RunResult r = Run(R"(vars: {env: staging}
steps:
  - {id: prod_only, uses: fake, if: "vars.env == 'prod'"}
  - {id: staging_only, uses: fake, if: "vars.env == 'staging'"}
  - {id: after, uses: fake, needs: [prod_only]}
)");
  EXPECT_FALSE(r.failed);
  EXPECT_EQ(Status(r, "prod_only"), "skipped");
  EXPECT_EQ(Rec(r, "prod_only").reason, "condition is false: vars.env == 'prod'");
  EXPECT_EQ(Status(r, "staging_only"), "succeeded");
  EXPECT_EQ(Status(r, "after"), "succeeded");  // a skipped need does not block its dependents
}

TEST_F(ExecutorTest, OutputsFlowIntoDependentsAndScalarsAreTyped) {
  RunResult r = Run(R"(vars: {replicas: 3}
steps:
  - {id: build, uses: fake, with: {outputs: {image: "repo/app:1.2", count: "5"}}}
  - id: deploy
    uses: fake
    needs: [build]
    with: {image: "{{ steps.build.outputs.image }}", count: "{{ steps.build.outputs.count }}",
           replicas: "{{ vars.replicas }}", label: "n={{ vars.replicas }}"}
)");
  EXPECT_FALSE(r.failed);
  EXPECT_EQ(Rec(r, "build").outputs, (std::map<std::string, std::string>{{"count", "5"}, {"image", "repo/app:1.2"}}));
  EXPECT_EQ(Rec(r, "deploy").rendered["with"],
            Json::parse(R"({"image": "repo/app:1.2", "count": 5, "replicas": 3, "label": "n=3"})"));
  EXPECT_EQ(Rec(r, "deploy").fingerprint.size(), 64u);
}

TEST_F(ExecutorTest, RenderErrorFailsTheStepWithItsPosition) {
  RunResult r = Run(R"(steps:
  - {id: build, uses: fake}
  - {id: use, uses: fake, needs: [build], with: {x: "{{ steps.build.outputs.nope }}"}}
)");
  EXPECT_TRUE(r.failed);
  EXPECT_EQ(Status(r, "use"), "failed");
  EXPECT_EQ(Rec(r, "use").reason,
            "plan.yaml:6:53: 'steps.build.outputs.nope': step 'build' published no output 'nope' (it published none)");
}

TEST_F(ExecutorTest, DryRunRunnerChecksButNeverApplies) {
  DryRunRunner dry;
  ExecOptions o;
  o.mode = Mode::kDryRun;
  RunResult r = Run(R"(steps:
  - {id: a, uses: fake, with: {in_sync: true}}
  - {id: b, uses: fake, needs: [a]}
)",
                    o, &dry);
  EXPECT_TRUE(rec_.applies.empty());
  EXPECT_EQ(rec_.checks, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Status(r, "a"), "unchanged");
  EXPECT_TRUE(Rec(r, "a").probed);
  EXPECT_EQ(Rec(r, "a").probe_detail, "fake is in sync");
  EXPECT_EQ(Status(r, "b"), "would-run");
  EXPECT_FALSE(Rec(r, "b").probed);
  EXPECT_EQ(Rec(r, "b").describe, std::vector<std::string>{"fake b"});
  EXPECT_FALSE(r.failed);
  EXPECT_TRUE(events_.Events().empty());  // a dry-run emits no run events
}

TEST_F(ExecutorTest, DryRunShowsPlaceholderForOutputsOfStepsThatWouldRun) {
  DryRunRunner dry;
  ExecOptions o;
  o.mode = Mode::kDryRun;
  RunResult r = Run(R"(steps:
  - {id: build, uses: fake}
  - {id: deploy, uses: fake, needs: [build], with: {image: "{{ steps.build.outputs.image }}"}}
)",
                    o, &dry);
  EXPECT_EQ(Status(r, "deploy"), "would-run");
  EXPECT_EQ(Rec(r, "deploy").rendered["with"]["image"], "(known after apply: steps.build.outputs.image)");
}

TEST_F(ExecutorTest, DryRunShowsPlaceholderForOutputsOfUnchangedSteps) {
  DryRunRunner dry;
  ExecOptions o;
  o.mode = Mode::kDryRun;
  RunResult r = Run(R"(steps:
  - {id: build, uses: fake, with: {in_sync: true}}
  - {id: deploy, uses: fake, needs: [build], with: {image: "{{ steps.build.outputs.image }}"}}
)",
                    o, &dry);
  EXPECT_EQ(Status(r, "build"), "unchanged");
  EXPECT_EQ(Status(r, "deploy"), "would-run") << Rec(r, "deploy").reason;
}

// The scheduler must not treat a step as done before it has booked that step's outcome. Here the
// observer holds the scheduler (and its lock) while it books `x`; meanwhile `a` and then `bad`
// finish and queue up behind it. Booking `a` must not let `after_bad` start: `bad` has failed.
TEST_F(ExecutorTest, DependentOfAFailedStepNeverStartsWhileTheFailureIsQueued) {
  HookObserver observer;
  observer.hook = [&](int index, const StepRecord& record) {
    if (index == 0 && record.status == StepStatus::kSucceeded) std::this_thread::sleep_for(200ms);
  };
  ExecOptions o;
  o.parallel = 3;
  // Which queued completion the loop takes first is up to the OS; a few rounds make it certain.
  for (int round = 0; round < 4 && !HasFailure(); ++round) {
    rec_.Reset();
    RunResult r = Run(R"(steps:
  - {id: x, uses: fake}
  - {id: a, uses: fake, with: {sleep_ms: 50}}
  - {id: bad, uses: fake, with: {sleep_ms: 100, fail: true}}
  - {id: after_bad, uses: fake, needs: [bad]}
)",
                      o, nullptr, &observer);
    EXPECT_EQ(Status(r, "bad"), "failed");
    EXPECT_EQ(Status(r, "after_bad"), "skipped") << "round " << round;
    EXPECT_EQ(rec_.Find("after_bad"), nullptr) << "after_bad started although bad had failed";
  }
}

// Same window, seen from outputs: `use` reads an output of `producer`, which finished while `x`
// was being booked; it must render with that output, not fail for want of it.
TEST_F(ExecutorTest, DependentSeesOutputsOfANeedWhoseCompletionWasQueued) {
  HookObserver observer;
  observer.hook = [&](int index, const StepRecord& record) {
    if (index == 0 && record.status == StepStatus::kSucceeded) std::this_thread::sleep_for(200ms);
  };
  ExecOptions o;
  o.parallel = 3;
  for (int round = 0; round < 4 && !HasFailure(); ++round) {
    RunResult r = Run(R"(steps:
  - {id: x, uses: fake}
  - {id: a, uses: fake, with: {sleep_ms: 50}}
  - {id: producer, uses: fake, with: {sleep_ms: 100, outputs: {v: "42"}}}
  - {id: use, uses: fake, needs: [producer], with: {v: "{{ steps.producer.outputs.v }}"}}
)",
                      o, nullptr, &observer);
    EXPECT_EQ(Status(r, "use"), "succeeded") << "round " << round << ": " << Rec(r, "use").reason;
  }
}

TEST_F(ExecutorTest, InterruptBeforeStartCancelsEveryStep) {
  std::atomic<bool> interrupt{true};
  ExecOptions o;
  o.interrupt = &interrupt;
  RunResult r = Run(R"(steps:
  - {id: a, uses: fake}
  - {id: b, uses: fake, needs: [a]}
)",
                    o);
  EXPECT_TRUE(r.interrupted);
  EXPECT_TRUE(rec_.applies.empty());
  EXPECT_EQ(Status(r, "a"), "interrupted");
  EXPECT_EQ(Rec(r, "a").reason, "not started: the run was interrupted");
  EXPECT_EQ(Status(r, "b"), "interrupted");
}

// condition.h offers cancelled() for steps that should run when the run is interrupted.
TEST_F(ExecutorTest, CancelledConditionRunsWhenTheRunIsInterrupted) {
  std::atomic<bool> interrupt{true};
  ExecOptions o;
  o.interrupt = &interrupt;
  RunResult r = Run(R"(steps:
  - {id: on_cancel, uses: fake, if: cancelled()}
)",
                    o);
  EXPECT_EQ(Status(r, "on_cancel"), "succeeded");
}

TEST_F(ExecutorTest, ObserverSeesRunningThenFinalState) {
  HookObserver observer;
  std::vector<std::string> seen;
  std::mutex mu;
  observer.hook = [&](int index, const StepRecord& record) {
    std::lock_guard lock(mu);
    seen.push_back(std::to_string(index) + ":" + StatusName(record.status));
  };
  Run(R"(steps:
  - {id: a, uses: fake}
  - {id: b, uses: fake, needs: [a]}
)",
      {}, nullptr, &observer);
  EXPECT_EQ(seen, (std::vector<std::string>{"0:running", "0:succeeded", "1:running", "1:succeeded"}));
}

TEST_F(ExecutorTest, StatusNamesRoundTrip) {
  for (auto s : {StepStatus::kPending, StepStatus::kRunning, StepStatus::kSucceeded, StepStatus::kUnchanged,
                 StepStatus::kWouldRun, StepStatus::kFailed, StepStatus::kSkipped, StepStatus::kCancelled,
                 StepStatus::kRolledBack, StepStatus::kRollbackFailed})
    EXPECT_EQ(StatusFromName(StatusName(s)), s) << StatusName(s);
  EXPECT_EQ(StatusFromName("bogus"), std::nullopt);
}

TEST_F(ExecutorTest, FingerprintChangesWithKindAndBody) {
  Json body = Json::parse(R"({"with": {"a": 1}})");
  std::string base = Fingerprint("fake", body);
  EXPECT_EQ(base, Fingerprint("fake", body));
  EXPECT_NE(base, Fingerprint("other", body));
  EXPECT_NE(base, Fingerprint("fake", Json::parse(R"({"with": {"a": 2}})")));
  EXPECT_NE(base, Fingerprint("fake", body, "file content"));
}

/// A kind naming one file (with.file) for the fingerprint.
class FileKind : public StepKind {
 public:
  std::string Name() const override { return "file"; }
  std::vector<std::string> Describe(const StepContext&) const override { return {}; }
  Expected<ApplyResult> Apply(const StepContext&) const override { return ApplyResult{}; }
  std::vector<std::filesystem::path> ReferencedFiles(const StepSpec&, const Json& rendered,
                                                     const std::filesystem::path& plan_dir) const override {
    return {plan_dir / rendered["with"]["file"].get<std::string>()};
  }
};

TEST(StepFingerprintTest, CoversTheContentOfReferencedFilesAndTheirAbsence) {
  TempDir tmp;
  FileKind kind;
  StepSpec step;
  step.id = "s";
  step.kind = "file";
  Json body = {{"with", {{"file", "values.yaml"}}}};
  std::string missing = StepFingerprint(&kind, step, body, tmp.Path());
  slipway::testing::WriteFile(tmp.File("values.yaml"), "a: 1\n");
  std::string v1 = StepFingerprint(&kind, step, body, tmp.Path());
  slipway::testing::WriteFile(tmp.File("values.yaml"), "a: 2\n");
  std::string v2 = StepFingerprint(&kind, step, body, tmp.Path());
  EXPECT_NE(missing, v1);
  EXPECT_NE(v1, v2);
  EXPECT_EQ(v2, StepFingerprint(&kind, step, body, tmp.Path())) << "same content, same fingerprint";
  slipway::testing::WriteFile(tmp.File("values.yaml"), "");
  EXPECT_NE(StepFingerprint(&kind, step, body, tmp.Path()), missing) << "an empty file is not a missing one";
  // Without referenced files the fingerprint is the plain one of the rendered body.
  EXPECT_EQ(StepFingerprint(nullptr, step, body, tmp.Path()), Fingerprint("file", body));
}

}  // namespace
}  // namespace slipway::pipeline
