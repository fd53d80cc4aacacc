// The shipped Kubernetes templates (templates/namespace, istio, linkerd, observability, app), rendered by
// the built slipway binary (a plan of `template` steps with fixed values) and
//   * compared with golden files in test/e2e/golden/ (SLIPWAY_UPDATE_GOLDEN=1 rewrites them),
//   * checked for the settings the reference deploys rely on (so a regenerated golden cannot hide them),
//   * and, for the PrometheusRule, checked by the real `promtool check rules`.
// The real API server's validation of every rendered manifest is templates_cluster_test.cpp.
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "support/e2e_harness.h"
#include "e2e/render_templates_plan.h"
#include "test/support/run_capture.h"

namespace slipway::test {
namespace {

using nlohmann::json;

std::filesystem::path SourceDir() { return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path(); }
std::filesystem::path GoldenDir() { return SourceDir() / "test" / "e2e" / "golden"; }

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream b;
  b << in.rdbuf();
  return b.str();
}

// Renders once per process (one `slipway apply` of the plan of render_templates_plan.h).
class TemplatesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/slipway-templates-XXXXXX";
    dir_ = new std::filesystem::path(::mkdtemp(tmpl));
    std::ofstream(*dir_ / "render.yaml") << kRenderPlan;
    RunOptions o;
    o.cwd = *dir_;
    o.env = {"NO_COLOR=1", "GITHUB_ACTIONS=", "SLIPWAY_TEMPLATES=" + (SourceDir() / "templates").string()};
    o.timeout = std::chrono::seconds(60);
    render_ = new RunResult(RunCapture({SLIPWAY_BINARY, "apply", "render.yaml"}, o));
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    if (!failed_) std::filesystem::remove_all(*dir_, ec);
    delete dir_;
    delete render_;
  }
  void SetUp() override {
    ASSERT_EQ(render_->exit_code, 0) << render_->out << render_->err;
  }
  void TearDown() override {
    if (HasFailure()) failed_ = true;
  }
  static std::string Rendered(const std::string& name) { return ReadFile(*dir_ / "out" / (name + ".yaml")); }
  static std::vector<YAML::Node> Documents(const std::string& name) {
    std::vector<YAML::Node> out;
    for (auto& d : YAML::LoadAll(Rendered(name)))
      if (d && !d.IsNull()) out.push_back(d);
    return out;
  }
  static YAML::Node Find(const std::vector<YAML::Node>& docs, const std::string& kind, const std::string& name) {
    for (const auto& d : docs)
      if (d["kind"].as<std::string>() == kind && d["metadata"]["name"].as<std::string>() == name) return d;
    return YAML::Node();
  }
  static std::filesystem::path* dir_;
  static RunResult* render_;
  static bool failed_;
};

std::filesystem::path* TemplatesTest::dir_ = nullptr;
RunResult* TemplatesTest::render_ = nullptr;
bool TemplatesTest::failed_ = false;

// Where two texts first differ, for a readable failure.
std::string FirstDifference(const std::string& want, const std::string& got) {
  std::istringstream a(want), b(got);
  std::string la, lb;
  for (int line = 1;; ++line) {
    bool ea = !std::getline(a, la), eb = !std::getline(b, lb);
    if (ea && eb) return "texts differ only in the final newline";
    if (ea || eb || la != lb)
      return "first difference at line " + std::to_string(line) + ":\n  golden:   " + (ea ? "<end of file>" : la) +
             "\n  rendered: " + (eb ? "<end of file>" : lb);
  }
}

TEST_F(TemplatesTest, EveryTemplateRendersExactlyAsItsGoldenFile) {
  const bool update = std::getenv("SLIPWAY_UPDATE_GOLDEN") && std::string(std::getenv("SLIPWAY_UPDATE_GOLDEN")) == "1";
  std::vector<std::string> all = kManifests;
  all.insert(all.end(), kValuesFiles.begin(), kValuesFiles.end());
  for (const auto& name : all) {
    std::string got = Rendered(name);
    ASSERT_FALSE(got.empty()) << name << " was not rendered; slipway said:\n" << render_->out << render_->err;
    auto golden = GoldenDir() / (name + ".yaml");
    if (update) {
      std::filesystem::create_directories(GoldenDir());
      std::ofstream(golden, std::ios::binary) << got;
      continue;
    }
    ASSERT_TRUE(std::filesystem::exists(golden)) << golden << " is missing; run with SLIPWAY_UPDATE_GOLDEN=1";
    std::string want = ReadFile(golden);
    EXPECT_EQ(want, got) << name << ": " << FirstDifference(want, got)
                         << "\n(if the change is intended: SLIPWAY_UPDATE_GOLDEN=1 ./e2e_tests --gtest_filter='TemplatesTest.*')";
  }
  // Every shipped template of these directories is covered by a golden file.
  std::set<std::string> sources;
  for (const char* d : {"namespace", "istio", "linkerd", "observability", "app"})
    for (const auto& e : std::filesystem::directory_iterator(SourceDir() / "templates" / d))
      sources.insert(std::string(d) + "/" + e.path().filename().string());
  std::string plan = kRenderPlan;
  for (const auto& s : sources) EXPECT_NE(plan.find("src: templates/" + s), std::string::npos) << s << " has no golden";
}

TEST_F(TemplatesTest, EveryRenderedFileIsYamlWithoutLeftoverMustache) {
  std::vector<std::string> all = kManifests;
  all.insert(all.end(), kValuesFiles.begin(), kValuesFiles.end());
  for (const auto& name : all) {
    std::string text = Rendered(name);
    EXPECT_NO_THROW(YAML::LoadAll(text)) << name;
    std::string body;  // the text without comment lines (headers may name the delimiters they switch to)
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
      if (l.rfind("#", 0) != 0) body += l + "\n";
    EXPECT_EQ(body.find("<%"), std::string::npos) << name;
    // `{{` survives only where another tool's own templating needs it (Grafana legends, alert annotations).
    if (name.rfind("dashboard-", 0) != 0 && name != "slo-rules") {
      EXPECT_EQ(text.find("{{"), std::string::npos) << name;
    }
    // No value rendered empty: "key: " at the end of a line means a missing value.
    std::istringstream lines(text);
    for (std::string l; std::getline(lines, l);) {
      if (l.empty() || l.find_first_not_of(' ') == std::string::npos || l[l.find_first_not_of(' ')] == '#') continue;
      bool block_parent = l.back() == ':';
      EXPECT_FALSE(!block_parent && l.size() >= 2 && l.substr(l.size() - 2) == ": ") << name << ": " << l;
      // (Gateway API names the core group "": a parentRef to a Service says group: "".)
      size_t text = l.find_first_not_of(" -");
      bool core_group = text != std::string::npos && l.substr(text) == "group: \"\"";
      EXPECT_TRUE(core_group || l.find(": \"\"") == std::string::npos) << name << ": empty value in " << l;
    }
  }
}

TEST_F(TemplatesTest, DestinationRulesCarryTheCircuitBreakersAndPools) {
  auto docs = Documents("destination-rules");
  ASSERT_EQ(docs.size(), 4u);
  struct Want {
    std::string name, lb, interval;
    int errors;
  };
  for (const auto& w : std::vector<Want>{{"auth", "LEAST_CONN", "30s", 5}, {"game", "ROUND_ROBIN", "10s", 3},
                                         {"ai", "LEAST_CONN", "60s", 2}, {"social", "LEAST_CONN", "30s", 5}}) {
    auto dr = Find(docs, "DestinationRule", w.name);
    ASSERT_TRUE(dr) << w.name;
    EXPECT_EQ(dr["spec"]["host"].as<std::string>(), w.name + ".shop.svc.cluster.local");
    auto tp = dr["spec"]["trafficPolicy"];
    EXPECT_EQ(tp["loadBalancer"]["simple"].as<std::string>(), w.lb) << w.name;
    EXPECT_EQ(tp["outlierDetection"]["consecutive5xxErrors"].as<int>(), w.errors) << w.name;
    EXPECT_EQ(tp["outlierDetection"]["interval"].as<std::string>(), w.interval) << w.name;
    EXPECT_EQ(tp["outlierDetection"]["baseEjectionTime"].as<std::string>(), w.interval) << w.name;
    EXPECT_EQ(tp["outlierDetection"]["maxEjectionPercent"].as<int>(), 50);
    EXPECT_EQ(tp["connectionPool"]["tcp"]["maxConnections"].as<int>(), 10);
    EXPECT_EQ(tp["connectionPool"]["http"]["http1MaxPendingRequests"].as<int>(), 10);
    EXPECT_EQ(tp["connectionPool"]["http"]["maxRequestsPerConnection"].as<int>(), 100);
    EXPECT_EQ(tp["connectionPool"]["http"]["http2MaxRequests"].as<int>(), 100);
    EXPECT_EQ(static_cast<bool>(tp["loadBalancer"]["localityLbSetting"]), w.name == "game") << w.name;
    ASSERT_EQ(dr["spec"]["subsets"].size(), 2u);
    EXPECT_EQ(dr["spec"]["subsets"][0]["labels"]["version"].as<std::string>(), "stable");
    EXPECT_EQ(dr["spec"]["subsets"][1]["labels"]["version"].as<std::string>(), "canary");
  }
}

TEST_F(TemplatesTest, VirtualServicesSplitCanaryTrafficByWeightDefaulting90To10) {
  auto docs = Documents("virtual-services");
  ASSERT_EQ(docs.size(), 5u);  // one per service, and the public one
  // The weights of the route named `route` (primary, or NAME-primary in the public VirtualService).
  auto weights = [&](const std::string& vs_name, const std::string& route_name) {
    std::vector<std::pair<std::string, int>> out;
    auto vs = Find(docs, "VirtualService", vs_name);
    for (const auto& route : vs["spec"]["http"]) {
      if (route["name"].as<std::string>() != route_name) continue;
      for (const auto& r : route["route"])
        out.emplace_back(r["destination"]["subset"].as<std::string>(), r["weight"].as<int>());
    }
    return out;
  };
  using W = std::vector<std::pair<std::string, int>>;
  EXPECT_EQ(weights("game", "primary"), (W{{"stable", 90}, {"canary", 10}}));
  EXPECT_EQ(weights("chat", "primary"), (W{{"stable", 75}, {"canary", 25}}));
  EXPECT_EQ(weights("auth", "primary"), (W{{"stable", 100}}));
  EXPECT_EQ(weights("shop-public", "game-primary"), (W{{"stable", 90}, {"canary", 10}}));
  EXPECT_EQ(weights("shop-public", "auth-primary"), (W{{"stable", 100}}));
  auto game = Find(docs, "VirtualService", "game");
  EXPECT_EQ(game["spec"]["http"][0]["name"].as<std::string>(), "canary-pinned");
  auto ai = Find(docs, "VirtualService", "ai");
  EXPECT_EQ(ai["spec"]["http"][0]["retries"]["attempts"].as<int>(), 3);
  EXPECT_EQ(ai["spec"]["http"][0]["retries"]["perTryTimeout"].as<std::string>(), "30s");
  EXPECT_EQ(ai["spec"]["http"][0]["timeout"].as<std::string>(), "90s");
  EXPECT_EQ(Find(docs, "VirtualService", "auth")["spec"]["http"][0]["retries"]["attempts"].as<int>(), 2);
  auto pub = Find(docs, "VirtualService", "shop-public");
  ASSERT_TRUE(pub);
  EXPECT_EQ(pub["spec"]["http"][1]["match"][0]["uri"]["prefix"].as<std::string>(), "/game");
  EXPECT_EQ(pub["spec"]["http"][1]["match"][0]["headers"]["x-canary"]["exact"].as<std::string>(), "always");
}

// istioctl analyze's IST0109 (an Error, so the plans' mesh-analyze step fails): two VirtualServices
// bound to the same gateway (here `mesh`) list the same host. The public host therefore lives in one
// VirtualService bound to the ingress Gateway only; the in-mesh ones list only their service's host.
TEST_F(TemplatesTest, NoHostIsListedByTwoVirtualServicesOfOneGatewaySoAnalyzeFindsNoIst0109) {
  std::map<std::string, std::vector<std::string>> owners;  // "gateway host" -> VirtualServices
  for (const auto& vs : Documents("virtual-services")) {
    std::string name = vs["metadata"]["name"].as<std::string>();
    std::vector<std::string> gateways;
    if (vs["spec"]["gateways"])
      for (const auto& g : vs["spec"]["gateways"]) gateways.push_back(g.as<std::string>());
    else
      gateways.push_back("mesh");
    for (const auto& g : gateways)
      for (const auto& h : vs["spec"]["hosts"]) owners[g + " " + h.as<std::string>()].push_back(name);
  }
  for (const auto& [key, names] : owners) EXPECT_EQ(names.size(), 1u) << key << " is listed by " << names.size();
  EXPECT_EQ(owners.count("mesh shop.example.com"), 0u) << "the public host is bound to mesh";
  EXPECT_EQ(owners["shop/shop-gateway shop.example.com"], std::vector<std::string>{"shop-public"});
}

// Since Istio 1.22 spans go only where a Telemetry resource's provider sends them (issue 12.8).
TEST_F(TemplatesTest, TelemetrySendsTracesToTheMeshsOtelProviderAtTenPercent) {
  auto docs = Documents("telemetry");
  ASSERT_EQ(docs.size(), 1u);
  auto t = docs[0];
  EXPECT_EQ(t["apiVersion"].as<std::string>(), "telemetry.istio.io/v1");
  EXPECT_EQ(t["metadata"]["namespace"].as<std::string>(), "shop");
  EXPECT_EQ(t["spec"]["tracing"][0]["providers"][0]["name"].as<std::string>(), "otel-tracing");
  EXPECT_DOUBLE_EQ(t["spec"]["tracing"][0]["randomSamplingPercentage"].as<double>(), 10.0);
}

// Linkerd 2.16+: retries and timeouts on HTTPRoutes whose parent is the Service; only retryable
// (idempotent) routes carry retry annotations (issue 12.7).
TEST_F(TemplatesTest, HttpRoutesRetryOnlyIdempotentRoutesAndTimeEveryRoute) {
  auto docs = Documents("http-routes");
  ASSERT_EQ(docs.size(), 3u);
  auto post = Find(docs, "HTTPRoute", "ingest-post-events");
  ASSERT_TRUE(post);
  EXPECT_EQ(post["metadata"]["annotations"]["timeout.linkerd.io/request"].as<std::string>(), "10s");
  EXPECT_FALSE(post["metadata"]["annotations"]["retry.linkerd.io/http"]);
  EXPECT_EQ(post["spec"]["parentRefs"][0]["kind"].as<std::string>(), "Service");
  EXPECT_EQ(post["spec"]["rules"][0]["matches"][0]["method"].as<std::string>(), "POST");
  auto query = Find(docs, "HTTPRoute", "query-query");
  ASSERT_TRUE(query);
  EXPECT_EQ(query["metadata"]["annotations"]["retry.linkerd.io/http"].as<std::string>(), "5xx");
  EXPECT_EQ(query["metadata"]["annotations"]["retry.linkerd.io/limit"].as<std::string>(), "3");
  EXPECT_EQ(query["metadata"]["annotations"]["retry.linkerd.io/timeout"].as<std::string>(), "5s");
  EXPECT_EQ(query["metadata"]["annotations"]["timeout.linkerd.io/request"].as<std::string>(), "30s");
  EXPECT_EQ(query["spec"]["parentRefs"][0]["port"].as<int>(), 8080);
  EXPECT_FALSE(query["spec"]["rules"][0]["matches"][0]["method"]);
}

TEST_F(TemplatesTest, ServiceProfilesHaveRetryBudgetAndTimeouts) {
  auto docs = Documents("service-profiles");
  ASSERT_EQ(docs.size(), 2u);
  auto ingest = Find(docs, "ServiceProfile", "ingest.shop.svc.cluster.local");
  ASSERT_TRUE(ingest);
  auto budget = ingest["spec"]["retryBudget"];
  EXPECT_EQ(budget["retryRatio"].as<double>(), 0.2);
  EXPECT_EQ(budget["minRetriesPerSecond"].as<int>(), 10);
  EXPECT_EQ(budget["ttl"].as<std::string>(), "10s");
  auto routes = ingest["spec"]["routes"];
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[0]["name"].as<std::string>(), "GET /health");
  EXPECT_EQ(routes[0]["timeout"].as<std::string>(), "1s");
  EXPECT_EQ(routes[1]["condition"]["method"].as<std::string>(), "POST");
  EXPECT_EQ(routes[1]["timeout"].as<std::string>(), "30s");
  EXPECT_FALSE(routes[1]["isRetryable"].as<bool>());
  EXPECT_EQ(routes[2]["condition"]["pathRegex"].as<std::string>(), "/api/events/[^/]+");
  EXPECT_TRUE(routes[2]["isRetryable"].as<bool>());
  auto query = Find(docs, "ServiceProfile", "query.shop.svc.cluster.local");
  EXPECT_EQ(query["spec"]["routes"][0]["condition"]["pathRegex"].as<std::string>(), "/healthz");
  EXPECT_EQ(query["spec"]["routes"][1]["timeout"].as<std::string>(), "10s");
}

TEST_F(TemplatesTest, AppWorkloadsScaleOnCpuAndMemoryAndKeepAMinimumAvailable) {
  auto hpas = Documents("hpa");
  ASSERT_EQ(hpas.size(), 2u);
  auto auth = Find(hpas, "HorizontalPodAutoscaler", "auth");
  EXPECT_EQ(auth["spec"]["minReplicas"].as<int>(), 3);
  EXPECT_EQ(auth["spec"]["maxReplicas"].as<int>(), 10);
  EXPECT_EQ(auth["spec"]["metrics"][0]["resource"]["name"].as<std::string>(), "cpu");
  EXPECT_EQ(auth["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"].as<int>(), 70);
  EXPECT_EQ(auth["spec"]["metrics"][1]["resource"]["name"].as<std::string>(), "memory");
  EXPECT_EQ(auth["spec"]["metrics"][1]["resource"]["target"]["averageUtilization"].as<int>(), 80);
  EXPECT_EQ(Find(hpas, "HorizontalPodAutoscaler", "game")["spec"]["minReplicas"].as<int>(), 2);
  auto pdbs = Documents("pdb");
  EXPECT_EQ(Find(pdbs, "PodDisruptionBudget", "auth")["spec"]["minAvailable"].as<int>(), 2);
  EXPECT_EQ(Find(pdbs, "PodDisruptionBudget", "game")["spec"]["minAvailable"].as<int>(), 1);
  EXPECT_EQ(Find(pdbs, "PodDisruptionBudget", "ai")["spec"]["minAvailable"].as<std::string>(), "50%");
  auto deployments = Documents("deployment");
  ASSERT_EQ(deployments.size(), 3u);  // auth, game, game-canary
  auto canary = Find(deployments, "Deployment", "game-canary");
  ASSERT_TRUE(canary);
  EXPECT_EQ(canary["spec"]["template"]["metadata"]["labels"]["version"].as<std::string>(), "canary");
  EXPECT_EQ(canary["spec"]["template"]["spec"]["containers"][0]["image"].as<std::string>(),
            "registry.example.com/shop/game:1.5.0-rc.1");
  auto stable = Find(deployments, "Deployment", "game");
  EXPECT_FALSE(stable["spec"]["replicas"]) << "the HPA owns spec.replicas";
  EXPECT_EQ(stable["spec"]["template"]["spec"]["containers"][0]["image"].as<std::string>(),
            "registry.example.com/shop/game:1.4.2");
  EXPECT_EQ(stable["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"].as<int>(), 9090);
  auto services = Documents("service");
  auto game_svc = Find(services, "Service", "game");
  EXPECT_EQ(game_svc["metadata"]["annotations"]["balancer.linkerd.io/failure-accrual-consecutive-max-failures"]
                .as<std::string>(),
            "5");
  EXPECT_FALSE(Find(services, "Service", "auth")["metadata"]["annotations"]);
}

TEST_F(TemplatesTest, ObservabilityValuesSampleTenPercentIntoElasticsearch) {
  auto jaeger = YAML::Load(Rendered("jaeger-values"));
  EXPECT_EQ(jaeger["storage"]["type"].as<std::string>(), "elasticsearch");
  EXPECT_EQ(jaeger["storage"]["elasticsearch"]["host"].as<std::string>(), "elasticsearch-master.observability");
  json sampling = json::parse(jaeger["collector"]["samplingConfig"].as<std::string>());
  EXPECT_EQ(sampling["default_strategy"]["type"], "probabilistic");
  EXPECT_EQ(sampling["default_strategy"]["param"], 0.1);
  auto otel = YAML::Load(Rendered("otel-collector-values"));
  EXPECT_EQ(otel["config"]["exporters"]["otlp/jaeger"]["endpoint"].as<std::string>(), "jaeger-collector.observability:4317");
  EXPECT_EQ(otel["config"]["service"]["pipelines"]["traces"]["exporters"][0].as<std::string>(), "otlp/jaeger");
  auto prom = YAML::Load(Rendered("prometheus-values"));
  EXPECT_TRUE(prom["grafana"]["enabled"].as<bool>());
  EXPECT_EQ(prom["grafana"]["sidecar"]["dashboards"]["label"].as<std::string>(), "grafana_dashboard");
  EXPECT_EQ(prom["prometheus"]["prometheusSpec"]["retention"].as<std::string>(), "30d");
  EXPECT_EQ(prom["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"].size(), 2u);  // pods + linkerd proxies
  auto standalone = YAML::Load(Rendered("prometheus-values-standalone-grafana"));
  EXPECT_FALSE(standalone["grafana"]["enabled"].as<bool>());
  EXPECT_EQ(standalone["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"].size(), 1u);
  auto grafana = YAML::Load(Rendered("grafana-values"));
  EXPECT_EQ(grafana["datasources"]["datasources.yaml"]["datasources"][1]["type"].as<std::string>(), "jaeger");
  EXPECT_EQ(grafana["sidecar"]["dashboards"]["label"].as<std::string>(), "grafana_dashboard");
}

TEST_F(TemplatesTest, PrometheusRuleRecordsFourWindowsAndAlertsPerServiceObjective) {
  auto rule = YAML::Load(Rendered("slo-rules"));
  std::set<std::string> records;
  std::map<std::string, std::string> alerts;  // "alert/service" -> expr
  for (const auto& g : rule["spec"]["groups"])
    for (const auto& r : g["rules"]) {
      if (r["record"]) records.insert(r["record"].as<std::string>());
      if (r["alert"])
        alerts[r["alert"].as<std::string>() + "/" + r["labels"]["service"].as<std::string>()] = r["expr"].as<std::string>();
    }
  for (const char* w : {"1m", "5m", "30m", "24h"})
    for (const char* sli : {"sli:requests:rate", "sli:errors:rate", "sli:error_ratio:rate", "sli:availability:ratio_rate",
                            "sli:latency_p95_ms:rate"})
      EXPECT_TRUE(records.count(std::string(sli) + w)) << sli << w;
  EXPECT_TRUE(records.count("slo:error_budget_consumed:ratio"));
  EXPECT_EQ(alerts.size(), 3u * 8u);
  EXPECT_EQ(alerts["SLOAvailabilityBreach/auth"],
            "100 * sli:availability:ratio_rate5m{service=\"auth\",namespace=\"shop\"} < 99.9");
  EXPECT_EQ(alerts["SLOLatencyBreach/game"], "sli:latency_p95_ms:rate5m{service=\"game\",namespace=\"shop\"} > 500");
  EXPECT_EQ(alerts["SLOErrorRateBreach/ai"], "100 * sli:error_ratio:rate5m{service=\"ai\",namespace=\"shop\"} > 1.0");
  EXPECT_EQ(alerts["ErrorBudgetExhausted/auth"],
            "slo:error_budget_consumed:ratio{service=\"auth\",namespace=\"shop\"} >= 1");
  EXPECT_TRUE(alerts.count("ErrorBudgetWarning/game") && alerts.count("ErrorBudgetCritical/ai") &&
              alerts.count("ErrorBudgetFastBurn/auth") && alerts.count("ErrorBudgetSlowBurn/auth"));
  // The annotations keep Prometheus' own templating (mustache delimiters were switched around it).
  EXPECT_NE(Rendered("slo-rules").find("p95 is {{ $value | humanize }} ms"), std::string::npos);
}

TEST_F(TemplatesTest, PrometheusRulePassesPromtool) {
  if (RunCapture({"promtool", "--version"}).exit_code != 0) GTEST_SKIP() << "promtool is not installed";
  auto rule = YAML::Load(Rendered("slo-rules"));
  YAML::Emitter e;
  e << rule["spec"];
  std::ofstream(*dir_ / "rules-for-promtool.yaml") << e.c_str();
  auto r = RunCapture({"promtool", "check", "rules", (*dir_ / "rules-for-promtool.yaml").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("SUCCESS: 59 rules found"), std::string::npos) << r.out << r.err;
}

TEST_F(TemplatesTest, DashboardsAreLabelledConfigMapsHoldingGrafanaJson) {
  for (const char* name : {"dashboard-application", "dashboard-slo", "dashboard-infrastructure"}) {
    auto cm = YAML::Load(Rendered(name));
    EXPECT_EQ(cm["kind"].as<std::string>(), "ConfigMap");
    EXPECT_EQ(cm["metadata"]["labels"]["grafana_dashboard"].as<std::string>(), "1") << name;
    EXPECT_EQ(cm["metadata"]["namespace"].as<std::string>(),
              std::string(name) == "dashboard-infrastructure" ? "observability" : "monitoring");
    ASSERT_EQ(cm["data"].size(), 1u);
    json dash = json::parse(cm["data"].begin()->second.as<std::string>(), nullptr, false);
    ASSERT_FALSE(dash.is_discarded()) << name;
    EXPECT_GE(dash["panels"].size(), 4u) << name;
    for (const auto& p : dash["panels"])
      for (const auto& t : p["targets"]) {
        std::string expr = t["expr"];
        if (expr.find("node_") != std::string::npos) continue;  // nodes belong to no namespace
        EXPECT_NE(expr.find("namespace=\"shop\""), std::string::npos) << name << ": " << expr;
      }
  }
  json slo = json::parse(YAML::Load(Rendered("dashboard-slo"))["data"].begin()->second.as<std::string>());
  EXPECT_EQ(slo["uid"], "slo-shop");
  EXPECT_EQ(slo["panels"][0]["targets"][0]["legendFormat"], "{{service}}");
}

}  // namespace
}  // namespace slipway::test
