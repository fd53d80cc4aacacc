// Plan loading: what a valid plan turns into, and every structural error with its exact
// file:line:column and message.

#include "pipeline/loader.h"

#include <gtest/gtest.h>

#include "test/pipeline/testing.h"

namespace slipway::pipeline {
namespace {

using slipway::testing::Messages;

class LoaderTest : public ::testing::Test {
 protected:
  /// Loads `text` as plan.yaml; the diagnostics stay in diag_.
  std::optional<Plan> Load(const std::string& text) { return LoadPlanText("plan.yaml", text, diag_); }
  Diagnostics diag_;
};

constexpr const char* kValidPlan = R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo, description: "A demo"}
vars: {namespace: shop, replicas: 3}
defaults: {timeout: 2m, retries: {attempts: 2, backoff: 1s}}
parallel: 3
steps:
  - id: build
    run: [make, "-j", "2"]
    env: {MODE: release, LEVEL: 3}
    cwd: src
  - id: deploy
    uses: k8s.namespace
    needs: [build]
    tags: [deploy, k8s]
    timeout: 90s
    retries: {attempts: 3, backoff: 2s}
    continue_on_error: true
    if: "vars.namespace == 'shop'"
    with:
      name: shop
      replicas: 3
      ratio: 0.5
      enabled: true
      quoted_number: "42"
      quoted_bool: 'true'
      nothing: null
      list: [1, two, "3"]
  - id: smoke
    shell: "curl -fsS http://127.0.0.1/"
    needs: deploy
    tags: test
    description: Smoke test
)";

TEST_F(LoaderTest, ValidPlanLoadsHeaderAndDefaults) {
  auto plan = Load(kValidPlan);
  ASSERT_TRUE(plan.has_value());
  EXPECT_FALSE(diag_.HasErrors()) << diag_.Format();
  EXPECT_EQ(plan->file, "plan.yaml");
  EXPECT_EQ(plan->api_version, "slipway/v1");
  EXPECT_EQ(plan->name, "demo");
  EXPECT_EQ(plan->description, "A demo");
  EXPECT_EQ(plan->vars, Json::parse(R"({"namespace": "shop", "replicas": 3})"));
  EXPECT_EQ(plan->var_locs.at("replicas").ToString(), "plan.yaml:4:25");
  EXPECT_EQ(plan->default_timeout, std::chrono::minutes(2));
  EXPECT_EQ(plan->default_retries.attempts, 2);
  EXPECT_EQ(plan->default_retries.backoff, std::chrono::seconds(1));
  ASSERT_TRUE(plan->parallel.has_value());
  EXPECT_EQ(*plan->parallel, 3);
}

TEST_F(LoaderTest, ValidPlanLoadsStepsWithIdsKindsNeedsAndTags) {
  auto plan = Load(kValidPlan);
  ASSERT_TRUE(plan.has_value());
  ASSERT_EQ(plan->steps.size(), 3u) << diag_.Format();
  const StepSpec& build = plan->steps[0];
  const StepSpec& deploy = plan->steps[1];
  const StepSpec& smoke = plan->steps[2];
  EXPECT_EQ(build.id, "build");
  EXPECT_EQ(build.kind, "run");
  EXPECT_EQ(build.loc.ToString(), "plan.yaml:8:9");
  EXPECT_EQ(build.kind_loc.ToString(), "plan.yaml:9:10");
  EXPECT_TRUE(build.needs.empty());
  EXPECT_EQ(deploy.id, "deploy");
  EXPECT_EQ(deploy.kind, "k8s.namespace");
  EXPECT_EQ(deploy.kind_loc.ToString(), "plan.yaml:13:11");
  EXPECT_EQ(deploy.needs, std::vector<std::string>{"build"});
  ASSERT_EQ(deploy.needs_locs.size(), 1u);
  EXPECT_EQ(deploy.needs_locs[0].ToString(), "plan.yaml:14:13");
  EXPECT_EQ(deploy.tags, (std::vector<std::string>{"deploy", "k8s"}));
  EXPECT_EQ(smoke.kind, "run");
  EXPECT_EQ(smoke.needs, std::vector<std::string>{"deploy"});  // a single scalar is a one-item list
  EXPECT_EQ(smoke.needs_locs[0].ToString(), "plan.yaml:31:12");
  EXPECT_EQ(smoke.tags, std::vector<std::string>{"test"});
  EXPECT_TRUE(smoke.HasTag("test"));
  EXPECT_EQ(smoke.description, "Smoke test");
  EXPECT_EQ(plan->IndexOf("smoke"), 2);
  EXPECT_EQ(plan->IndexOf("nope"), -1);
}

TEST_F(LoaderTest, ValidPlanLoadsTimeoutRetriesConditionAndContinueOnError) {
  auto plan = Load(kValidPlan);
  ASSERT_TRUE(plan.has_value());
  ASSERT_EQ(plan->steps.size(), 3u) << diag_.Format();
  const StepSpec& build = plan->steps[0];
  const StepSpec& deploy = plan->steps[1];
  EXPECT_FALSE(build.timeout.has_value());
  EXPECT_EQ(plan->TimeoutOf(build), std::chrono::minutes(2));  // from defaults
  EXPECT_EQ(plan->RetriesOf(build).attempts, 2);
  ASSERT_TRUE(deploy.timeout.has_value());
  EXPECT_EQ(*deploy.timeout, std::chrono::seconds(90));
  EXPECT_EQ(plan->RetriesOf(deploy).attempts, 3);
  EXPECT_EQ(plan->RetriesOf(deploy).backoff, std::chrono::seconds(2));
  EXPECT_TRUE(deploy.continue_on_error);
  EXPECT_FALSE(build.continue_on_error);
  EXPECT_EQ(deploy.if_expr, "vars.namespace == 'shop'");
  EXPECT_EQ(deploy.if_loc.ToString(), "plan.yaml:19:10");  // past the opening quote
}

TEST_F(LoaderTest, ValidPlanLoadsRunEnvCwdAndShellIntoBody) {
  auto plan = Load(kValidPlan);
  ASSERT_TRUE(plan.has_value());
  ASSERT_EQ(plan->steps.size(), 3u) << diag_.Format();
  // env values are always strings, even when written as numbers.
  EXPECT_EQ(plan->steps[0].body, Json::parse(R"({"run": ["make", "-j", "2"],
                                                 "env": {"MODE": "release", "LEVEL": "3"},
                                                 "cwd": "src"})"));
  EXPECT_EQ(plan->steps[0].LocOf("/run/2").ToString(), "plan.yaml:9:23");
  EXPECT_EQ(plan->steps[0].LocOf("/cwd").ToString(), "plan.yaml:11:10");
  EXPECT_EQ(plan->steps[2].body, Json::parse(R"({"shell": "curl -fsS http://127.0.0.1/"})"));
  EXPECT_EQ(plan->steps[2].LocOf("/shell").ToString(), "plan.yaml:30:12");
  // An unknown pointer falls back to the step's own position.
  EXPECT_EQ(plan->steps[2].LocOf("/nope").ToString(), "plan.yaml:29:9");
}

TEST_F(LoaderTest, WithBecomesTypedJsonAndQuotedScalarsStayStrings) {
  auto plan = Load(kValidPlan);
  ASSERT_TRUE(plan.has_value());
  ASSERT_EQ(plan->steps.size(), 3u) << diag_.Format();
  const Json& with = plan->steps[1].body.at("with");
  EXPECT_EQ(with, Json::parse(R"({"name": "shop", "replicas": 3, "ratio": 0.5, "enabled": true,
                                  "quoted_number": "42", "quoted_bool": "true", "nothing": null,
                                  "list": [1, "two", "3"]})"));
  EXPECT_TRUE(with.at("replicas").is_number_integer());
  EXPECT_TRUE(with.at("ratio").is_number_float());
  EXPECT_TRUE(with.at("enabled").is_boolean());
  EXPECT_TRUE(with.at("quoted_number").is_string());
  EXPECT_TRUE(with.at("quoted_bool").is_string());
  EXPECT_EQ(plan->steps[1].LocOf("/with/replicas").ToString(), "plan.yaml:22:17");
  EXPECT_EQ(plan->steps[1].LocOf("/with/list/2").ToString(), "plan.yaml:28:22");
}

TEST_F(LoaderTest, RetriesAsAScalarMeansAttempts) {
  auto plan = Load(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
steps:
  - id: a
    run: [make]
    retries: 4
)");
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(Messages(diag_), std::vector<std::string>{});
  ASSERT_EQ(plan->steps.size(), 1u);
  EXPECT_EQ(plan->RetriesOf(plan->steps[0]).attempts, 4);
  EXPECT_EQ(plan->RetriesOf(plan->steps[0]).backoff, std::chrono::milliseconds(0));
}

TEST_F(LoaderTest, UnknownStepKeySuggestsTheClosestKey) {
  Load(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
steps:
  - id: a
    run: [make]
    need: [b]
)");
  EXPECT_EQ(Messages(diag_),
            std::vector<std::string>{"plan.yaml:7:5: error: unknown key 'need' in step; did you mean 'needs'?"});
  ASSERT_EQ(diag_.Items().size(), 1u);
  EXPECT_EQ(diag_.Items()[0].loc.line, 7);
  EXPECT_EQ(diag_.Items()[0].loc.column, 5);
  EXPECT_EQ(diag_.Items()[0].message, "unknown key 'need' in step");
  EXPECT_EQ(diag_.Items()[0].hint, "did you mean 'needs'?");
}

TEST_F(LoaderTest, UnknownTopLevelKeySuggestsTheClosestKey) {
  Load(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
varz: {a: 1}
steps: []
)");
  EXPECT_EQ(Messages(diag_),
            std::vector<std::string>{"plan.yaml:4:1: error: unknown key 'varz' in plan; did you mean 'vars'?"});
}

TEST_F(LoaderTest, UnknownTopLevelKeyWithoutNearMatchListsTheAllowedKeys) {
  Load(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
colour: red
steps: []
)");
  EXPECT_EQ(Messages(diag_),
            std::vector<std::string>{"plan.yaml:4:1: error: unknown key 'colour' in plan; expected one of: apiVersion "
                                     "kind metadata vars profiles defaults kube parallel steps"});
}

TEST_F(LoaderTest, RunAsAStringIsAnErrorPointingAtShell) {
  Load(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
steps:
  - id: a
    run: make all
)");
  EXPECT_EQ(Messages(diag_),
            std::vector<std::string>{"plan.yaml:6:10: error: expected 'run' to be a list (argv), e.g. [kubectl, get, "
                                     "pods]; to run a script through a shell, use 'shell:' instead"});
}

TEST_F(LoaderTest, NeedsAsAMapIsAnError) {
  Load(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
steps:
  - id: a
    run: [make]
    needs: {b: true}
)");
  EXPECT_EQ(Messages(diag_),
            std::vector<std::string>{"plan.yaml:7:12: error: expected 'needs' to be a list, got a mapping"});
}

TEST_F(LoaderTest, WithAsAListIsAnError) {
  Load(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
steps:
  - id: a
    uses: k8s.namespace
    with: [shop]
)");
  EXPECT_EQ(Messages(diag_),
            std::vector<std::string>{"plan.yaml:7:11: error: expected 'with' to be a mapping, got a list"});
}

TEST_F(LoaderTest, DuplicateIdPointsAtSecondOccurrenceAndNamesTheFirst) {
  auto plan = Load(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
steps:
  - id: build
    run: [make]
  - id: test
    run: [make, test]
  - id: build
    run: [make, again]
)");
  EXPECT_EQ(Messages(diag_), std::vector<std::string>{"plan.yaml:9:9: error: duplicate step id 'build'; first "
                                                      "defined at plan.yaml:5:9"});
  ASSERT_TRUE(plan.has_value());
  ASSERT_EQ(plan->steps.size(), 2u);  // the duplicate is dropped
  EXPECT_EQ(plan->steps[0].body["run"], Json::parse(R"(["make"])"));
}

TEST_F(LoaderTest, BadDurationNamesTheKeyAndTheAcceptedUnits) {
  Load(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
steps:
  - id: a
    run: [make]
    timeout: 5x
)");
  EXPECT_EQ(Messages(diag_),
            std::vector<std::string>{"plan.yaml:7:14: error: 'timeout': invalid duration '5x'; expected a number with "
                                     "a unit: ms, s, m, h (e.g. 500ms, 30s, 5m, 1h30m)"});
}

TEST_F(LoaderTest, BadBackoffInDefaultsNamesTheDottedKey) {
  Load(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
defaults:
  retries: {attempts: 0, backoff: soon}
steps: []
)");
  EXPECT_EQ(Messages(diag_),
            (std::vector<std::string>{
                "plan.yaml:5:35: error: 'defaults.retries.backoff': invalid duration 'soon'; expected a number with a "
                "unit: ms, s, m, h (e.g. 500ms, 30s, 5m, 1h30m)",
                "plan.yaml:5:12: error: expected 'defaults.retries' attempts to be at least 1"}));
}

TEST_F(LoaderTest, MissingApiVersionAndMetadataNameAreReported) {
  Load(R"(kind: Plan
metadata:
  description: nameless
steps: []
)");
  EXPECT_EQ(Messages(diag_), (std::vector<std::string>{
                                 "plan.yaml:1:1: error: missing 'apiVersion'; expected 'apiVersion: slipway/v1'",
                                 "plan.yaml:3:3: error: missing 'metadata.name'",
                             }));
}

TEST_F(LoaderTest, MissingMetadataAndStepsAreReported) {
  Load("apiVersion: slipway/v1\n");
  EXPECT_EQ(Messages(diag_), (std::vector<std::string>{
                                 "plan.yaml:1:1: error: missing 'metadata' with a 'name'",
                                 "plan.yaml:1:1: error: missing 'steps'; expected a list of steps",
                             }));
}

TEST_F(LoaderTest, UnsupportedApiVersionIsReportedAtItsValue) {
  Load(R"(apiVersion: slipway/v2
kind: Plan
metadata: {name: demo}
steps: []
)");
  EXPECT_EQ(Messages(diag_), std::vector<std::string>{
                                 "plan.yaml:1:13: error: unsupported apiVersion 'slipway/v2'; expected 'slipway/v1'"});
}

TEST_F(LoaderTest, InvalidYamlGivesThePosition) {
  auto plan = Load(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
steps:
  - id: a
     run: [make]
)");
  EXPECT_FALSE(plan.has_value());
  EXPECT_EQ(Messages(diag_), std::vector<std::string>{"plan.yaml:6:9: error: invalid YAML: illegal map value"});
}

TEST_F(LoaderTest, NotAMappingIsReported) {
  Load("- just\n- a list\n");
  EXPECT_EQ(Messages(diag_),
            std::vector<std::string>{"plan.yaml:1:1: error: expected the plan to be a mapping with apiVersion, kind, "
                                     "metadata and steps, got a list"});
}

TEST_F(LoaderTest, ReportsEveryErrorAtOnce) {
  Load(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
steps:
  - id: a
    run: make
    timeout: forever
  - id: b
    uses: k8s.namespace
    nedds: [a]
  - id: a
    run: [again]
)");
  EXPECT_EQ(Messages(diag_),
            (std::vector<std::string>{
                "plan.yaml:6:10: error: expected 'run' to be a list (argv), e.g. [kubectl, get, pods]; to run a script "
                "through a shell, use 'shell:' instead",
                "plan.yaml:7:14: error: 'timeout': invalid duration 'forever'; expected a number with a unit: ms, s, "
                "m, h (e.g. 500ms, 30s, 5m, 1h30m)",
                "plan.yaml:10:5: error: unknown key 'nedds' in step; did you mean 'needs'?",
                "plan.yaml:11:9: error: duplicate step id 'a'; first defined at plan.yaml:5:9",
            }));
  EXPECT_EQ(diag_.Items().size(), 4u);
  std::string formatted = diag_.Format();
  EXPECT_NE(formatted.find("\n      nedds: [a]\n      ^\n"), std::string::npos) << formatted;
  EXPECT_EQ(formatted.substr(formatted.size() - 9), "4 errors\n");
}

TEST_F(LoaderTest, FormatQuotesTheLineWithACaretUnderTheColumn) {
  Load(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
steps:
  - id: a
    run: [make]
    timeout: 5x
)");
  EXPECT_EQ(diag_.Format(),
            "plan.yaml:7:14: error: 'timeout': invalid duration '5x'; expected a number with a unit: ms, s, m, h "
            "(e.g. 500ms, 30s, 5m, 1h30m)\n"
            "      timeout: 5x\n"
            "               ^\n"
            "1 error\n");
}

TEST_F(LoaderTest, InvalidStepIdIsRejected) {
  Load(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
steps:
  - id: my.step
    run: [make]
)");
  EXPECT_EQ(Messages(diag_), std::vector<std::string>{"plan.yaml:5:9: error: invalid step id 'my.step'; expected "
                                                      "letters, digits, '_' or '-' (no dots or spaces)"});
}

TEST_F(LoaderTest, StepWithoutCommandOrKindIsRejected) {
  Load(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
steps:
  - id: idle
    needs: []
)");
  EXPECT_EQ(Messages(diag_), std::vector<std::string>{"plan.yaml:5:5: error: step 'idle' says neither 'uses' nor "
                                                      "'run' nor 'shell'; expected exactly one of them"});
}

TEST_F(LoaderTest, UnreadableFileIsReported) {
  auto plan = LoadPlanFile("/nonexistent/slipway/plan.yaml", diag_);
  EXPECT_FALSE(plan.has_value());
  EXPECT_EQ(Messages(diag_),
            std::vector<std::string>{
                "/nonexistent/slipway/plan.yaml: error: cannot read plan file: No such file or directory"});
}

// A `run:` list is an argv: every item should reach the command exactly as written.
TEST_F(LoaderTest, RunArgvKeepsScalarTextVerbatim) {
  auto plan = Load(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
steps:
  - id: a
    run: [echo, 1.10, 007, TRUE]
)");
  ASSERT_TRUE(plan.has_value());
  ASSERT_EQ(plan->steps.size(), 1u) << diag_.Format();
  EXPECT_EQ(plan->steps[0].body["run"], Json::parse(R"(["echo", "1.10", "007", "TRUE"])"));
}

}  // namespace
}  // namespace slipway::pipeline
