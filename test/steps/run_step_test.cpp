// The `run` kind, driven through the real Executor: outputs via $SLIPWAY_OUTPUT, `check:` that
// makes a step unchanged, failure messages, rollback with the step's outputs, timeouts.

#include "steps/run_step.h"

#include <gtest/gtest.h>

#include "pipeline/executor.h"
#include "pipeline/loader.h"
#include "pipeline/validate.h"
#include "steps/registry.h"
#include "test/pipeline/testing.h"

namespace slipway::steps {
namespace {

using namespace std::chrono_literals;
using pipeline::Diagnostics;
using pipeline::ExecOptions;
using pipeline::Json;
using pipeline::RunResult;
using pipeline::StepRecord;
using pipeline::StepStatus;
using slipway::testing::Messages;
using slipway::testing::ReadFile;
using slipway::testing::TempDir;
using slipway::testing::WriteFile;

class RunStepTest : public ::testing::Test {
 protected:
  /// Loads and validates a plan made of `body`, then runs it in the temp dir (the plan's dir).
  RunResult Run(const std::string& body, ExecOptions options = {}, pipeline::StepRunner* runner = nullptr) {
    Diagnostics diag;
    auto plan = pipeline::LoadPlanText("plan.yaml",
                                       "apiVersion: slipway/v1\nkind: Plan\nmetadata: {name: demo}\n" + body, diag);
    EXPECT_TRUE(plan.has_value());
    if (!plan) return {};
    plan_ = std::move(*plan);
    dag_ = pipeline::Dag::Build(plan_, diag);
    vars_ = plan_.vars;
    pipeline::ValidatePlan(plan_, dag_, kinds_, vars_, diag);
    EXPECT_FALSE(diag.HasErrors()) << diag.Format();
    options.state_dir = tmp_.Path() / ".slipway";
    options.plan_dir = tmp_.Path();
    options.grace = 1s;
    pipeline::Executor executor(plan_, dag_, kinds_, vars_, secrets_, masker_, events_, runner ? *runner : apply_,
                                std::move(options));
    return executor.Run();
  }
  const StepRecord& Rec(const RunResult& result, const std::string& id) {
    int i = plan_.IndexOf(id);
    EXPECT_GE(i, 0) << id;
    return result.steps.at(static_cast<size_t>(std::max(i, 0)));
  }
  std::string Status(const RunResult& result, const std::string& id) {
    return pipeline::StatusName(Rec(result, id).status);
  }
  /// A context like the executor builds, for calling the kind directly (rollback).
  pipeline::StepContext Context(const std::string& id, const Json& rendered) {
    pipeline::StepContext ctx;
    ctx.plan = &plan_;
    ctx.spec = &plan_.steps.at(static_cast<size_t>(plan_.IndexOf(id)));
    ctx.body = rendered;
    ctx.plan_dir = tmp_.Path();
    ctx.state_dir = tmp_.Path() / ".slipway";
    ctx.timeout = 10s;
    ctx.grace = 1s;
    ctx.masker = &masker_;
    ctx.events = &events_;
    return ctx;
  }
  std::string File(const std::string& name) { return tmp_.File(name); }

  pipeline::KindRegistry kinds_ = BuiltinKinds();
  pipeline::Plan plan_;
  pipeline::Dag dag_;
  Json vars_;
  pipeline::Masker masker_;
  pipeline::SecretStore secrets_{masker_};
  pipeline::RecordingSink events_;
  pipeline::ApplyRunner apply_;
  TempDir tmp_;
};

TEST_F(RunStepTest, RunsArgvInThePlanDirectory) {
  RunResult r = Run(R"(steps:
  - id: hello
    run: [bash, -c, 'printf "%s|" "$@" > out.txt', bash, "two words", "$HOME", "*"]
)");
  EXPECT_EQ(Status(r, "hello"), "succeeded") << Rec(r, "hello").reason;
  EXPECT_EQ(ReadFile(File("out.txt")), "two words|$HOME|*|");
}

TEST_F(RunStepTest, OutputsComeFromKeyValueAndHeredocLines) {
  RunResult r = Run(R"(steps:
  - id: build
    shell: |
      echo "image=repo/app:1.2" >> "$SLIPWAY_OUTPUT"
      echo "url=http://x/?a=b" >> "$SLIPWAY_OUTPUT"
      printf 'notes<<EOF\nline one\nline two\nEOF\n' >> "$SLIPWAY_OUTPUT"
      echo "step=$SLIPWAY_STEP_ID plan=$SLIPWAY_PLAN" >> "$SLIPWAY_OUTPUT"
)");
  EXPECT_EQ(Status(r, "build"), "succeeded") << Rec(r, "build").reason;
  EXPECT_EQ(Rec(r, "build").outputs, (std::map<std::string, std::string>{{"image", "repo/app:1.2"},
                                                                         {"url", "http://x/?a=b"},
                                                                         {"notes", "line one\nline two"},
                                                                         {"step", "build plan=demo"}}));
}

TEST_F(RunStepTest, DependentReadsOutputsThroughEnv) {
  RunResult r = Run(R"(steps:
  - id: build
    run: [bash, -c, 'echo "image=repo/app:<1.2>&\"x\"" >> "$SLIPWAY_OUTPUT"']
  - id: deploy
    needs: [build]
    run: [bash, -c, 'printf "%s" "$IMAGE" > deployed.txt']
    env: {IMAGE: "{{ steps.build.outputs.image }}"}
)");
  EXPECT_EQ(Status(r, "deploy"), "succeeded") << Rec(r, "deploy").reason;
  EXPECT_EQ(ReadFile(File("deployed.txt")), "repo/app:<1.2>&\"x\"");
}

TEST_F(RunStepTest, CheckExitZeroMeansUnchangedAndApplyDoesNotRun) {
  WriteFile(File("ready"), "");
  RunResult r = Run(R"(steps:
  - id: setup
    run: [touch, marker]
    check: [test, -e, ready]
)");
  EXPECT_EQ(Status(r, "setup"), "unchanged");
  EXPECT_EQ(Rec(r, "setup").reason, "check passed: test -e ready");
  EXPECT_EQ(Rec(r, "setup").attempts, 0);
  EXPECT_FALSE(std::filesystem::exists(File("marker")));
}

TEST_F(RunStepTest, CheckNonZeroMeansApplyRuns) {
  RunResult r = Run(R"(steps:
  - id: setup
    run: [touch, marker]
    check: {shell: "test -e marker"}
)");
  EXPECT_EQ(Status(r, "setup"), "succeeded") << Rec(r, "setup").reason;
  EXPECT_TRUE(std::filesystem::exists(File("marker")));
}

TEST_F(RunStepTest, CheckThatCannotStartFailsTheStep) {
  RunResult r = Run(R"(steps:
  - id: setup
    run: [touch, marker]
    check: [slipway-no-such-check-xyz]
)");
  EXPECT_EQ(Status(r, "setup"), "failed");
  EXPECT_EQ(Rec(r, "setup").reason,
            "check failed: slipway-no-such-check-xyz: command not found on PATH");
  EXPECT_FALSE(std::filesystem::exists(File("marker")));
}

TEST_F(RunStepTest, FailureMessageHasExitCodeAndLastStderrLines) {
  RunResult r = Run(R"(steps:
  - id: broken
    run: [bash, -c, 'echo progress; echo one >&2; echo two >&2; echo three >&2; echo four >&2; exit 3']
)");
  EXPECT_TRUE(r.failed);
  EXPECT_EQ(Status(r, "broken"), "failed");
  EXPECT_EQ(Rec(r, "broken").reason, "exit 3: two | three | four");
}

TEST_F(RunStepTest, FailureWithoutStderrQuotesStdout) {
  RunResult r = Run(R"(steps:
  - id: broken
    run: [bash, -c, 'echo only stdout; exit 1']
)");
  EXPECT_EQ(Rec(r, "broken").reason, "exit 1: only stdout");
}

TEST_F(RunStepTest, CommandNotFoundFailsTheStep) {
  RunResult r = Run(R"(steps:
  - id: missing
    run: [slipway-no-such-tool-xyz, --version]
)");
  EXPECT_EQ(Status(r, "missing"), "failed");
  EXPECT_EQ(Rec(r, "missing").reason, "slipway-no-such-tool-xyz: command not found on PATH");
}

TEST_F(RunStepTest, TimeoutTerminatesTheStep) {
  auto start = std::chrono::steady_clock::now();
  RunResult r = Run(R"(steps:
  - id: slow
    run: [sleep, "30"]
    timeout: 300ms
)");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(Status(r, "slow"), "failed");
  EXPECT_EQ(Rec(r, "slow").reason, "timed out after 300ms; the process group was terminated");
  EXPECT_LT(took, 5s);
}

TEST_F(RunStepTest, RollbackRunsWithOutputsInEnv) {
  RunResult r = Run(R"(steps:
  - id: release
    run: [bash, -c, 'echo "image-tag=v7" >> "$SLIPWAY_OUTPUT"; echo "revision=42" >> "$SLIPWAY_OUTPUT"']
    rollback: [bash, -c, 'echo "$SLIPWAY_OUTPUT_IMAGE_TAG $SLIPWAY_OUTPUT_REVISION $SLIPWAY_STEP_ID $MODE" > rolled-back.txt']
    env: {MODE: prod}
)");
  ASSERT_EQ(Status(r, "release"), "succeeded") << Rec(r, "release").reason;
  const StepRecord& rec = Rec(r, "release");
  EXPECT_EQ(rec.rollback, Json::parse(R"({"outputs": {"image-tag": "v7", "revision": "42"}})"));
  const pipeline::StepKind* kind = kinds_.Find("run");
  ASSERT_NE(kind, nullptr);
  EXPECT_TRUE(kind->CanRollback(plan_.steps[0]));
  auto ctx = Context("release", rec.rendered);
  auto done = kind->Rollback(ctx, rec.rollback);
  ASSERT_TRUE(done.has_value()) << done.error().message;
  EXPECT_EQ(ReadFile(File("rolled-back.txt")), "v7 42 release prod\n");
}

TEST_F(RunStepTest, FailedRollbackSaysWhatFailed) {
  RunResult r = Run(R"(steps:
  - id: release
    run: [bash, -c, 'true']
    rollback: [bash, -c, 'echo cannot undo >&2; exit 4']
)");
  ASSERT_EQ(Status(r, "release"), "succeeded");
  const pipeline::StepKind* kind = kinds_.Find("run");
  auto ctx = Context("release", Rec(r, "release").rendered);
  auto done = kind->Rollback(ctx, Rec(r, "release").rollback);
  ASSERT_FALSE(done.has_value());
  EXPECT_EQ(done.error().message, "rollback bash -c 'echo cannot undo >&2; exit 4': exit 4: cannot undo");
}

TEST_F(RunStepTest, StepWithoutRollbackRecordsNothingToUndo) {
  RunResult r = Run(R"(steps:
  - id: plain
    run: ["true"]
)");
  EXPECT_TRUE(Rec(r, "plain").rollback.is_null());
  EXPECT_FALSE(kinds_.Find("run")->CanRollback(plan_.steps[0]));
}

TEST_F(RunStepTest, DryRunDescribesAndChecksWithoutApplying) {
  std::filesystem::create_directories(tmp_.Path() / "sub");
  pipeline::DryRunRunner dry;
  ExecOptions o;
  o.mode = pipeline::Mode::kDryRun;
  RunResult r = Run(R"(vars: {greeting: hello world}
steps:
  - id: greet
    run: [touch, "{{ vars.greeting }}"]
    env: {B: "2", A: "1"}
    cwd: sub
    check: [test, -e, nothing-here]
    rollback: [rm, -f, "{{ vars.greeting }}"]
)",
                    o, &dry);
  EXPECT_EQ(Status(r, "greet"), "would-run");
  EXPECT_EQ(Rec(r, "greet").describe,
            (std::vector<std::string>{"cwd: sub", "env: A=1", "env: B=2", "run: touch 'hello world'",
                                      "rollback: rm -f 'hello world'"}));
  EXPECT_TRUE(Rec(r, "greet").probed);  // the read-only check ran and said "not done yet"
  EXPECT_EQ(Rec(r, "greet").probe_detail, "check test -e nothing-here exited 1");
  EXPECT_FALSE(std::filesystem::exists(File("hello world")));
  EXPECT_FALSE(std::filesystem::exists(File("sub/hello world")));
}

TEST_F(RunStepTest, ShellStepGetsValuesThroughEnv) {
  RunResult r = Run(R"(vars: {who: "<O'Brien & \"co\">"}
steps:
  - id: greet
    shell: 'printf "hi %s" "$WHO" > greeting.txt'
    env: {WHO: "{{ vars.who }}"}
)");
  EXPECT_EQ(Status(r, "greet"), "succeeded") << Rec(r, "greet").reason;
  EXPECT_EQ(ReadFile(File("greeting.txt")), "hi <O'Brien & \"co\">");
}

// A string var that looks like a number must reach the command as written ("1.10", "007").
TEST_F(RunStepTest, TemplatedArgvKeepsNumericLookingStringsVerbatim) {
  RunResult r = Run(R"(vars: {version: "1.10", build: "007"}
steps:
  - id: tag
    run: [bash, -c, 'printf "%s %s %s" "$1" "$2" "$BUILD" > tag.txt', bash, "{{ vars.version }}", "{{ vars.build }}"]
    env: {BUILD: "{{ vars.build }}"}
)");
  EXPECT_EQ(Status(r, "tag"), "succeeded") << Rec(r, "tag").reason;
  EXPECT_EQ(ReadFile(File("tag.txt")), "1.10 007 007");
}

TEST_F(RunStepTest, ValidateRejectsWithAndEmptyRun) {
  Diagnostics diag;
  auto plan = pipeline::LoadPlanText("plan.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
steps:
  - id: a
    run: [make]
    with: {target: all}
  - id: b
    run: []
)",
                                     diag);
  ASSERT_TRUE(plan.has_value());
  ASSERT_FALSE(diag.HasErrors()) << diag.Format();
  pipeline::Dag dag = pipeline::Dag::Build(*plan, diag);
  pipeline::ValidatePlan(*plan, dag, kinds_, plan->vars, diag);
  EXPECT_EQ(Messages(diag), (std::vector<std::string>{
                                "plan.yaml:7:11: error: a run step takes no 'with:'; use 'env:' to hand values to "
                                "the command, or 'uses:' for a step kind",
                                "plan.yaml:9:10: error: expected 'run' to name a command; the list is empty"}));
}

TEST_F(RunStepTest, ParseOutputFileHandlesEdgeCases) {
  EXPECT_EQ(ParseOutputFile("a=1\r\n\nb=x=y\nc=\nnot a pair\n=novalue\n"),
            (std::map<std::string, std::string>{{"a", "1"}, {"b", "x=y"}, {"c", ""}}));
  EXPECT_EQ(ParseOutputFile("msg=a<<b\n"), (std::map<std::string, std::string>{{"msg", "a<<b"}}));
  EXPECT_EQ(ParseOutputFile("body<<END\n\nx=1\nEND\nafter=2\n"),
            (std::map<std::string, std::string>{{"body", "\nx=1"}, {"after", "2"}}));
  EXPECT_EQ(ParseOutputFile("later=1\nlater=2\n"), (std::map<std::string, std::string>{{"later", "2"}}));
}

TEST_F(RunStepTest, CommandArgvForListsAndShellScripts) {
  EXPECT_EQ(CommandArgv(Json::parse(R"(["kubectl", "get", "pods"])")),
            (std::vector<std::string>{"kubectl", "get", "pods"}));
  EXPECT_EQ(CommandArgv(Json::parse(R"({"shell": "echo $X | wc -c"})")),
            (std::vector<std::string>{"bash", "-eo", "pipefail", "-c", "echo $X | wc -c"}));
}

}  // namespace
}  // namespace slipway::steps
