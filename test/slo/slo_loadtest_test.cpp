// The slo kind run by hand on load-test sources: a fake run whose loadtest step published
// outputs, as the executor's RunView would show them. No Prometheus involved.

#include <gtest/gtest.h>

#include "steps/slo.h"
#include "test/slo/slo_test_support.h"

namespace slipway::steps {
namespace {

using pipeline::Json;
using pipeline::Level;
using slo_testing::Harness;

const char* kSummary = R"y({"requests": 1500, "rps": 49.9, "errors": 3, "error_rate": 0.002, "dropped": 0,
  "latency_ms": {"min": 1, "mean": 12, "p50": 10.5, "p90": 20, "p95": 31.25, "p99": 80, "p999": 120, "max": 150}})y";

std::map<std::string, std::string> LoadTestOutputs() {
  return {{"summary_json", kSummary}, {"p50_ms", "10.5"}, {"p95_ms", "31.25"}, {"p99_ms", "80"},
          {"rps", "49.9"},            {"error_rate", "0.002"}, {"requests", "1500"}};
}

Json Objective(const std::string& name, const std::string& metric, const std::string& pass, Json extra = Json::object()) {
  Json o = {{"name", name}, {"from", "load-test"}, {"metric", metric}, {"pass", pass}};
  for (auto it = extra.begin(); it != extra.end(); ++it) o[it.key()] = it.value();
  return o;
}

class SloLoadTestTest : public ::testing::Test {};

TEST_F(SloLoadTestTest, PassingGateWithOutputsAndReport) {
  Harness h(Json{{"objectives", Json::array({Objective("p95", "p(95)", "< 200ms"),
                                         Objective("p999", "p(99.9)", "< 0.5s"),
                                         Objective("errors", "error_rate", "< 1%", {{"weight", 2}}),
                                         Objective("throughput", "rps", "> 40")})}});
  h.AddStep("load-test", LoadTestOutputs());
  auto r = SloStep().Apply(h.ctx);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->outputs.at("result"), "pass");
  EXPECT_EQ(r->outputs.at("score"), "100");
  EXPECT_EQ(r->outputs.at("p95.value"), "31.25");
  EXPECT_EQ(r->outputs.at("p95.result"), "pass");
  EXPECT_EQ(r->outputs.at("p999.value"), "120");  // from summary_json: no flat p999_ms
  EXPECT_EQ(r->outputs.at("errors.value"), "0.002");
  EXPECT_EQ(r->outputs.at("throughput.value"), "49.9");
  EXPECT_EQ(r->outputs.count("budget_remaining"), 0u);
  EXPECT_EQ(r->summary, "SLO gate pass: score 100 %, 4/4 objectives pass");

  Json report = Json::parse(r->outputs.at("report_json"));
  EXPECT_EQ(report["schema"], "slipway.slo/v1");
  EXPECT_EQ(report["step"], "gate");
  EXPECT_EQ(report["result"], "pass");
  EXPECT_EQ(report["score"], 100);
  EXPECT_EQ(report["gate"], Json::parse(R"y({"pass": 90, "warning": 75, "result": "pass", "reasons": []})y"));
  EXPECT_TRUE(report["error_budget"].is_null());
  EXPECT_TRUE(report["prometheus"].is_null());
  ASSERT_EQ(report["objectives"].size(), 4u);
  EXPECT_EQ(report["objectives"][0], Json::parse(R"y({"name": "p95", "source": "loadtest",
      "query": "p(95) of step 'load-test'", "value": 31.25, "unit": "ms", "target": "< 200ms", "warning": null,
      "result": "pass", "weight": 1.0, "key": false, "no_data": false, "samples": 1500.0,
      "message": "measured 31.25 ms, target < 200ms", "from": "load-test", "metric": "p(95)"})y"));
  EXPECT_EQ(report["objectives"][2]["message"], "measured 0.002, target < 1%");
  EXPECT_EQ(report["objectives"][2]["weight"], 2);
}

TEST_F(SloLoadTestTest, FailingGateNamesFailingObjectivesMeasuredVsTarget) {
  Harness h(Json{{"objectives", Json::array({Objective("p95", "p(95)", "< 20ms", {{"key", true}}),
                                         Objective("p99", "p(99)", "< 50", {{"warning", "< 100"}}),
                                         Objective("throughput", "rps", "> 40")})}});
  h.AddStep("load-test", LoadTestOutputs());
  auto r = SloStep().Apply(h.ctx);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message,
            "SLO gate failed (score 50 % is below the warning threshold 75 %; key objective 'p95' failed): "
            "p95 [key]: measured 31.25 ms, target < 20ms");
  // Each objective's verdict is logged; failures at warn level.
  EXPECT_EQ(h.sink.Messages(Level::kWarn), std::vector<std::string>{"p95: fail - measured 31.25 ms, target < 20ms"});
  EXPECT_EQ(h.sink.Messages(Level::kInfo),
            (std::vector<std::string>{"p99: warning - measured 80 ms, target < 50; within warning < 100",
                                      "throughput: pass - measured 49.9 req/s, target > 40"}));
}

TEST_F(SloLoadTestTest, KeyObjectiveFailsAnOtherwiseHighScore) {
  Harness h(Json{{"objectives", Json::array({Objective("errors", "error_rate", "< 0.001", {{"key", true}}),
                                         Objective("p95", "p(95)", "< 200", {{"weight", 20}})})}});
  h.AddStep("load-test", LoadTestOutputs());
  auto r = SloStep().Apply(h.ctx);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message,
            "SLO gate failed (score 95.238095 %; key objective 'errors' failed): errors [key]: measured 0.002, target "
            "< 0.001");
}

TEST_F(SloLoadTestTest, WarningPassesAndIsLoggedAsAWarning) {
  Harness h(Json{{"objectives", Json::array({Objective("p95", "p(95)", "< 200ms", {{"weight", 3}}),
                                         Objective("p99", "p(99)", "< 50ms", {{"warning", "< 100ms"}})})}});
  h.AddStep("load-test", LoadTestOutputs());
  auto r = SloStep().Apply(h.ctx);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->outputs.at("result"), "warning");
  EXPECT_EQ(r->outputs.at("score"), "87.5");
  EXPECT_EQ(r->outputs.at("p99.result"), "warning");
  EXPECT_EQ(r->summary, "SLO gate warning: score 87.5 %, 1/2 objectives pass");
  EXPECT_EQ(h.sink.Messages(Level::kWarn),
            std::vector<std::string>{
                "SLO gate warning: score 87.5 %, 1/2 objectives pass; score 87.5 % is below the pass threshold 90 %"});
}

TEST_F(SloLoadTestTest, NoDataCountsAsFailWarningOrPass) {
  auto run = [](const std::string& policy) {
    Harness h(Json{{"objectives", Json::array({Objective("p99", "p(99)", "< 200ms", {{"on_no_data", policy}})})},
               {"gate", {{"pass", 100}, {"warning", 50}}}});
    h.AddStep("load-test", {{"p95_ms", "30"}});  // no p99 anywhere
    return SloStep().Apply(h.ctx);
  };
  auto fail = run("fail");
  ASSERT_FALSE(fail.has_value());
  EXPECT_EQ(fail.error().message,
            "SLO gate failed (score 0 % is below the warning threshold 50 %): p99: no data: the load test published "
            "neither output 'p99_ms' nor summary_json.latency_ms.p99 as a number (query: p(99) of step 'load-test'); "
            "counted as fail (on_no_data: fail)");
  auto warn = run("warn");
  ASSERT_TRUE(warn.has_value());
  EXPECT_EQ(warn->outputs.at("result"), "warning");
  EXPECT_EQ(warn->outputs.at("p99.result"), "warning");
  EXPECT_EQ(warn->outputs.at("p99.value"), "");
  auto pass = run("pass");
  ASSERT_TRUE(pass.has_value());
  EXPECT_EQ(pass->outputs.at("result"), "pass");
  Json report = Json::parse(pass->outputs.at("report_json"));
  EXPECT_EQ(report["objectives"][0]["no_data"], true);
  EXPECT_TRUE(report["objectives"][0]["value"].is_null());
}

TEST_F(SloLoadTestTest, MinSamplesUsesTheLoadTestsRequests) {
  Harness h(Json{{"objectives", Json::array({Objective("p95", "p(95)", "< 200ms", {{"min_samples", 2000}})})}});
  h.AddStep("load-test", LoadTestOutputs());
  auto r = SloStep().Apply(h.ctx);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message,
            "SLO gate failed (score 0 % is below the warning threshold 75 %): p95: no data: only 1500 samples, "
            "min_samples is 2000 (value 31.25 ms not trusted) (query: p(95) of step 'load-test'); counted as fail "
            "(on_no_data: fail)");
  Harness enough(Json{{"objectives", Json::array({Objective("p95", "p(95)", "< 200ms", {{"min_samples", 1500}})})}});
  enough.AddStep("load-test", LoadTestOutputs());
  auto ok = SloStep().Apply(enough.ctx);
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->outputs.at("p95.result"), "pass");
}

TEST_F(SloLoadTestTest, UnknownOrUnfinishedLoadTestStep) {
  Harness missing(Json{{"objectives", Json::array({Objective("p95", "p(95)", "< 200ms", {{"on_no_data", "pass"}})})}});
  auto r = SloStep().Apply(missing.ctx);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message,
            "SLO gate failed (score 0 % is below the warning threshold 75 %): p95: query failed: there is no step "
            "'load-test' in this run (from: names the id of a loadtest step)");

  Harness pending(Json{{"objectives", Json::array({Objective("p95", "p(95)", "< 200ms")})}});
  pending.AddStep("load-test", {}, "pending");
  auto p = SloStep().Apply(pending.ctx);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().message,
            "SLO gate failed (score 0 % is below the warning threshold 75 %): p95: no data: step 'load-test' has no "
            "outputs (status: pending); add it to this step's needs (query: p(95) of step 'load-test'); counted as "
            "fail (on_no_data: fail)");
}

TEST_F(SloLoadTestTest, VerdictIsSavedInTheStateDirEvenWhenTheGateFails) {
  slo_testing::TempDir dir;
  Harness h(Json{{"objectives", Json::array({Objective("p95", "p(95)", "< 20ms")})}});
  h.AddStep("load-test", LoadTestOutputs());
  h.ctx.state_dir = dir.Path();
  auto r = SloStep().Apply(h.ctx);
  ASSERT_FALSE(r.has_value());
  Json saved = Json::parse(slo_testing::ReadFile(dir.File("slo/slo-test/gate.json")), nullptr, false);
  ASSERT_TRUE(saved.is_object());
  EXPECT_EQ(saved["result"], "fail");
  EXPECT_EQ(saved["objectives"][0]["value"], 31.25);
  EXPECT_EQ(saved["gate"]["reasons"], Json::array({"score 0 % is below the warning threshold 75 %"}));
}

TEST_F(SloLoadTestTest, InvalidRenderedSettingsFailWithEveryProblem) {
  Harness h(Json{{"objectives", Json::array({Objective("p95", "p(95)", "<< 200ms"), Objective("p95", "p(95", "< 1")})}});
  auto r = SloStep().Apply(h.ctx);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message,
            "invalid slo settings: /with/objectives/0/pass: invalid comparison '<< 200ms' in 'objectives[0].pass': "
            "unexpected '<' at character 2; expected a number; /with/objectives/1/name: duplicate objective name "
            "'p95'; /with/objectives/1/metric: unknown load-test metric 'p(95' (did you mean 'p(95)'?)");
}

}  // namespace
}  // namespace slipway::steps
