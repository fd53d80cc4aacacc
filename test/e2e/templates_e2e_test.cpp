// The shipped Kubernetes templates (templates/namespace, istio, linkerd, observability, app), rendered by
// the built slipway binary (a plan of `template` steps with fixed values) and
//   * compared with golden files in test/e2e/golden/ (SLIPWAY_UPDATE_GOLDEN=1 rewrites them),
//   * checked for the settings the reference deploys rely on (so a regenerated golden cannot hide them),
//   * sent to the in-repo Kubernetes API test server with the REAL kubectl
//     (`kubectl apply --dry-run=server -f FILE`; test/support/kube/kube_api_server.py, not a real cluster),
//   * and, for the PrometheusRule, checked by the real `promtool check rules`.
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "support/e2e_harness.h"
#include "test/support/kube/kube_test_server.h"
#include "test/support/kube/run_capture.h"

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

// One plan renders every template: values as a real deploy would give them (REFERENCE-DEPLOYS §1/§2),
// chosen so that every optional branch of every template is taken somewhere.
constexpr const char* kRenderPlan = R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: render-templates}
vars:
  namespace: shop
  image_registry: registry.example.com/shop
  image_tag: "1.4.2"
  public_host: shop.example.com
  tls_secret: shop-tls
steps:
  - id: namespace
    uses: template
    with: {src: templates/namespace/namespace.yaml, dest: out/namespace.yaml,
           values: {istio_injection: enabled, environment: production}}
  - id: namespace-linkerd
    uses: template
    with: {src: templates/namespace/namespace.yaml, dest: out/namespace-linkerd.yaml,
           values: {namespace: pipeline, linkerd_inject: enabled}}
  - id: destination-rules
    uses: template
    with:
      src: templates/istio/destination-rules.yaml
      dest: out/destination-rules.yaml
      values:
        services:
          - {name: auth, load_balancer: LEAST_CONN, consecutive_errors: 5, interval: 30s, base_ejection_time: 30s}
          - {name: game, load_balancer: ROUND_ROBIN, locality: true, consecutive_errors: 3, interval: 10s, base_ejection_time: 10s}
          - {name: ai, load_balancer: LEAST_CONN, consecutive_errors: 2, interval: 60s, base_ejection_time: 60s}
          - {name: social}
  - id: virtual-services
    uses: template
    with:
      src: templates/istio/virtual-service-canary.yaml
      dest: out/virtual-services.yaml
      values:
        services:
          - {name: auth, path_prefix: /auth}
          - {name: game, path_prefix: /game, canary_tag: 1.5.0-rc.1}
          - {name: chat, canary_tag: 2.0.0, stable_weight: 75, canary_weight: 25}
          - {name: ai, retry_attempts: 3, per_try_timeout: 30s, retry_on: "5xx,reset", timeout: 90s}
  - id: gateway
    uses: template
    with: {src: templates/istio/gateway.yaml, dest: out/gateway.yaml}
  - id: service-profiles
    uses: template
    with:
      src: templates/linkerd/service-profiles.yaml
      dest: out/service-profiles.yaml
      values:
        services:
          - name: ingest
            routes:
              - {name: POST /api/events, method: POST, path_regex: /api/events}
              - {name: "GET /api/events/:id", path_regex: '/api/events/[^/]+', retryable: true}
          - {name: query, health_path: /healthz, routes: [{name: GET /api/query, path_regex: /api/query, timeout: 10s}]}
  - id: deployment
    uses: template
    with:
      src: templates/app/deployment.yaml
      dest: out/deployment.yaml
      values:
        otel_endpoint: http://otel-collector.observability:4318
        services:
          - {name: auth, cpu_request: 500m, memory_limit: 1Gi}
          - {name: game, canary_tag: 1.5.0-rc.1, port: 9090}
  - id: service
    uses: template
    with:
      src: templates/app/service.yaml
      dest: out/service.yaml
      values:
        services: [{name: auth}, {name: game, target_port: 9090, failure_accrual: 5}]
  - id: hpa
    uses: template
    with:
      src: templates/app/hpa.yaml
      dest: out/hpa.yaml
      values:
        services: [{name: auth, min_replicas: 3, max_replicas: 10}, {name: game}]
  - id: pdb
    uses: template
    with:
      src: templates/app/pdb.yaml
      dest: out/pdb.yaml
      values:
        services: [{name: auth, min_available: 2}, {name: game}, {name: ai, min_available: "50%"}]
  - id: prometheus-values
    uses: template
    with: {src: templates/observability/prometheus-values.yaml, dest: out/prometheus-values.yaml,
           values: {linkerd: true, retention: 30d, storage_class: gp3, grafana_admin_secret: grafana-admin,
                    jaeger_query_url: "http://jaeger-query.observability:16686"}}
  - id: prometheus-values-standalone-grafana
    uses: template
    with: {src: templates/observability/prometheus-values.yaml, dest: out/prometheus-values-standalone-grafana.yaml,
           values: {standalone_grafana: true}}
  - id: grafana-values
    uses: template
    with: {src: templates/observability/grafana-values.yaml, dest: out/grafana-values.yaml,
           values: {prometheus_url: "http://kube-prometheus-stack-prometheus.monitoring:9090",
                    jaeger_query_url: "http://jaeger-query.observability:16686"}}
  - id: otel-collector-values
    uses: template
    with: {src: templates/observability/otel-collector-values.yaml, dest: out/otel-collector-values.yaml,
           values: {jaeger_otlp_endpoint: "jaeger-collector.observability:4317"}}
  - id: jaeger-values
    uses: template
    with: {src: templates/observability/jaeger-values.yaml, dest: out/jaeger-values.yaml,
           values: {elasticsearch_host: elasticsearch-master.observability}}
  - id: slo-rules
    uses: template
    with:
      src: templates/observability/slo-rules.yaml
      dest: out/slo-rules.yaml
      values:
        sli_requests: 'istio_requests_total{reporter="destination",destination_service_namespace="shop"}'
        sli_errors: 'istio_requests_total{reporter="destination",destination_service_namespace="shop",response_code=~"5.."}'
        sli_latency_buckets: 'istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_namespace="shop"}'
        sli_service_label: destination_service_name
        services:
          - {name: auth, availability: 99.9, latency_p95_ms: 200, error_rate: 0.1}
          - {name: game, availability: 99.5, latency_p95_ms: 500, error_rate: 0.5}
          - {name: ai, availability: 99.0, latency_p95_ms: 2000, error_rate: 1.0}
  - id: dashboard-application
    uses: template
    with: {src: templates/observability/dashboard-application.yaml, dest: out/dashboard-application.yaml}
  - id: dashboard-slo
    uses: template
    with: {src: templates/observability/dashboard-slo.yaml, dest: out/dashboard-slo.yaml}
  - id: dashboard-infrastructure
    uses: template
    with: {src: templates/observability/dashboard-infrastructure.yaml, dest: out/dashboard-infrastructure.yaml,
           values: {monitoring_namespace: observability}}
)";

// Rendered Kubernetes manifests (the rest are Helm values files).
const std::vector<std::string> kManifests = {
    "namespace",         "namespace-linkerd", "destination-rules", "virtual-services", "gateway",
    "service-profiles",  "deployment",        "service",           "hpa",              "pdb",
    "slo-rules",         "dashboard-application", "dashboard-slo", "dashboard-infrastructure"};
const std::vector<std::string> kValuesFiles = {"prometheus-values", "prometheus-values-standalone-grafana",
                                               "grafana-values", "otel-collector-values", "jaeger-values"};

// Renders once per process (one `slipway apply` of the plan above); the API server starts only for the
// dry-run test.
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
    delete server_;
    server_ = nullptr;
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
  // Starts the API server for the one test that needs it (ctest runs every test in its own process).
  static void StartServer() {
    std::filesystem::create_directories(*dir_ / "kube");
    KubeTestServerOptions options;
    options.dir = *dir_ / "kube";
    auto s = KubeTestServer::Start(options);
    ASSERT_TRUE(s) << s.error().message;
    server_ = new KubeTestServer(std::move(*s));
  }
  static RunResult Kubectl(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"kubectl"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions o;
    o.env = server_->Env();
    o.timeout = std::chrono::seconds(30);
    return RunCapture(argv, o);
  }

  static std::filesystem::path* dir_;
  static RunResult* render_;
  static KubeTestServer* server_;
  static bool failed_;
};

std::filesystem::path* TemplatesTest::dir_ = nullptr;
RunResult* TemplatesTest::render_ = nullptr;
KubeTestServer* TemplatesTest::server_ = nullptr;
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
      EXPECT_EQ(l.find(": \"\""), std::string::npos) << name << ": empty value in " << l;
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
  ASSERT_EQ(docs.size(), 4u);
  auto weights = [&](const std::string& name) {
    std::vector<std::pair<std::string, int>> out;
    auto vs = Find(docs, "VirtualService", name);
    for (const auto& route : vs["spec"]["http"]) {
      if (route["name"].as<std::string>() != "primary") continue;
      for (const auto& r : route["route"])
        out.emplace_back(r["destination"]["subset"].as<std::string>(), r["weight"].as<int>());
    }
    return out;
  };
  using W = std::vector<std::pair<std::string, int>>;
  EXPECT_EQ(weights("game"), (W{{"stable", 90}, {"canary", 10}}));
  EXPECT_EQ(weights("chat"), (W{{"stable", 75}, {"canary", 25}}));
  EXPECT_EQ(weights("auth"), (W{{"stable", 100}}));
  auto game = Find(docs, "VirtualService", "game");
  EXPECT_EQ(game["spec"]["http"][0]["name"].as<std::string>(), "canary-pinned");
  EXPECT_EQ(game["spec"]["gateways"][1].as<std::string>(), "shop/shop-gateway");
  EXPECT_EQ(game["spec"]["hosts"][1].as<std::string>(), "shop.example.com");
  auto ai = Find(docs, "VirtualService", "ai");
  EXPECT_EQ(ai["spec"]["gateways"].size(), 1u);
  EXPECT_EQ(ai["spec"]["http"][0]["retries"]["attempts"].as<int>(), 3);
  EXPECT_EQ(ai["spec"]["http"][0]["retries"]["perTryTimeout"].as<std::string>(), "30s");
  EXPECT_EQ(ai["spec"]["http"][0]["timeout"].as<std::string>(), "90s");
  EXPECT_EQ(Find(docs, "VirtualService", "auth")["spec"]["http"][0]["retries"]["attempts"].as<int>(), 2);
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

TEST_F(TemplatesTest, EveryManifestPassesServerSideDryRunWithRealKubectl) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  for (const char* ns : {"shop", "monitoring", "observability"}) {
    auto r = Kubectl({"create", "namespace", ns});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  // One kubectl for all files (a process per file costs ~0.3 s each); its errors name the file.
  std::vector<std::string> args{"apply", "--dry-run=server"};
  size_t docs = 0;
  for (const auto& name : kManifests) {
    args.push_back("-f");
    args.push_back((*dir_ / "out" / (name + ".yaml")).string());
    docs += Documents(name).size();
  }
  auto r = Kubectl(args);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err.find("rror"), std::string::npos) << r.err;  // (a warning about namespace/shop is expected)
  size_t dry = 0;
  for (size_t at = r.out.find("(server dry run)"); at != std::string::npos; at = r.out.find("(server dry run)", at + 1))
    ++dry;
  EXPECT_EQ(dry, docs) << r.out;
  EXPECT_EQ(docs, 27u);
  for (const char* line : {"destinationrule.networking.istio.io/game created (server dry run)",
                           "virtualservice.networking.istio.io/game created (server dry run)",
                           "serviceprofile.linkerd.io/ingest.shop.svc.cluster.local created (server dry run)",
                           "prometheusrule.monitoring.coreos.com/shop-slo created (server dry run)",
                           "horizontalpodautoscaler.autoscaling/auth created (server dry run)",
                           "configmap/shop-dashboard-slo created (server dry run)"})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  // A dry run stores nothing: only the three namespaces above (and the seeded ones) exist.
  json objects = server_->Objects();
  ASSERT_TRUE(objects.is_array()) << objects.dump();
  for (const auto& o : objects) {
    std::string kind = o["kind"];
    EXPECT_TRUE(kind == "Namespace" || kind == "Node") << o.dump();
  }
  EXPECT_TRUE(server_->Find("Namespace", "", "pipeline").is_null());
}

}  // namespace
}  // namespace slipway::test
