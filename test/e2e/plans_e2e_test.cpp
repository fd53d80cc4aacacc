// The shipped production plans (plans/istio-production.yaml, plans/linkerd-canary.yaml) through the built
// binary: they validate, and a dry-run on a machine without a cluster (KUBECONFIG pointing at a closed
// port of 127.0.0.1) still shows every command and rendered manifest, says "not checked: cluster
// unreachable" for the cluster probes, runs the mesh and the observability stack in the same wave, and
// --skip-tests skips the load tests and SLO gates.
// helm, istioctl, linkerd and velero are small scripts written by the test (this machine has none of them):
// they print a version when asked and otherwise fail the way the real tools do without a cluster.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "support/e2e_harness.h"

namespace slipway::test {
namespace {

using nlohmann::json;

std::filesystem::path SourceDir() { return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path(); }
std::string PlanFile(const std::string& name) { return (SourceDir() / "plans" / name).string(); }

// A port of 127.0.0.1 that nothing listens on: bound, read back, closed.
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

class PlansTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    int port = ClosedPort();
    ASSERT_GT(port, 0);
    const std::string server = "https://127.0.0.1:" + std::to_string(port);
    Write("kubeconfig", "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster: {server: \"" + server +
                            "\", insecure-skip-tls-verify: true}\nusers:\n- name: prod\n  user: {token: t}\n"
                            "contexts:\n- name: prod\n  context: {cluster: prod, user: prod}\ncurrent-context: prod\n");
    const std::string refused = "Get \\\"" + server + "/version\\\": dial tcp 127.0.0.1:" + std::to_string(port) +
                                ": connect: connection refused";
    // name, the exact version command, its answer
    const std::vector<std::array<std::string, 3>> tools = {
        {"helm", "version --short", "v3.14.4+g81c902a"},
        {"istioctl", "version --remote=false", "client version: 1.32.0"},
        {"linkerd", "version --client --short", "stable-2.14.10"},
        {"velero", "version --client-only", "Client:\n\tVersion: v1.13.2"}};
    for (const auto& [tool, version_args, answer] : tools) {
      Write("bin/" + tool, "#!/bin/sh\nif [ \"$*\" = \"" + version_args + "\" ]; then printf '%s\\n' \"" + answer +
                               "\"; exit 0; fi\necho \"Error: Kubernetes cluster unreachable: " + refused +
                               "\" >&2\nexit 1\n");
      std::filesystem::permissions(Path("bin/" + tool), std::filesystem::perms::owner_all);
    }
    env_ = {{"KUBECONFIG", Path("kubeconfig").string()},
            {"PATH", Path("bin").string() + ":/usr/bin:/bin"},
            {"HOME", dir_.string()},
            {"KUBECACHEDIR", Path("kube-cache").string()},
            {"SLIPWAY_TEMPLATES", (SourceDir() / "templates").string()}};
  }
  CliResult Run(std::vector<std::string> args) { return Slipway(std::move(args), env_); }
  // `slipway plan PLAN --output json ARGS...`, parsed; fails the test when it does not parse.
  json PlanJson(const std::string& plan, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"plan", PlanFile(plan), "--output", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.all();
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return j.is_discarded() ? json::object() : j;
  }
  static const json& Step(const json& plan, const std::string& id) {
    static const json kNone = json::object();
    if (plan.contains("steps"))
      for (const auto& s : plan["steps"])  // by reference into `plan`, which outlives the result
        if (s["id"] == id) return s;
    ADD_FAILURE() << "no step " << id;
    return kNone;
  }
  static std::string Commands(const json& step) {
    std::string out;
    for (const auto& c : step.value("commands", json::array())) out += c.get<std::string>() + "\n";
    return out;
  }
  std::map<std::string, std::string> env_;
};

TEST_F(PlansTest, BothPlansValidate) {
  for (const char* plan : {"istio-production.yaml", "linkerd-canary.yaml"}) {
    auto r = Run({"validate", PlanFile(plan)});
    EXPECT_EQ(r.exit_code, 0) << plan << ":\n" << r.all();
  }
}

TEST_F(PlansTest, IstioPlanWithoutClusterShowsCommandsAndManifestsAndRunsMeshBesideObservability) {
  json plan = PlanJson("istio-production.yaml");
  // Mesh and observability only need the namespace: one wave.
  int wave = Step(plan, "istio").value("wave", -1);
  EXPECT_EQ(wave, Step(plan, "namespace").value("wave", -1) + 1);
  for (const char* id : {"otel-collector", "jaeger", "grafana", "prometheus-stack"})
    EXPECT_EQ(Step(plan, id).value("wave", -1), wave) << id;
  EXPECT_GT(Step(plan, "app").value("wave", -1), Step(plan, "slo-rules").value("wave", -1));
  // Cluster probes say they could not look; nothing fails.
  EXPECT_EQ(plan["summary"]["failed"], 0) << plan.dump(2);
  for (const char* id : {"prereqs", "namespace", "istio", "slo-rules", "app", "otel-collector", "jaeger", "grafana",
                         "prometheus-stack"})
    EXPECT_NE(Step(plan, id)["probe"].value("detail", "").find("not checked: cluster unreachable"), std::string::npos)
        << id << ": " << Step(plan, id).dump(2);
  // ... and the rest is shown: exact commands, rendered manifests and values.
  std::string app = Commands(Step(plan, "app"));
  EXPECT_NE(app.find("kubectl apply --server-side --field-manager=slipway -f - <<EOF"), std::string::npos) << app;
  for (const char* want : {"kind: DestinationRule", "consecutive5xxErrors: 3", "simple: ROUND_ROBIN", "interval: 60s",
                           "maxRequestsPerConnection: 100", "kind: VirtualService", "weight: 90", "weight: 10",
                           "kind: HorizontalPodAutoscaler", "kind: PodDisruptionBudget", "kind: Gateway",
                           "image: \"ghcr.io/thinkrank/game:1.5.0-rc.1\"", "then wait for rollout"})
    EXPECT_NE(app.find(want), std::string::npos) << want;
  std::string jaeger = Commands(Step(plan, "jaeger"));
  EXPECT_NE(jaeger.find("helm upgrade --install jaeger jaeger --namespace observability --repo https://jaegertracing.github.io/helm-charts"), std::string::npos) << jaeger;
  EXPECT_NE(jaeger.find("\"param\": 0.1"), std::string::npos) << jaeger;
  EXPECT_NE(jaeger.find("type: elasticsearch"), std::string::npos) << jaeger;
  EXPECT_NE(Commands(Step(plan, "prometheus-stack")).find("enabled: false"), std::string::npos);  // stack's Grafana off
  std::string rules = Commands(Step(plan, "slo-rules"));
  EXPECT_NE(rules.find("- record: sli:availability:ratio_rate24h"), std::string::npos);
  EXPECT_NE(rules.find("100 * sli:availability:ratio_rate5m{service=\"auth\",namespace=\"thinkrank\"} < 99.9"),
            std::string::npos);
  EXPECT_NE(rules.find("sli:latency_p95_ms:rate5m{service=\"analytics\",namespace=\"thinkrank\"} > 1000"),
            std::string::npos);
  EXPECT_NE(rules.find("grafana_dashboard: \"1\""), std::string::npos);
  EXPECT_NE(Commands(Step(plan, "istio")).find("istioctl"), std::string::npos) << Commands(Step(plan, "istio"));
  EXPECT_NE(Commands(Step(plan, "mtls-strict"))
                .find("kubectl wait peerauthentication/default -n thinkrank '--for=jsonpath={.spec.mtls.mode}=STRICT'"),
            std::string::npos)
      << Commands(Step(plan, "mtls-strict"));
  for (const char* id : {"load-test", "spike-test", "ai-load-test", "slo-gate", "report"})
    EXPECT_EQ(Step(plan, id).value("action", ""), "would-run") << id;
  EXPECT_EQ(Step(plan, "report").value("needs", json::array()), json::array({"slo-gate"}));
}

TEST_F(PlansTest, TextPlanSaysNotCheckedAndThatApplyWouldFailAtThePrerequisites) {
  auto plain = Run({"plan", PlanFile("linkerd-canary.yaml")});
  EXPECT_EQ(plain.exit_code, 0) << plain.all();
  // No cluster here: the prerequisites already fail, so apply would stop there; --detailed-exitcode says 1.
  auto r = Run({"plan", PlanFile("linkerd-canary.yaml"), "--detailed-exitcode"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.out.find("\napply would fail at step prereqs: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cluster: not checked: cluster unreachable"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not checked: cluster unreachable"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("velero backup create pipeline-pre-2.8.0 --include-namespaces pipeline --ttl 720h --wait"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("retry.linkerd.io/http: 5xx"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("with errors"), std::string::npos) << r.out;
}

TEST_F(PlansTest, LinkerdPlanBacksUpBeforeTheReleaseAndGatesOnItsSlos) {
  json plan = PlanJson("linkerd-canary.yaml", {"--set", "image_tag=3.0.0"});
  EXPECT_EQ(plan["summary"]["failed"], 0) << plan.dump(2);
  EXPECT_EQ(Step(plan, "linkerd").value("wave", -1), Step(plan, "prometheus-stack").value("wave", -1));
  EXPECT_EQ(Step(plan, "linkerd").value("wave", -1), Step(plan, "backup").value("wave", -1));
  EXPECT_LT(Step(plan, "backup").value("wave", -1), Step(plan, "backup-verified").value("wave", -1));
  EXPECT_LT(Step(plan, "backup-verified").value("wave", -1), Step(plan, "app").value("wave", -1));
  // The backup's check ran (read-only) and found no backup of this release.
  const json& backup = Step(plan, "backup");
  EXPECT_TRUE(backup["probe"].value("ran", false)) << backup.dump(2);
  EXPECT_NE(backup["probe"].value("detail", "").find("kubectl wait -n velero backups.velero.io/pipeline-pre-3.0.0"), std::string::npos)
      << backup.dump(2);
  EXPECT_NE(Commands(backup).find("velero backup create pipeline-pre-3.0.0"), std::string::npos) << Commands(backup);
  for (const char* id : {"linkerd", "routes", "app"})
    EXPECT_NE(Step(plan, id)["probe"].value("detail", "").find("not checked: cluster unreachable"), std::string::npos)
        << id << ": " << Step(plan, id).dump(2);
  // Retries and timeouts as HTTPRoutes, not ServiceProfiles (which turn failure accrual off).
  std::string routes = Commands(Step(plan, "routes"));
  for (const char* want : {"kind: HTTPRoute", "name: ingest-get-event", "retry.linkerd.io/http: 5xx",
                           "retry.linkerd.io/limit: \"2\"", "timeout.linkerd.io/request: 30s", "kind: Service"})
    EXPECT_NE(routes.find(want), std::string::npos) << want << "\n" << routes;
  EXPECT_EQ(routes.find("kind: ServiceProfile"), std::string::npos) << routes;
  std::string app = Commands(Step(plan, "app"));
  EXPECT_NE(app.find("balancer.linkerd.io/failure-accrual-consecutive-max-failures: \"5\""), std::string::npos) << app;
  EXPECT_NE(app.find("image: \"ghcr.io/acme/query:3.0.0\""), std::string::npos) << app;
  std::string linkerd = Commands(Step(plan, "linkerd"));
  EXPECT_NE(linkerd.find("linkerd"), std::string::npos) << linkerd;
}

TEST_F(PlansTest, SkipTestsSkipsLoadTestsAndGatesButNotTheReport) {
  for (const auto& [file, tests] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"istio-production.yaml", {"load-test", "spike-test", "ai-load-test", "slo-gate"}},
           {"linkerd-canary.yaml", {"load-test", "slo-gate"}}}) {
    json plan = PlanJson(file, {"--skip-tests"});
    int skipped = 0;
    for (const auto& s : plan["steps"]) {
      bool is_test = std::find(tests.begin(), tests.end(), s["id"].get<std::string>()) != tests.end();
      EXPECT_EQ(s["action"] == "skipped", is_test) << file << ": " << s.dump(2);
      if (s["action"] == "skipped") ++skipped;
    }
    EXPECT_EQ(skipped, static_cast<int>(tests.size())) << file;
    EXPECT_EQ(Step(plan, "report").value("action", ""), "would-run") << file;
  }
}

TEST_F(PlansTest, GraphHasMeshAndObservabilityAsSiblingBranches) {
  auto r = Run({"graph", PlanFile("istio-production.yaml"), "--format", "mermaid"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  for (const char* edge : {"s_namespace --> s_istio", "s_namespace --> s_otel_collector", "s_namespace --> s_jaeger",
                           "s_namespace --> s_grafana", "s_namespace --> s_prometheus_stack",
                           "s_prometheus_stack --> s_slo_rules", "s_istio --> s_app", "s_slo_rules --> s_app",
                           "s_slo_gate --> s_report"})
    EXPECT_NE(r.out.find(edge), std::string::npos) << edge << "\n" << r.out;
  EXPECT_EQ(r.out.find("s_istio --> s_otel_collector"), std::string::npos);
  EXPECT_EQ(r.out.find("s_otel_collector --> s_istio"), std::string::npos);
}

}  // namespace
}  // namespace slipway::test
