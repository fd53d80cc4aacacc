// Semantic validation after loading: kinds, template references (with the exact column of the
// "{{"), outputs, shell scripts with templates and `if:` syntax.

#include "pipeline/validate.h"

#include <gtest/gtest.h>

#include "pipeline/loader.h"
#include "test/pipeline/testing.h"

namespace slipway::pipeline {
namespace {

using slipway::testing::Messages;
using slipway::testing::ScopedEnv;

/// A kind with a fixed list of outputs, as k8s.namespace declares them.
class FakeNamespaceKind : public StepKind {
 public:
  std::string Name() const override { return "k8s.namespace"; }
  std::optional<std::vector<std::string>> Outputs(const StepSpec&) const override {
    return std::vector<std::string>{"name", "created"};
  }
  std::vector<std::string> Describe(const StepContext&) const override { return {}; }
  Expected<ApplyResult> Apply(const StepContext&) const override { return ApplyResult{}; }
};

/// A kind that publishes no outputs at all.
class FakeQuietKind : public StepKind {
 public:
  std::string Name() const override { return "quiet"; }
  std::vector<std::string> Describe(const StepContext&) const override { return {}; }
  Expected<ApplyResult> Apply(const StepContext&) const override { return ApplyResult{}; }
};

/// Stands in for the run kind: outputs known only at run time; rejects `with:` like the real one.
class FakeRunKind : public StepKind {
 public:
  std::string Name() const override { return "run"; }
  void Validate(const StepSpec& step, Diagnostics& diag) const override {
    if (step.body.contains("with")) diag.Error(step.LocOf("/with"), "a run step takes no 'with:'");
  }
  std::optional<std::vector<std::string>> Outputs(const StepSpec&) const override { return std::nullopt; }
  std::vector<std::string> Describe(const StepContext&) const override { return {}; }
  Expected<ApplyResult> Apply(const StepContext&) const override { return ApplyResult{}; }
};

class ValidateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kinds_.Register(std::make_unique<FakeNamespaceKind>());
    kinds_.Register(std::make_unique<FakeQuietKind>());
    kinds_.Register(std::make_unique<FakeRunKind>());
  }
  /// Loads the plan (which must load cleanly) and returns only the validation diagnostics.
  std::vector<std::string> Validate(const std::string& text) {
    Diagnostics load;
    auto plan = LoadPlanText("plan.yaml", text, load);
    EXPECT_TRUE(plan.has_value());
    EXPECT_FALSE(load.HasErrors()) << load.Format();
    if (!plan) return {"<not loaded>"};
    Dag dag = Dag::Build(*plan, load);
    EXPECT_FALSE(load.HasErrors()) << load.Format();
    Diagnostics diag;
    diag.AddSource("plan.yaml", text);
    ValidatePlan(*plan, dag, kinds_, plan->vars, diag);
    return Messages(diag);
  }
  KindRegistry kinds_;
};

constexpr const char* kHeader = "apiVersion: slipway/v1\nkind: Plan\nmetadata: {name: demo}\n";

TEST_F(ValidateTest, ValidPlanHasNoErrors) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(vars: {namespace: shop, db: {host: pg}}
steps:
  - id: ns
    uses: k8s.namespace
    with: {name: "{{ vars.namespace }}"}
  - id: app
    run: [deploy, "{{ steps.ns.outputs.name }}", "{{ vars.db.host }}"]
    needs: [ns]
    if: "steps.ns.outputs.created == 'true' && vars.namespace != ''"
)"),
            std::vector<std::string>{});
}

TEST_F(ValidateTest, UnknownKindSuggestsTheClosestKind) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(steps:
  - id: ns
    uses: k8s.namespac
)"),
            std::vector<std::string>{
                "plan.yaml:6:11: error: unknown step kind 'k8s.namespac'; did you mean 'k8s.namespace'?"});
}

TEST_F(ValidateTest, UnknownKindWithoutNearMatchListsKnownKinds) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(steps:
  - id: ns
    uses: helm.release
)"),
            std::vector<std::string>{
                "plan.yaml:6:11: error: unknown step kind 'helm.release'; known kinds: k8s.namespace quiet run"});
}

TEST_F(ValidateTest, KindsOwnValidationRuns) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(steps:
  - id: a
    run: [make]
    with: {x: 1}
)"),
            std::vector<std::string>{"plan.yaml:7:11: error: a run step takes no 'with:'"});
}

TEST_F(ValidateTest, UnknownVarInUnquotedScalarPointsAtTheBraces) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(vars: {namespace: shop}
steps:
  - id: ns
    uses: k8s.namespace
    with:
      name: pre-{{ vars.namspace }}
)"),
            std::vector<std::string>{
                "plan.yaml:9:17: error: unknown variable 'vars.namspace'; did you mean 'vars.namespace'?"});
}

TEST_F(ValidateTest, UnknownVarInQuotedScalarPointsAtTheBraces) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(vars: {namespace: shop}
steps:
  - id: ns
    uses: k8s.namespace
    with:
      name: "pre-{{ vars.namspace }}"
)"),
            std::vector<std::string>{
                "plan.yaml:9:18: error: unknown variable 'vars.namspace'; did you mean 'vars.namespace'?"});
}

TEST_F(ValidateTest, UnknownVarInsideArgvListPointsAtTheBraces) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(steps:
  - id: a
    run: [echo, 'x={{ vars.missing }}']
)"),
            std::vector<std::string>{"plan.yaml:6:20: error: unknown variable 'vars.missing'; define it under 'vars:' "
                                     "or pass --set missing=VALUE"});
}

TEST_F(ValidateTest, UnknownNestedVarIsReported) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(vars: {db: {host: pg}}
steps:
  - id: a
    run: [echo, "{{ vars.db.port }}"]
)"),
            std::vector<std::string>{"plan.yaml:7:18: error: unknown variable 'vars.db.port'; define it under 'vars:' "
                                     "or pass --set db.port=VALUE"});
}

TEST_F(ValidateTest, EnvVarNotSetIsReported) {
  ScopedEnv unset("SLIPWAY_TEST_UNSET_VAR", std::nullopt);
  ScopedEnv set("SLIPWAY_TEST_SET_VAR", "yes");
  EXPECT_EQ(Validate(std::string(kHeader) + R"(steps:
  - id: a
    run: [echo, "{{ env.SLIPWAY_TEST_SET_VAR }}"]
    env: {TOKEN: "{{ env.SLIPWAY_TEST_UNSET_VAR }}"}
)"),
            std::vector<std::string>{"plan.yaml:7:19: error: environment variable 'SLIPWAY_TEST_UNSET_VAR' is not set "
                                     "(referenced as 'env.SLIPWAY_TEST_UNSET_VAR'); export it, or use a var with a "
                                     "default instead"});
}

TEST_F(ValidateTest, OutputOfUnknownStepSuggestsTheClosestId) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(steps:
  - id: build
    run: [make]
  - id: deploy
    run: [deploy, "{{ steps.buld.outputs.image }}"]
    needs: [build]
)"),
            std::vector<std::string>{"plan.yaml:8:20: error: 'steps.buld.outputs.image' refers to unknown step "
                                     "'buld'; did you mean 'build'?"});
}

TEST_F(ValidateTest, ReadingAnOutputWithoutNeedingTheStepIsAnError) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(steps:
  - id: build
    run: [make]
  - id: deploy
    run: [deploy, "{{ steps.build.outputs.image }}"]
)"),
            std::vector<std::string>{"plan.yaml:8:20: error: step 'deploy' reads 'steps.build.outputs.image' but does "
                                     "not need 'build'; add 'build' to its needs so the output exists when it runs"});
}

TEST_F(ValidateTest, ReadingAnOutputOfAnIndirectDependencyIsAllowed) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(steps:
  - id: build
    run: [make]
  - id: push
    run: [push]
    needs: [build]
  - id: deploy
    run: [deploy, "{{ steps.build.outputs.image }}"]
    needs: [push]
)"),
            std::vector<std::string>{});
}

TEST_F(ValidateTest, OutputNotPublishedByTheKindSuggestsTheClosest) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(steps:
  - id: ns
    uses: k8s.namespace
  - id: a
    run: [echo, "{{ steps.ns.outputs.nam }}"]
    needs: [ns]
)"),
            std::vector<std::string>{
                "plan.yaml:8:18: error: step 'ns' (k8s.namespace) has no output 'nam'; did you mean 'name'?"});
}

TEST_F(ValidateTest, OutputNotPublishedListsTheKindsOutputs) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(steps:
  - id: ns
    uses: k8s.namespace
  - id: q
    uses: quiet
  - id: a
    run: [echo, "{{ steps.ns.outputs.uid }}", "{{ steps.q.outputs.x }}"]
    needs: [ns, q]
)"),
            (std::vector<std::string>{
                "plan.yaml:10:18: error: step 'ns' (k8s.namespace) has no output 'uid'; its outputs: name, created",
                "plan.yaml:10:48: error: step 'q' (quiet) has no output 'x'; it publishes no outputs"}));
}

TEST_F(ValidateTest, ShellScriptContainingATemplateIsAnError) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(vars: {name: x}
steps:
  - id: a
    shell: "echo {{ vars.name }}"
)"),
            std::vector<std::string>{"plan.yaml:7:12: error: templates are not expanded inside a shell script; hand "
                                     "values in through env (env: {NAME: \"{{ vars.x }}\"}) and use \"$NAME\" in the "
                                     "script"});
}

TEST_F(ValidateTest, BadIfSyntaxPointsAtTheColumnInAQuotedValue) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(vars: {mesh: istio}
steps:
  - id: a
    run: [make]
    if: "vars.mesh === 'istio'"
)"),
            std::vector<std::string>{"plan.yaml:8:22: error: unexpected '=' in condition 'vars.mesh === 'istio''"});
}

TEST_F(ValidateTest, BadIfSyntaxPointsAtTheColumnInAPlainValue) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(steps:
  - id: a
    run: [make]
    if: always() &&
)"),
            std::vector<std::string>{
                "plan.yaml:7:20: error: expected a value but found 'end of condition' in condition 'always() &&'"});
}

TEST_F(ValidateTest, UnknownVarInIfPointsAtTheReference) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(vars: {mesh: istio}
steps:
  - id: a
    run: [make]
    if: "${{ vars.msh == 'istio' }}"
)"),
            std::vector<std::string>{"plan.yaml:8:14: error: unknown variable 'vars.msh'; did you mean 'vars.mesh'?"});
}

TEST_F(ValidateTest, MalformedReferenceIsReportedAtTheValue) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(steps:
  - id: a
    run: [echo, "{{ vars.x"]
)"),
            std::vector<std::string>{"plan.yaml:6:17: error: unclosed '{{' at offset 0"});
}

TEST_F(ValidateTest, VarReferringToUnknownVarOrStepOutputIsReported) {
  EXPECT_EQ(Validate(std::string(kHeader) + R"(vars:
  url: "http://{{ vars.hots }}"
  image: "{{ steps.build.outputs.image }}"
steps: []
)"),
            (std::vector<std::string>{
                "plan.yaml:6:3: error: var 'image' refers to 'steps.build.outputs.image'; vars may refer only to other "
                "vars and env",
                "plan.yaml:5:3: error: var 'url' refers to unknown variable 'vars.hots'"}));
}

// `slipway validate` promises every template check before anything runs; a var that refers to
// itself only fails later, at render time.
TEST_F(ValidateTest, SelfReferencingVarIsReported) {
  auto errors = Validate(std::string(kHeader) + R"(vars:
  a: "{{ vars.b }}"
  b: "x{{ vars.a }}"
steps: []
)");
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "plan.yaml:5:3: error: var 'a' refers to itself through other vars; break the loop",
                        "plan.yaml:6:3: error: var 'b' refers to itself through other vars; break the loop"}));
}

}  // namespace
}  // namespace slipway::pipeline
