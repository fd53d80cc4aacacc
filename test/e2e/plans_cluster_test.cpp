// The shipped production plans (plans/istio-production.yaml, plans/linkerd-canary.yaml) applied end to end
// through the built binary on the REAL test cluster: real kubectl and apiserver (every manifest the
// plans render goes through its validation, CRD schemas included), real helm 4 installing from a chart
// repository on 127.0.0.1, kwok making the pods Ready, real nginx answering the connectivity check.
// istioctl, linkerd and velero are the recording FAKES (no approved module builds them). The charts are
// stand-ins: one per release of the plan, at the plan's pinned version, recording the values it got.
// --skip-tests: the load tests need the platform's real hosts and the SLO gate its Prometheus.
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "test/support/cluster/cluster_fakes.h"
#include "test/support/loadtest/nginx_fixture.h"

namespace slipway::test {
namespace {

using nlohmann::json;
using Argv = std::vector<std::string>;

std::filesystem::path SourceDir() { return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path(); }
std::string PlanFile(const std::string& name) { return (SourceDir() / "plans" / name).string(); }

struct Release {
  std::string step, name, chart, version, ns;
};

// The helm.release steps of a plan, as written (the plans pin literal names and versions).
std::vector<Release> Releases(const std::string& plan) {
  std::vector<Release> out;
  for (const auto& step : YAML::LoadFile(PlanFile(plan))["steps"]) {
    if (!step["uses"] || step["uses"].as<std::string>() != "helm.release") continue;
    const auto& w = step["with"];
    out.push_back({step["id"].as<std::string>(), w["name"].as<std::string>(), w["chart"].as<std::string>(),
                   w["version"].as<std::string>(), w["namespace"].as<std::string>()});
  }
  return out;
}

class PlansOnRealClusterWithFakeMeshToolsTest : public ClusterTestWithFakes {
 protected:
  void SetUp() override {
    ClusterTestWithFakes::SetUp();
    if (HasFatalFailure()) return;
    RemoveShared();  // whatever an earlier test left
    std::string error;
    nginx_ = loadtest::NginxServer::Start("location = /auth/health { return 200 'ok\\n'; }\n", false, &error);
    ASSERT_TRUE(nginx_) << error;
    env_["SLIPWAY_TEMPLATES"] = (SourceDir() / "templates").string();
  }
  void TearDown() override {
    if (fakes_) RemoveShared();
    nginx_.reset();
    ClusterTestWithFakes::TearDown();
  }
  // The plans install into fixed, cluster-wide names: monitoring, observability, istio-system, linkerd,
  // velero.
  void RemoveShared() {
    Kubectl({"delete", "secret", "thinkrank-tls", "-n", "istio-system", "--ignore-not-found"});
    Kubectl({"delete", "namespace", "monitoring", "observability", "velero", "--ignore-not-found", "--wait=true",
             "--timeout=180s"});
    Kubectl({"delete", "crd", "backups.velero.io", "--ignore-not-found"});
    RemoveIstioControlPlane();
    RemoveLinkerd();
  }
  // A stand-in chart for every release of the plan, served by nginx: a ConfigMap holding the values it
  // was given and a Deployment, so helm's --wait waits for a real rollout.
  std::string ServeStandInCharts(const std::string& plan) {
    const std::string repo = nginx_->HtmlDir() + "/charts";
    std::filesystem::create_directories(repo);
    for (const Release& r : Releases(plan)) {
      std::filesystem::path chart = Path("standins/" + r.chart);
      std::filesystem::create_directories(chart / "templates");
      Write("standins/" + r.chart + "/Chart.yaml", "apiVersion: v2\nname: " + r.chart + "\nversion: " + r.version +
                                                       "\nappVersion: stand-in\ndescription: stand-in for " + r.chart + "\n");
      Write("standins/" + r.chart + "/templates/standin.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-standin\ndata:\n"
            "  values.json: {{ toJson .Values | quote }}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
            "  name: {{ .Release.Name }}-standin\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: {{ .Release.Name }}}}\n"
            "  template:\n    metadata: {labels: {app: {{ .Release.Name }}}}\n    spec:\n      containers:\n"
            "        - {name: main, image: registry.example.com/standin:1, resources: {requests: {cpu: 10m}}}\n");
      Helm({"package", chart.string(), "-d", repo});
    }
    Helm({"repo", "index", repo, "--url", nginx_->Url() + "/charts"});
    return nginx_->Url() + "/charts";
  }
  std::string Helm(const Argv& args) {
    pipeline::ProcessSpec spec;
    spec.argv = {cluster().Bin() + "/helm"};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = Env();
    auto r = pipeline::RunProcess(spec);
    EXPECT_TRUE(r && r->Ok()) << (r ? r->Describe() + "\n" + r->err : r.error().message);
    return r ? r->out : "";
  }
  json HelmRelease(const std::string& name, const std::string& ns) {
    json list = json::parse(Helm({"list", "-n", ns, "-o", "json"}), nullptr, false);
    if (list.is_array())
      for (const auto& r : list)
        if (r["name"] == name) return r;
    return nullptr;
  }
  json Values(const std::string& release, const std::string& ns) {
    json cm = cluster().Get("ConfigMap", ns, release + "-standin");
    if (!cm.is_object() || !cm.contains("data")) return nullptr;
    return json::parse(cm["data"].value("values.json", ""), nullptr, false);
  }
  std::string Image(const std::string& ns, const std::string& deployment) {
    json d = cluster().Get("Deployment", ns, deployment);
    if (!d.is_object() || !d.contains("spec")) return "<no deployment " + deployment + ">";
    return d["spec"]["template"]["spec"]["containers"][0].value("image", "");
  }
  static bool Contains(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }
  CliResult Apply(const std::string& plan, Argv args) {
    args.insert(args.begin(), {"apply", PlanFile(plan)});
    return Run(std::move(args), env_, std::chrono::minutes(10));
  }

  std::unique_ptr<loadtest::NginxServer> nginx_;
};

// --- istio-production ------------------------------------------------------------------------------------

class IstioProductionPlanWithFakeIstioctlTest : public PlansOnRealClusterWithFakeMeshToolsTest {
 protected:
  void SetUp() override {
    PlansOnRealClusterWithFakeMeshToolsTest::SetUp();
    if (HasFatalFailure()) return;
    ns_ = Namespace("thinkrank");
    std::string repo = ServeStandInCharts("istio-production.yaml");
    args_ = {"--skip-tests", "--set", "namespace=" + ns_, "--set", "target_url=" + nginx_->Url()};
    for (const char* var : {"otel_chart_repo", "jaeger_chart_repo", "grafana_chart_repo", "prometheus_chart_repo"})
      args_.insert(args_.end(), {"--set", std::string(var) + "=" + repo});
    Write("control-plane.yaml", IstioControlPlane(true));
    fakes_->Expect("istioctl", {{"argv", {"version", "--remote=false"}}, {"stdout", "client version: 1.32.0\n"}, {"repeat", true}});
  }
  // What the plan uses but does not create: the gateway's TLS Secret and Jaeger's Elasticsearch.
  void CreateExternalDependencies() {
    Kubectl({"create", "namespace", "observability"});
    Kubectl({"create", "service", "clusterip", "elasticsearch-master", "-n", "observability", "--tcp=9200:9200"});
    Kubectl({"apply", "-f", "-"}, "apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n");
    Kubectl({"create", "secret", "generic", "thinkrank-tls", "-n", "istio-system", "--type=kubernetes.io/tls",
             "--from-literal=tls.crt=cert", "--from-literal=tls.key=key"});
  }
  void ExpectVersion(bool mesh) {
    fakes_->ExpectCanned("istioctl", {"version", "-o", "json"}, "istioctl.version_json", {{"mesh", mesh}});
  }
  void ExpectAnalyze(json issues = json::array()) {
    fakes_->ExpectCanned("istioctl", {"analyze", "-n", ns_, "--failure-threshold", "Error"}, "istioctl.analyze",
                         {{"namespace", ns_}, {"issues", std::move(issues)}});
  }
  void ExpectFreshInstall() {
    ExpectVersion(false);  // the probe
    ExpectVersion(false);  // the apply looks again
    fakes_->Expect("istioctl", {{"argv", {"install", "-y", "-f", Path(".slipway/mesh-istio/istio/istio-operator.yaml").string(),
                                          "--set", "profile=default"}},
                                {"canned", "istioctl.install"},
                                {"params", {{"egress", true}}},
                                {"then", {{KubectlBin(), "apply", "-f", Path("control-plane.yaml").string()}}}});
    ExpectVersion(true);
  }
  Argv With(Argv extra) {
    Argv a = args_;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  std::string ns_;
  Argv args_;
};

TEST_F(IstioProductionPlanWithFakeIstioctlTest, AMissingTlsSecretAndElasticsearchStopTheRunAtThePrerequisites) {
  auto r = Apply("istio-production.yaml", args_);
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(r.all(), "2 prerequisite(s) missing")) << r.all();
  EXPECT_TRUE(Contains(r.all(), "Secret istio-system/thinkrank-tls does not exist: the public gateway's certificate: "
                                "kubectl create secret tls thinkrank-tls -n istio-system")) << r.all();
  EXPECT_TRUE(Contains(r.all(), "Service observability/elasticsearch-master does not exist: Jaeger stores its traces"))
      << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_TRUE(cluster().Get("Namespace", "", ns_).is_null()) << "the run went past its prerequisites";
}

TEST_F(IstioProductionPlanWithFakeIstioctlTest, AppliesEndToEndThenRerunChangesNothingThenAFailedAnalyzeRollsTheAppBack) {
  CreateExternalDependencies();
  ExpectFreshInstall();
  ExpectAnalyze();
  auto r = Apply("istio-production.yaml", args_);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});

  // The four releases, from the mirror, at the plan's pins, with the plan's values files.
  for (const Release& rel : Releases("istio-production.yaml")) {
    json got = HelmRelease(rel.name, rel.ns);
    ASSERT_TRUE(got.is_object()) << rel.name << " is not installed in " << rel.ns;
    EXPECT_EQ(got["chart"], rel.chart + "-" + rel.version);
    EXPECT_EQ(got["status"], "deployed");
  }
  EXPECT_EQ(Values("prometheus", "monitoring")["prometheus"]["prometheusSpec"]["retention"], "30d")
      << Values("prometheus", "monitoring").dump();
  // The mesh: STRICT mTLS for the namespace (mtls-strict waited for it on the live object).
  EXPECT_EQ(cluster().Get("PeerAuthentication", ns_, "default")["spec"]["mtls"]["mode"], "STRICT");
  // The application and its traffic policy, accepted by the apiserver and the Istio CRD schemas.
  for (const char* svc : {"auth", "game", "ai", "social", "analytics"})
    EXPECT_EQ(Image(ns_, svc), "ghcr.io/thinkrank/" + std::string(svc) + ":1.4.2") << svc;
  EXPECT_EQ(Image(ns_, "game-canary"), "ghcr.io/thinkrank/game:1.5.0-rc.1");
  json vs = cluster().Get("VirtualService", ns_, "game");
  ASSERT_TRUE(vs.is_object() && vs.contains("spec")) << vs.dump();
  EXPECT_EQ(vs["spec"]["http"][1]["name"], "primary") << vs.dump();
  EXPECT_EQ(vs["spec"]["http"][1]["route"][0]["weight"], 90) << vs.dump();
  EXPECT_EQ(vs["spec"]["http"][1]["route"][1]["weight"], 10) << vs.dump();
  json pub = cluster().Get("VirtualService", ns_, ns_ + "-public");
  EXPECT_EQ(pub["spec"]["hosts"], json::array({"api.thinkrank.example.com"})) << pub.dump();
  EXPECT_EQ(pub["spec"]["gateways"], json::array({ns_ + "/" + ns_ + "-gateway"})) << pub.dump();
  EXPECT_EQ(cluster().Get("DestinationRule", ns_, "game")["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"], 3);
  EXPECT_TRUE(cluster().Get("PrometheusRule", "monitoring", ns_ + "-slo").contains("spec"));
  EXPECT_TRUE(Contains(r.out, "[report] succeeded")) << r.out;
  bool report = false;
  for (const auto& e : std::filesystem::recursive_directory_iterator(Path("reports")))
    report |= e.path().filename() == "report.json";
  EXPECT_TRUE(report) << r.out;
  EXPECT_TRUE(Contains(r.out, "[load-test] skipped")) << r.out;

  // Second run: nothing changes; istioctl only answers the probe. The checks downstream of unchanged
  // steps stand as they were (their checkpoint), so analyze does not run again.
  ExpectVersion(true);
  auto again = Apply("istio-production.yaml", args_);
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  for (const char* id : {"namespace", "istio", "otel-collector", "jaeger", "grafana", "prometheus-stack", "slo-rules", "app"})
    EXPECT_TRUE(Contains(again.out, std::string("[") + id + "] unchanged")) << id << "\n" << again.out;
  EXPECT_TRUE(Contains(again.out, "[mesh-analyze] unchanged (checkpoint)")) << again.out;
  EXPECT_EQ(HelmRelease("prometheus", "monitoring")["revision"], "1");

  // A new image, and istioctl analyze finds an error: the run fails and puts the app back as it was.
  ExpectVersion(true);
  ExpectAnalyze(json::array({json::array({"Error", "IST0101", "VirtualService " + ns_ + "/game",
                                          "Referenced host+subset in destinationrule not found: \"game." + ns_ +
                                              ".svc.cluster.local+canary\""})}));
  auto failed = Apply("istio-production.yaml", With({"--set", "image_tag=1.4.3"}));
  EXPECT_NE(failed.exit_code, 0) << failed.all();
  EXPECT_TRUE(Contains(failed.all(), "IST0101")) << failed.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  for (const char* svc : {"auth", "game", "ai", "social", "analytics"})
    EXPECT_EQ(Image(ns_, svc), "ghcr.io/thinkrank/" + std::string(svc) + ":1.4.2") << svc << "\n" << failed.all();
  EXPECT_EQ(HelmRelease("prometheus", "monitoring")["revision"], "1");  // unchanged by the run: left alone
}

// --- linkerd-canary ------------------------------------------------------------------------------------

// Velero's Backup CRD, reduced to what the plan reads (velero's module is not approved: its CRDs and
// server are not on the test cluster). The fake `velero backup create` makes the Backup object the
// velero server would have finished, with the phase the test chooses.
constexpr const char* kVeleroBackupCrd = R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: backups.velero.io}
spec:
  group: velero.io
  names: {kind: Backup, listKind: BackupList, plural: backups, singular: backup}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
)";

class LinkerdCanaryPlanWithFakeLinkerdAndVeleroTest : public PlansOnRealClusterWithFakeMeshToolsTest {
 protected:
  void SetUp() override {
    PlansOnRealClusterWithFakeMeshToolsTest::SetUp();
    if (HasFatalFailure()) return;
    ns_ = Namespace("pipeline");
    std::string repo = ServeStandInCharts("linkerd-canary.yaml");
    args_ = {"--skip-tests", "--set", "namespace=" + ns_, "--set", "target_url=" + nginx_->Url(),
             "--set", "prometheus_chart_repo=" + repo};
    fakes_->Expect("linkerd", {{"argv", {"version", "--client", "--short"}}, {"canned", "linkerd.version_client_short"},
                               {"repeat", true}});
    fakes_->Expect("velero", {{"argv", {"version", "--client-only"}}, {"canned", "velero.version_client"}, {"repeat", true}});
    Kubectl({"apply", "-f", "-"}, kVeleroBackupCrd);
    Kubectl({"create", "namespace", "velero"});
    Kubectl({"wait", "--for=condition=Established", "crd/backups.velero.io", "--timeout=30s"});
  }
  std::string Cert(const std::string& name) { return Path(".slipway/mesh-linkerd/linkerd/" + name).string(); }
  std::string Backup() { return ns_ + "-pre-2.8.0"; }
  void ExpectLinkerdInstall() {
    fakes_->ExpectCanned("linkerd", {"version"}, "linkerd.version", {{"server", false}});
    fakes_->ExpectCanned("linkerd", {"version"}, "linkerd.version", {{"server", false}});
    fakes_->ExpectCanned("linkerd", {"install", "--crds"}, "linkerd.install_crds");
    fakes_->ExpectCanned("linkerd", {"install", "--identity-trust-anchors-file", Cert("ca.crt"),
                                     "--identity-issuer-certificate-file", Cert("issuer.crt"),
                                     "--identity-issuer-key-file", Cert("issuer.key"), "--ha"},
                         "linkerd.install");
    fakes_->ExpectCanned("linkerd", {"check"}, "linkerd.check");
  }
  // `velero backup create ... --wait`: exits 0 (as velero does) and leaves a Backup in `phase`.
  void ExpectBackup(const std::string& phase) {
    Write("backup.yaml", "apiVersion: velero.io/v1\nkind: Backup\nmetadata: {name: " + Backup() +
                             ", namespace: velero}\nspec: {includedNamespaces: [" + ns_ + "], ttl: 720h0m0s}\n"
                             "status: {phase: " + phase + "}\n");
    fakes_->Expect("velero", {{"argv", {"backup", "create", Backup(), "--include-namespaces", ns_, "--ttl", "720h", "--wait"}},
                              {"canned", "velero.backup_create"},
                              {"params", {{"name", Backup()}, {"phase", phase}}},
                              {"then", {{KubectlBin(), "apply", "-f", Path("backup.yaml").string()}}}});
  }
  json Report() {
    for (const auto& e : std::filesystem::recursive_directory_iterator(Path("reports")))
      if (e.path().filename() == "report.json") return json::parse(Read(e.path().string()), nullptr, false);
    return nullptr;
  }

  std::string ns_;
  Argv args_;
};

TEST_F(LinkerdCanaryPlanWithFakeLinkerdAndVeleroTest, AppliesEndToEndWithACompletedBackupBeforeTheApp) {
  ExpectLinkerdInstall();
  ExpectBackup("Completed");
  auto r = Apply("linkerd-canary.yaml", args_);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});

  json rel = HelmRelease("prometheus", "monitoring");
  ASSERT_TRUE(rel.is_object()) << r.out;
  EXPECT_EQ(rel["chart"], "kube-prometheus-stack-58.1.0");
  EXPECT_EQ(cluster().Get("Namespace", "", ns_)["metadata"]["annotations"]["linkerd.io/inject"], "enabled");
  // Per-route retries and timeouts: HTTPRoutes, valid against the Gateway API v1 CRDs on the real apiserver.
  json route = cluster().Get("httproutes.gateway.networking.k8s.io", ns_, "ingest-get-event");
  ASSERT_TRUE(route.contains("spec")) << route.dump();
  EXPECT_EQ(route["metadata"]["annotations"]["retry.linkerd.io/http"], "5xx") << route.dump();
  EXPECT_EQ(route["spec"]["parentRefs"][0]["kind"], "Service") << route.dump();
  for (const char* svc : {"ingest", "processor", "query"}) {
    EXPECT_EQ(Image(ns_, svc), "ghcr.io/acme/" + std::string(svc) + ":2.8.0") << svc;
    EXPECT_EQ(Image(ns_, std::string(svc) + "-canary"), "ghcr.io/acme/" + std::string(svc) + ":2.9.0-rc.1") << svc;
  }
  // The backup is named, with its phase, in the step's outputs and the report.
  json report = Report();
  ASSERT_TRUE(report.is_object()) << r.out;
  json verified;
  for (const auto& s : report["steps"])
    if (s["id"] == "backup-verified") verified = s;
  EXPECT_EQ(verified["outputs"]["backup"], Backup()) << report.dump();
  EXPECT_EQ(verified["outputs"]["phase"], "Completed") << report.dump();

  // Second run: the Completed backup is found by the check; velero is not asked again.
  fakes_->ExpectCanned("linkerd", {"version"}, "linkerd.version", {{"server", true}});
  auto again = Apply("linkerd-canary.yaml", args_);
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_TRUE(Contains(again.out, "[backup] unchanged")) << again.out;
  size_t creates = 0;
  for (const auto& argv : fakes_->Argvs("velero")) creates += argv.size() > 1 && argv[1] == "create";
  EXPECT_EQ(creates, 1u);
}

TEST_F(LinkerdCanaryPlanWithFakeLinkerdAndVeleroTest, APartiallyFailedBackupStopsTheDeployBeforeTheAppChanges) {
  ExpectLinkerdInstall();
  ExpectBackup("PartiallyFailed");  // velero still exits 0
  fakes_->ExpectCanned("linkerd", {"uninstall"}, "linkerd.uninstall");  // the rollback of this run's install
  auto r = Apply("linkerd-canary.yaml", args_);
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(r.all(), "backup " + Backup() + " is PartiallyFailed, not Completed")) << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  json d = cluster().Get("Deployment", ns_, "ingest");
  EXPECT_TRUE(d.is_null() || d.contains("error")) << "the app was deployed without a valid backup: " << d.dump();
}

}  // namespace
}  // namespace slipway::test
