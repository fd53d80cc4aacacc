// Load-time validation of an slo step's `with:` (through the real plan loader, so every message
// carries the file position of the offending value), its declared outputs and its dry-run lines.

#include <gtest/gtest.h>

#include <sstream>

#include "pipeline/dag.h"
#include "pipeline/loader.h"
#include "pipeline/validate.h"
#include "steps/registry.h"
#include "steps/slo.h"
#include "test/slo/slo_test_support.h"

namespace slipway::steps {
namespace {

using pipeline::Json;

class SloConfigTest : public ::testing::Test {
 protected:
  // Loads a plan whose only step is `slo` with `with_yaml` (written unindented) as its with: block.
  // Line k of with_yaml is line 7 + k of the plan, and its columns shift by 6.
  std::vector<std::string> Validate(const std::string& with_yaml) {
    std::string text = "apiVersion: slipway/v1\nkind: Plan\nmetadata: {name: demo}\nsteps:\n  - id: gate\n"
                       "    uses: slo\n    with:\n";
    std::istringstream in(with_yaml);
    for (std::string line; std::getline(in, line);) text += "      " + line + "\n";
    pipeline::Diagnostics diag;
    auto plan = pipeline::LoadPlanText("plan.yaml", text, diag);
    EXPECT_TRUE(plan.has_value()) << diag.Format();
    std::vector<std::string> out;
    if (!plan) return out;
    spec_ = plan->steps.at(0);
    SloStep().Validate(spec_, diag);
    for (const auto& d : diag.Items()) out.push_back(pipeline::Diagnostics::FormatShort(d));
    return out;
  }

  pipeline::StepSpec spec_;
};

const char* kDesignExample = R"y(prometheus: {url: "http://127.0.0.1:9090", bearer_token: "{{ secrets.PROM_TOKEN }}", timeout: 10s}
window: 5m
objectives:
  - name: availability
    ratio: {good: 'sum(rate(http_requests_total{code!~"5.."}[$window]))', total: 'sum(rate(http_requests_total[$window]))'}
    target: 99.9
    warning: 99.5
    key: true
  - name: p95-latency
    query: 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[$window])))'
    pass: "< 0.2"
    warning: "< 0.25"
    weight: 2
    on_no_data: fail
  - name: client-p95
    from: load-test
    metric: "p(95)"
    pass: "< 200ms"
gate: {pass: 90, warning: 75}
error_budget: {objective: availability, period: 30d, freeze: true}
)y";

TEST_F(SloConfigTest, AcceptsTheDesignExample) {
  EXPECT_EQ(Validate(kDesignExample), std::vector<std::string>{});
  auto outputs = SloStep().Outputs(spec_);
  ASSERT_TRUE(outputs.has_value());
  EXPECT_EQ(*outputs, (std::vector<std::string>{"result", "score", "report_json", "availability.value",
                                                "availability.result", "p95-latency.value", "p95-latency.result",
                                                "client-p95.value", "client-p95.result", "budget_remaining",
                                                "burn_rate"}));
}

TEST_F(SloConfigTest, UnknownKeysAtEveryLevelWithSuggestions) {
  auto errors = Validate(R"y(prometheus: {url: "http://127.0.0.1:9090", timout: 5s}
windw: 5m
objectives:
  - name: availability
    ratio: {good: 'sum(a)', totl: 'sum(b)'}
    target: 99.9
    wieght: 2
gate: {pas: 90}
error_budget: {objective: availability, perod: 30d}
)y");
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "plan.yaml:9:14: error: unknown key 'windw' in 'with' of slo; did you mean 'window'?",
                        "plan.yaml:8:58: error: unknown key 'timout' in 'with.prometheus' of slo; did you mean "
                        "'timeout'?",
                        "plan.yaml:14:19: error: unknown key 'wieght' in 'objectives[0]' of slo; did you mean 'weight'?",
                        "plan.yaml:12:41: error: unknown key 'totl' in 'objectives[0].ratio' of slo; did you mean "
                        "'total'?",
                        "plan.yaml:12:18: error: objective 'availability': 'ratio' needs 'total' (a PromQL query)",
                        "plan.yaml:15:19: error: unknown key 'pas' in 'with.gate' of slo; did you mean 'pass'?",
                        "plan.yaml:16:54: error: unknown key 'perod' in 'with.error_budget' of slo; did you mean "
                        "'period'?",
                        "plan.yaml:16:21: error: 'with.error_budget' needs 'period' (e.g. 30d)",
                    }));
}

TEST_F(SloConfigTest, ObjectiveNeedsExactlyOneSource) {
  auto errors = Validate(R"y(prometheus: {url: "http://127.0.0.1:9090"}
objectives:
  - name: both
    ratio: {good: 'sum(a)', total: 'sum(b)'}
    query: 'sum(c)'
    target: 99
  - name: none
    pass: "< 1"
  - name: orphan-metric
    metric: "p(95)"
    query: 'sum(c)'
    pass: "< 1"
  - name: no-metric
    from: load-test
    pass: "< 1"
  - name: bad-metric
    from: load-test
    metric: "p(95"
    pass: "< 1"
)y");
  EXPECT_EQ(errors,
            (std::vector<std::string>{
                "plan.yaml:12:18: error: objective 'both' has both 'ratio' and 'query'; give exactly one source",
                "plan.yaml:14:11: error: objective 'none' needs exactly one source: 'ratio: {good, total}', 'query' or "
                "'from' + 'metric'",
                "plan.yaml:17:19: error: objective 'orphan-metric' has 'metric' but no 'from' (the id of a loadtest "
                "step)",
                "plan.yaml:21:17: error: objective 'no-metric' reads step 'load-test' but names no 'metric'; e.g. "
                "metric: \"p(95)\"; one of: p(50), p(90), p(95), p(99), p(99.9), max, mean, min, rps, error_rate, "
                "requests, dropped",
                "plan.yaml:25:19: error: unknown load-test metric 'p(95'; did you mean 'p(95)'?",
            }));
}

TEST_F(SloConfigTest, BadComparisonsNameTheirPlaceAndCharacter) {
  auto errors = Validate(R"y(prometheus: {url: "http://127.0.0.1:9090"}
objectives:
  - name: p95
    query: 'histogram_quantile(0.95, sum by (le) (rate(x_bucket[$window])))'
    pass: "<< 0.2"
  - name: p99
    query: 'sum(x)'
    pass: "< 0.2 min"
    warning: 0.3
  - name: avail
    ratio: {good: 'sum(a)', total: 'sum(b)'}
    target: "99.9x"
)y");
  EXPECT_EQ(errors,
            (std::vector<std::string>{
                "plan.yaml:12:17: error: invalid comparison '<< 0.2' in 'objectives[0].pass': unexpected '<' at "
                "character 2; expected a number",
                "plan.yaml:15:17: error: invalid comparison '< 0.2 min' in 'objectives[1].pass': unknown unit 'min' at "
                "character 7; expected ms, s or %",
                "plan.yaml:16:20: error: invalid comparison '0.3' in 'objectives[1].warning': expected <, <=, > or >= "
                "at character 1, e.g. \"< 0.2\"; a bare number does not say which way is good; write e.g. \"< 0.3\" "
                "or \"> 0.3\"",
                "plan.yaml:19:19: error: invalid comparison '99.9x' in 'objectives[2].target': unknown unit 'x' at "
                "character 5; expected ms, s or %",
            }));
}

TEST_F(SloConfigTest, UnitsMustFitTheSource) {
  auto errors = Validate(R"y(prometheus: {url: "http://127.0.0.1:9090"}
objectives:
  - name: avail
    ratio: {good: 'sum(a)', total: 'sum(b)'}
    pass: ">= 200ms"
  - name: q
    query: 'sum(x)'
    pass: "> 99%"
  - name: client-p95
    from: lt
    metric: "p(95)"
    pass: "< 0.2s"
  - name: client-errors
    from: lt
    metric: error_rate
    pass: "< 1%"
  - name: client-rps
    from: lt
    metric: rps
    pass: "> 100ms"
  - name: client-errors-time
    from: lt
    metric: error_rate
    pass: "< 1s"
)y");
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "plan.yaml:12:17: error: 'objectives[0].pass: >= 200ms': a ratio is a percentage; a time unit "
                        "makes no sense here",
                        "plan.yaml:15:17: error: 'objectives[1].pass: > 99%': '%' is ambiguous for a query (0.99 or "
                        "99?); write the number the query returns",
                        "plan.yaml:27:17: error: 'objectives[4].pass: > 100ms': 'rps' takes a plain number, without a "
                        "unit",
                        "plan.yaml:31:17: error: 'objectives[5].pass: < 1s': 'error_rate' is a fraction (0.01 = 1 %); "
                        "a time unit makes no sense here",
                    }));
}

TEST_F(SloConfigTest, PolicyValuesAndWarningBands) {
  auto errors = Validate(R"y(prometheus: {url: "http://127.0.0.1:9090"}
objectives:
  - name: a
    query: 'sum(x)'
    pass: "< 0.2"
    warning: "< 0.1"
    on_no_data: fial
  - name: b
    query: 'sum(x)'
    pass: "< 0.2"
    warning: "> 0.1"
    on_no_data: ignore
  - name: c
    ratio: {good: 'sum(a)', total: 'sum(b)'}
    target: 99.9
    min_samples: 100
    weight: -1
)y");
  EXPECT_EQ(errors,
            (std::vector<std::string>{
                "plan.yaml:13:20: error: objective 'a': warning '< 0.1' is stricter than pass '< 0.2'; the warning "
                "band must be looser than pass, e.g. pass \"< 0.2\", warning \"< 0.25\"",
                "plan.yaml:14:23: error: unknown on_no_data 'fial'; did you mean 'fail'?",
                "plan.yaml:18:20: error: objective 'b': warning '> 0.1' compares the other way than pass '< 0.2'",
                "plan.yaml:19:23: error: unknown on_no_data 'ignore'; expected fail, warn or pass",
                "plan.yaml:24:19: error: expected 'objectives[2].weight' to be zero or more",
                "plan.yaml:23:24: error: objective 'c' has min_samples but no 'samples' query to count them; e.g. "
                "samples: 'sum(increase(http_requests_total[$window]))'",
            }));
}

TEST_F(SloConfigTest, GateBudgetNamesAndPrometheusChecks) {
  auto errors = Validate(R"y(window: 5 minutes
objectives:
  - name: p95 latency
    query: 'sum(x)'
    pass: "< 0.2"
  - name: dup
    from: lt
    metric: rps
    pass: "> 10"
  - name: dup
    from: lt
    metric: rps
    pass: "> 10"
gate: {pass: 80, warning: 85}
error_budget: {objective: dup, period: 30 days}
)y");
  EXPECT_EQ(errors,
            (std::vector<std::string>{
                "plan.yaml:8:15: error: 'window': invalid duration '5 minutes'; expected a number with a unit: ms, s, "
                "m, h, d (e.g. 30s, 5m, 30d)",
                "plan.yaml:10:17: error: objective name 'p95 latency' may hold only letters, digits, '-' and '_'; it "
                "names the step's outputs <name>.value and <name>.result",
                "plan.yaml:17:17: error: duplicate objective name 'dup'",
                "plan.yaml:21:33: error: gate.warning (85) is above gate.pass (80); scores from warning up to pass are "
                "a warning; warning must not exceed pass",
                "plan.yaml:22:33: error: error_budget.objective 'dup' must be a ratio objective (good/total in "
                "percent), not a loadtest objective",
                "plan.yaml:22:46: error: 'error_budget.period': invalid duration '30 days'; expected a number with a "
                "unit: ms, s, m, h, d (e.g. 30s, 5m, 30d)",
                "plan.yaml:10:11: error: objective 'p95 latency' queries Prometheus but 'with.prometheus' is missing; "
                "add prometheus: {url: \"http://127.0.0.1:9090\"}",
            }));
}

TEST_F(SloConfigTest, BudgetNeedsARatioObjectiveWithATargetBelowHundred) {
  auto errors = Validate(R"y(prometheus: {url: "127.0.0.1:9090", retries: 11}
objectives:
  - name: avail
    ratio: {good: 'sum(a)', total: 'sum(b)'}
    target: 100
error_budget: {objective: availability, period: 30d}
)y");
  EXPECT_EQ(errors,
            (std::vector<std::string>{
                "plan.yaml:8:25: error: expected 'prometheus.url' to start with http:// or https://, got "
                "'127.0.0.1:9090'",
                "plan.yaml:8:52: error: expected 'prometheus.retries' to be a whole number from 0 to 10",
                "plan.yaml:13:33: error: error_budget.objective 'availability' names no objective; objectives: avail",
            }));
  errors = Validate(R"y(prometheus: {url: "http://127.0.0.1:9090"}
objectives:
  - name: avail
    ratio: {good: 'sum(a)', total: 'sum(b)'}
    target: 100
error_budget: {objective: avail, period: 30d}
)y");
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "plan.yaml:13:33: error: the error budget of 'avail' needs a target such as 99.9 (at least, "
                        "below 100 %); its target is '>= 100'",
                    }));
}

TEST_F(SloConfigTest, TemplatedValuesPassUncheckedAtLoadTime) {
  auto errors = Validate(R"y(prometheus: {url: "{{ vars.prom_url }}", timeout: "{{ vars.timeout }}", insecure: "{{ vars.insecure }}"}
window: "{{ vars.window }}"
objectives:
  - name: availability
    ratio: {good: 'sum(a)', total: 'sum(b)'}
    target: "{{ vars.availability_target }}"
    weight: "{{ vars.weight }}"
  - name: client
    from: "{{ vars.lt }}"
    metric: "p(95)"
    pass: "{{ vars.p95 }}"
error_budget: {objective: availability, period: "{{ vars.period }}"}
)y");
  EXPECT_EQ(errors, std::vector<std::string>{});
}

TEST_F(SloConfigTest, OutputsAreUnknownWhileObjectiveNamesAreTemplates) {
  Validate(R"y(objectives:
  - name: "{{ vars.name }}"
    from: lt
    metric: rps
    pass: "> 1"
)y");
  EXPECT_FALSE(SloStep().Outputs(spec_).has_value());
}

TEST_F(SloConfigTest, RegisteredAndItsOutputsCheckedByPlanValidation) {
  const std::string text = R"y(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
steps:
  - id: load-test
    run: [echo, hi]
  - id: gate
    uses: slo
    needs: [load-test]
    with:
      objectives:
        - {name: client-p95, from: load-test, metric: "p(95)", pass: "< 200ms"}
      error_budget: {objective: client-p95, period: 30d}
  - id: after
    needs: [gate]
    run: [echo, "{{ steps.gate.outputs.score }} {{ steps.gate.outputs.burn_rate }} {{ steps.gate.outputs.scor }}"]
)y";
  pipeline::Diagnostics diag;
  auto plan = pipeline::LoadPlanText("plan.yaml", text, diag);
  ASSERT_TRUE(plan.has_value()) << diag.Format();
  auto kinds = BuiltinKinds();
  ASSERT_NE(kinds.Find("slo"), nullptr);
  auto dag = pipeline::Dag::Build(*plan, diag);
  pipeline::ValidatePlan(*plan, dag, kinds, plan->vars, diag);
  std::vector<std::string> errors;
  for (const auto& d : diag.Items()) errors.push_back(pipeline::Diagnostics::FormatShort(d));
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "plan.yaml:13:33: error: error_budget.objective 'client-p95' must be a ratio objective "
                        "(good/total in percent), not a loadtest objective",
                        "plan.yaml:16:84: error: step 'gate' (slo) has no output 'scor'; did you mean 'score'?",
                    }));
}

TEST_F(SloConfigTest, MissingWithIsAnError) {
  pipeline::Diagnostics diag;
  auto plan = pipeline::LoadPlanText(
      "plan.yaml", "apiVersion: slipway/v1\nkind: Plan\nmetadata: {name: demo}\nsteps:\n  - id: gate\n    uses: slo\n",
      diag);
  ASSERT_TRUE(plan.has_value());
  SloStep().Validate(plan->steps.at(0), diag);
  ASSERT_EQ(diag.Items().size(), 1u);
  EXPECT_EQ(pipeline::Diagnostics::FormatShort(diag.Items()[0]),
            "plan.yaml:6:11: error: step 'gate' (slo) needs 'with:' giving objectives");
}

TEST_F(SloConfigTest, DescribeListsRenderedQueriesTargetsAndTheGate) {
  Json with = Json::parse(R"y({
    "prometheus": {"url": "http://user:pw@127.0.0.1:9090", "retries": 1},
    "window": "10m",
    "objectives": [
      {"name": "availability", "ratio": {"good": "sum(rate(ok[$window]))", "total": "sum(rate(all[$window]))"},
       "target": 99.9, "warning": "99.5", "key": true},
      {"name": "p95", "query": "histogram_quantile(0.95, sum by (le) (rate(d_bucket[$window])))", "pass": "< 200ms",
       "weight": 2, "on_no_data": "warn", "min_samples": 50, "samples": "sum(increase(all[$window]))"},
      {"name": "client-p95", "from": "load-test", "metric": "p(95)", "pass": "< 0.2s"}
    ],
    "gate": {"pass": 80, "warning": 60},
    "error_budget": {"objective": "availability", "period": "30d", "freeze": true}
  })y");
  slo_testing::Harness h(with);
  EXPECT_EQ(SloStep().Describe(h.ctx),
            (std::vector<std::string>{
                "query Prometheus at http://***@127.0.0.1:9090 (window 10m, timeout 10.0s, 1 retry)",
                "objective availability [key, weight 1]: 100 * good / total (in %) >= 99.9 (warning >= 99.5); no data => "
                "fail",
                "  good:  sum(rate(ok[10m]))",
                "  total: sum(rate(all[10m]))",
                "objective p95 [weight 2]: query value < 200ms; no data => warning; min_samples 50",
                "  query: histogram_quantile(0.95, sum by (le) (rate(d_bucket[10m])))",
                "  samples: sum(increase(all[10m]))",
                "objective client-p95 [weight 1]: p(95) of step 'load-test' < 0.2s; no data => fail",
                "gate: pass at score >= 80 %, warning at >= 60 %; a failing key objective fails the gate",
                "error budget: 'availability' over 30d (allowed error 0.1 %), warn at 90 % consumed, freeze (fail "
                "before anything else) when spent",
            }));
}

TEST_F(SloConfigTest, DescribeShowsInvalidSettings) {
  slo_testing::Harness h(Json::parse(R"y({"objectives": [{"name": "x", "query": "up", "pass": "< 1"}]})y"));
  EXPECT_EQ(SloStep().Describe(h.ctx),
            (std::vector<std::string>{"invalid: /with/objectives/0: objective 'x' queries Prometheus but "
                                      "'with.prometheus' is missing"}));
}

}  // namespace
}  // namespace slipway::steps
