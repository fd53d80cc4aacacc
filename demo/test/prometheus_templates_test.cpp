// Tests of templates/demo/: render with kainjow mustache (HTML escaping off, as slipway renders),
// check with the real promtool, unit-test the SLI rules with `promtool test rules`, and run a
// real Prometheus against a real demo service.

#include <signal.h>
#include <sys/wait.h>

#include <cctype>
#include <chrono>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>

#include "demo/test/demo_test_support.h"

namespace slipway::demo::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const std::string kTemplates = SLIPWAY_DEMO_TEMPLATES_DIR;
const std::string kPromtool = SLIPWAY_PROMTOOL_BIN;
const std::string kPrometheus = SLIPWAY_PROMETHEUS_BIN;

// Sample SLO targets used wherever the rules are rendered.
const std::map<std::string, std::string> kRuleVars = {
    {"availability_target", "0.99"}, {"latency_p95_target_seconds", "0.25"}, {"error_rate_target", "0.01"}};

struct ToolRun {
  int exit_code = -1;
  std::string output;  // stdout then stderr
};

class PrometheusTemplatesTest : public ::testing::Test {
 protected:
  static std::string Render(const std::string& name, const std::map<std::string, std::string>& vars) {
    kainjow::mustache::mustache tmpl(ReadFile(kTemplates + "/" + name));
    EXPECT_TRUE(tmpl.is_valid()) << name << ": " << tmpl.error_message();
    tmpl.set_custom_escape([](const std::string& s) { return s; });
    kainjow::mustache::data data;
    for (const auto& [key, value] : vars) data.set(key, value);
    return tmpl.render(data);
  }

  // Renders both templates into dir_ as prometheus.yml and slo-rules.yml.
  void RenderAll(int prometheus_port, const std::string& demo_target) {
    ASSERT_FALSE(dir_.Path().empty());
    std::string config = Render("prometheus.yml.mustache", {{"scrape_interval", "1s"},
                                                            {"demo_target", demo_target},
                                                            {"prometheus_port", std::to_string(prometheus_port)}});
    ASSERT_TRUE(WriteFile(dir_.Path() + "/prometheus.yml", config));
    ASSERT_TRUE(WriteFile(dir_.Path() + "/slo-rules.yml", Render("slo-rules.yml.mustache", kRuleVars)));
  }

  ToolRun RunTool(const std::vector<std::string>& argv) {
    ToolRun run;
    std::string err_path = dir_.Path() + "/tool.err";
    WriteFile(err_path, "");
    ChildProcess tool;
    if (!tool.Spawn(argv, err_path)) return run;
    while (auto line = tool.ReadStdoutLine(milliseconds(20000))) run.output += *line + "\n";
    auto status = tool.Wait(milliseconds(20000));
    if (status && WIFEXITED(*status)) run.exit_code = WEXITSTATUS(*status);
    run.output += ReadFile(err_path);
    return run;
  }

  TempDir dir_;
};

std::set<std::string> TagsIn(const std::string& text) {
  std::set<std::string> tags;
  std::regex tag(R"(\{\{\s*([^}\s]+)\s*\}\})");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), tag); it != std::sregex_iterator(); ++it) {
    tags.insert((*it)[1]);
  }
  return tags;
}

TEST_F(PrometheusTemplatesTest, TemplatesUseOnlyTheDocumentedVariables) {
  EXPECT_EQ(TagsIn(ReadFile(kTemplates + "/prometheus.yml.mustache")),
            (std::set<std::string>{"demo_target", "prometheus_port", "scrape_interval"}));
  EXPECT_EQ(TagsIn(ReadFile(kTemplates + "/slo-rules.yml.mustache")),
            (std::set<std::string>{"availability_target", "error_rate_target", "latency_p95_target_seconds"}));
}

TEST_F(PrometheusTemplatesTest, RenderedConfigAndRulesPassPromtoolCheck) {
  if (kPromtool.empty()) GTEST_SKIP() << "promtool not found (Debian package prometheus)";
  ASSERT_NO_FATAL_FAILURE(RenderAll(9090, "127.0.0.1:8080"));
  ToolRun config = RunTool({kPromtool, "check", "config", dir_.Path() + "/prometheus.yml"});
  EXPECT_EQ(config.exit_code, 0) << config.output;
  EXPECT_NE(config.output.find("SUCCESS: 1 rule files found"), std::string::npos) << config.output;
  ToolRun rules = RunTool({kPromtool, "check", "rules", dir_.Path() + "/slo-rules.yml"});
  EXPECT_EQ(rules.exit_code, 0) << rules.output;
  // 4 SLIs x 3 windows + 4 alerts.
  EXPECT_NE(rules.output.find("SUCCESS: 16 rules found"), std::string::npos) << rules.output;
}

TEST_F(PrometheusTemplatesTest, PromtoolRejectsBadlyRenderedValues) {
  if (kPromtool.empty()) GTEST_SKIP() << "promtool not found (Debian package prometheus)";
  // Guards the check above: it must be able to fail on what a plan could pass in.
  std::string config = Render("prometheus.yml.mustache", {{"scrape_interval", "1 second"},
                                                          {"demo_target", "127.0.0.1:8080"},
                                                          {"prometheus_port", "9090"}});
  ASSERT_TRUE(WriteFile(dir_.Path() + "/prometheus.yml", config));
  ASSERT_TRUE(WriteFile(dir_.Path() + "/slo-rules.yml", Render("slo-rules.yml.mustache", kRuleVars)));
  ToolRun bad_config = RunTool({kPromtool, "check", "config", dir_.Path() + "/prometheus.yml"});
  EXPECT_EQ(bad_config.exit_code, 1) << bad_config.output;
  EXPECT_NE(bad_config.output.find("not a valid duration string"), std::string::npos) << bad_config.output;

  auto vars = kRuleVars;
  vars["error_rate_target"] = "one percent";
  ASSERT_TRUE(WriteFile(dir_.Path() + "/slo-rules.yml", Render("slo-rules.yml.mustache", vars)));
  ToolRun bad_rules = RunTool({kPromtool, "check", "rules", dir_.Path() + "/slo-rules.yml"});
  EXPECT_EQ(bad_rules.exit_code, 1) << bad_rules.output;
}

// promtool compares floats exactly, so ratios are rounded to 1e-4 before comparing.
// Synthetic series at one sample per minute; at 10m every 5m rate is steady:
//  bad:  90 x 200 + 10 x 500 per minute on "/", 1000 x 200 on /health (must be ignored),
//        durations of "/": 80 % <= 0.25 s, all <= 0.5 s  => p95 = 0.25 + 0.25 * (95-80)/20 = 0.4375
//  good: 100 x 200 per minute, all <= 0.25 s           => no alert, error rate 0 (not empty)
constexpr const char* kRulesUnitTest = R"(rule_files:
  - slo-rules.yml
evaluation_interval: 1m
tests:
  - name: failing service
    interval: 1m
    input_series:
      - series: 'http_requests_total{job="slipway-demo",method="GET",path="/",code="200"}'
        values: '0+90x20'
      - series: 'http_requests_total{job="slipway-demo",method="GET",path="/",code="500"}'
        values: '0+10x20'
      - series: 'http_requests_total{job="slipway-demo",method="GET",path="/health",code="200"}'
        values: '0+1000x20'
      - series: 'http_request_duration_seconds_bucket{job="slipway-demo",method="GET",path="/",le="0.25"}'
        values: '0+80x20'
      - series: 'http_request_duration_seconds_bucket{job="slipway-demo",method="GET",path="/",le="0.5"}'
        values: '0+100x20'
      - series: 'http_request_duration_seconds_bucket{job="slipway-demo",method="GET",path="/",le="+Inf"}'
        values: '0+100x20'
      - series: 'http_request_duration_seconds_bucket{job="slipway-demo",method="GET",path="/health",le="0.25"}'
        values: '0+1000x20'
      - series: 'http_request_duration_seconds_bucket{job="slipway-demo",method="GET",path="/health",le="0.5"}'
        values: '0+1000x20'
      - series: 'http_request_duration_seconds_bucket{job="slipway-demo",method="GET",path="/health",le="+Inf"}'
        values: '0+1000x20'
      - series: 'up{job="slipway-demo",instance="127.0.0.1:8080"}'
        values: '1x20'
    promql_expr_test:
      - expr: round(sli:availability:ratio_rate5m, 0.0001)
        eval_time: 10m
        exp_samples:
          - labels: '{}'
            value: 0.9
      - expr: round(sli:error_rate:ratio_rate1m, 0.0001)
        eval_time: 10m
        exp_samples:
          - labels: '{}'
            value: 0.1
      - expr: round(sli:latency_p95:seconds_rate30m, 0.0001)
        eval_time: 10m
        exp_samples:
          - labels: '{}'
            value: 0.4375
    alert_rule_test:
      - eval_time: 10m
        alertname: DemoAvailabilityBelowTarget
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations: {summary: "demo service availability is below 0.99"}
      - eval_time: 10m
        alertname: DemoErrorRateHigh
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations: {summary: "demo service error rate is above 0.01"}
      - eval_time: 10m
        alertname: DemoLatencyP95AboveTarget
        exp_alerts:
          - exp_labels: {severity: warning}
            exp_annotations: {summary: "demo service p95 latency is above 0.25s"}
      - eval_time: 10m
        alertname: DemoServiceDown
        exp_alerts: []
  - name: healthy service
    interval: 1m
    input_series:
      - series: 'http_requests_total{job="slipway-demo",method="GET",path="/",code="200"}'
        values: '0+100x20'
      - series: 'http_request_duration_seconds_bucket{job="slipway-demo",method="GET",path="/",le="0.25"}'
        values: '0+100x20'
      - series: 'http_request_duration_seconds_bucket{job="slipway-demo",method="GET",path="/",le="+Inf"}'
        values: '0+100x20'
      - series: 'up{job="slipway-demo",instance="127.0.0.1:8080"}'
        values: '1x8 0x11'
    promql_expr_test:
      - expr: sli:availability:ratio_rate5m
        eval_time: 10m
        exp_samples:
          - labels: 'sli:availability:ratio_rate5m'
            value: 1
      - expr: sli:error_rate:ratio_rate5m
        eval_time: 10m
        exp_samples:
          - labels: 'sli:error_rate:ratio_rate5m'
            value: 0
    alert_rule_test:
      - eval_time: 10m
        alertname: DemoAvailabilityBelowTarget
        exp_alerts: []
      - eval_time: 10m
        alertname: DemoErrorRateHigh
        exp_alerts: []
      - eval_time: 10m
        alertname: DemoLatencyP95AboveTarget
        exp_alerts: []
      - eval_time: 10m
        alertname: DemoServiceDown
        exp_alerts:
          - exp_labels: {severity: critical, job: slipway-demo, instance: "127.0.0.1:8080"}
            exp_annotations: {summary: "slipway demo service cannot be scraped"}
)";

TEST_F(PrometheusTemplatesTest, SliRulesAndAlertsComputeTheExpectedValues) {
  if (kPromtool.empty()) GTEST_SKIP() << "promtool not found (Debian package prometheus)";
  ASSERT_NO_FATAL_FAILURE(RenderAll(9090, "127.0.0.1:8080"));
  ASSERT_TRUE(WriteFile(dir_.Path() + "/slo-rules.test.yml", kRulesUnitTest));
  ToolRun run = RunTool({kPromtool, "test", "rules", dir_.Path() + "/slo-rules.test.yml"});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("SUCCESS"), std::string::npos) << run.output;
}

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The value of a one-sample instant query, nullopt while Prometheus has no answer.
std::optional<double> QueryValue(int port, const std::string& promql) {
  HttpClient client(port);
  auto response = client.Request("GET", "/api/v1/query?query=" + UrlEncode(promql));
  if (!response || response->status != 200) return std::nullopt;
  auto json = nlohmann::json::parse(response->body, nullptr, false);
  if (json.is_discarded() || json.value("status", "") != "success") return std::nullopt;
  const auto& result = json["data"]["result"];
  if (!result.is_array() || result.size() != 1) return std::nullopt;
  return std::stod(result[0]["value"][1].get<std::string>());
}

// Polls until `promql` equals `expected` or `deadline` passes; returns the last value seen.
std::optional<double> WaitForValue(int port, const std::string& promql, double expected, Clock::time_point deadline) {
  std::optional<double> value;
  while (Clock::now() < deadline) {
    value = QueryValue(port, promql);
    if (value && *value == expected) break;
    std::this_thread::sleep_for(milliseconds(200));
  }
  return value;
}

TEST_F(PrometheusTemplatesTest, RealPrometheusScrapesDemoServiceAndEvaluatesRules) {
  if (kPrometheus.empty()) GTEST_SKIP() << "prometheus not found (Debian package prometheus)";
  ChildProcess demo;
  ASSERT_TRUE(demo.Spawn({SLIPWAY_DEMO_SERVICE_BIN, "--port", "0"}));
  auto line = demo.ReadStdoutLine(milliseconds(5000));
  ASSERT_TRUE(line && line->starts_with("listening on ")) << line.value_or("no output");
  std::string demo_target = line->substr(std::string("listening on ").size());
  int demo_port = std::stoi(demo_target.substr(demo_target.rfind(':') + 1));

  int prometheus_port = FreePort();
  ASSERT_GT(prometheus_port, 0);
  ASSERT_NO_FATAL_FAILURE(RenderAll(prometheus_port, demo_target));
  {
    HttpClient client(demo_port);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(client.Request("GET", "/").has_value());
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(client.Request("POST", "/api/items", "{}").has_value());
  }

  ChildProcess prometheus;
  std::string log = dir_.Path() + "/prometheus.log";
  ASSERT_TRUE(prometheus.Spawn({kPrometheus, "--config.file=" + dir_.Path() + "/prometheus.yml",
                                "--storage.tsdb.path=" + dir_.Path() + "/data",
                                "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)},
                               log));
  auto deadline = Clock::now() + std::chrono::seconds(20);

  auto total = WaitForValue(prometheus_port, R"(sum(http_requests_total{job="slipway-demo"}))", 7, deadline);
  ASSERT_TRUE(total.has_value()) << "Prometheus never answered; its log:\n" << ReadFile(log);
  EXPECT_EQ(*total, 7);
  EXPECT_EQ(QueryValue(prometheus_port, R"(http_requests_total{job="slipway-demo",method="POST",code="201"})"), 2);
  EXPECT_EQ(QueryValue(prometheus_port, R"(up{job="slipway-demo"})"), 1);
  EXPECT_EQ(QueryValue(prometheus_port, R"(demo_up{job="slipway-demo"})"), 1);
  // Its own target has a scrape offset of its own, so it may come a moment later.
  EXPECT_EQ(WaitForValue(prometheus_port, R"(up{job="prometheus"})", 1, deadline), 1);

  // Later scrapes follow the service: three more requests show up.
  {
    HttpClient client(demo_port);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.Request("GET", "/api/items").has_value());
  }
  EXPECT_EQ(WaitForValue(prometheus_port, R"(sum(http_requests_total{job="slipway-demo"}))", 10, deadline), 10);

  // Every recording and alerting rule has been evaluated without error.
  std::string unhealthy = "rules never evaluated";
  while (Clock::now() < deadline) {
    HttpClient client(prometheus_port);
    auto response = client.Request("GET", "/api/v1/rules");
    auto json = response ? nlohmann::json::parse(response->body, nullptr, false) : nlohmann::json();
    if (json.is_object() && json.contains("data")) {
      int rules = 0;
      unhealthy.clear();
      for (const auto& group : json["data"]["groups"]) {
        for (const auto& rule : group["rules"]) {
          ++rules;
          if (rule.value("health", "") != "ok") unhealthy += rule.value("name", "?") + "=" + rule.value("health", "") + " ";
        }
      }
      if (rules != 16) unhealthy += "rule count " + std::to_string(rules);
      if (unhealthy.empty()) break;
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
  EXPECT_EQ(unhealthy, "");

  prometheus.Signal(SIGTERM);
  EXPECT_TRUE(prometheus.Wait(milliseconds(10000)).has_value()) << "Prometheus ignored SIGTERM";
  demo.Signal(SIGTERM);
  auto status = demo.Wait(milliseconds(5000));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

}  // namespace
}  // namespace slipway::demo::testing
