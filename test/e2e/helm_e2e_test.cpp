// The helm.release kind through the built binary, with the recording fake helm (test/support/fakes): every
// helm call slipway makes is scripted here with its exact argv, answered with outputs shaped like helm
// v3.14's (canned.py), and a call that was not scripted fails the step (the fake exits 97).
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "pipeline/sha256.h"
#include "pipeline/subprocess.h"
#include "support/e2e_harness.h"
#include "test/support/fakes/fake_tools.h"

namespace slipway::test {
using HelmFakeTools = FakeTools;
}

namespace slipway::test {
namespace {

using nlohmann::json;
using Argv = std::vector<std::string>;

constexpr const char* kRepo = "https://prometheus-community.github.io/helm-charts";
constexpr const char* kChart = "prometheus-community/kube-prometheus-stack";

constexpr const char* kValuesTemplate = R"(prometheus:
  prometheusSpec:
    replicas: {{ replicas }}
    image:
      tag: "{{ tag }}"
)";

// What the release's user values are when slipway sends kValuesTemplate with the plan's default vars.
const json kWantedValues = json::parse(R"({"grafana": {"adminUser": "admin", "enabled": true},
    "prometheus": {"prometheusSpec": {"image": {"tag": "v1"}, "replicas": 2}}})");

std::string Digest(const json& values) { return pipeline::Sha256Hex(values.dump()); }

class HelmReleaseWithRecordingFakeHelmTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    std::filesystem::create_directories(Path("fakes"));
    fakes_ = std::make_unique<HelmFakeTools>(Path("fakes"));
    for (const auto& kv : fakes_->Env()) env_[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
    Write("values/prometheus.yaml", kValuesTemplate);
  }

  // The plan: the release, a step echoing its outputs, and a gate that fails when vars.fail != no.
  void WritePlan(const std::string& kube_block = "") {
    Write("p.yaml", std::string(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: observability}
vars: {version: 58.1.0, replicas: "2", tag: v1, fail: "no"}
)") + kube_block + R"(steps:
  - id: prom
    uses: helm.release
    with:
      name: prometheus
      chart: prometheus-community/kube-prometheus-stack
      repo: https://prometheus-community.github.io/helm-charts
      version: "{{ vars.version }}"
      namespace: monitoring
      values: [values/prometheus.yaml]
      set: {grafana.enabled: true, grafana.adminUser: admin}
      timeout: 2m
  - id: show
    needs: [prom]
    run: [echo, "revision={{ steps.prom.outputs.revision }} status={{ steps.prom.outputs.status }} chart_version={{ steps.prom.outputs.chart_version }} digest={{ steps.prom.outputs.values_digest }}"]
  - id: gate
    needs: [show]
    run: [test, "{{ vars.fail }}", "=", "no"]
)");
  }

  std::string ValuesPath() const { return (dir_ / ".slipway" / "helm" / "prom" / "values-1.yaml").string(); }

  // helm argv with the plan's kube context appended, as slipway passes it.
  Argv WithContext(Argv argv) const {
    if (!context_.empty()) argv.insert(argv.end(), {"--kube-context", context_});
    return argv;
  }
  Argv UpgradeArgv(const std::string& version) const {
    return WithContext({"upgrade", "--install", "prometheus", kChart, "--namespace", "monitoring", "--repo", kRepo,
                        "--version", version, "--create-namespace", "--wait", "--timeout", "2m0s", "-f", ValuesPath(),
                        "--set-string", "grafana.adminUser=admin", "--set", "grafana.enabled=true", "-o", "json"});
  }
  json Release(int revision, const std::string& chart_version, const json& values = kWantedValues,
               const std::string& status = "deployed") const {
    return {{"name", "prometheus"}, {"namespace", "monitoring"},  {"revision", revision},
            {"status", status},     {"chart", "kube-prometheus-stack"}, {"chart_version", chart_version},
            {"app_version", "v0.73.2"}, {"values", values}};
  }
  void Expect(const Argv& argv, const std::string& canned, json params = json::object()) {
    json entry{{"argv", WithContext(argv)}, {"canned", canned}, {"params", std::move(params)}};
    if (!kubeconfig_.empty()) entry["env"] = {{"KUBECONFIG", kubeconfig_}};
    fakes_->Expect("helm", entry);
  }
  void ExpectStatusNotFound() { Expect({"status", "prometheus", "-n", "monitoring", "-o", "json"}, "helm.release_not_found"); }
  void ExpectStatus(int revision, const std::string& chart_version) {
    Expect({"status", "prometheus", "-n", "monitoring", "-o", "json"}, "helm.status", Release(revision, chart_version));
  }
  void ExpectGetValues(const json& values) {
    Expect({"get", "values", "prometheus", "-n", "monitoring", "-o", "json"}, "helm.get_values", {{"values", values}});
  }
  void ExpectUpgrade(const std::string& version, int revision) {
    // `helm upgrade -o json` prints the release object, exactly as `helm status -o json` does.
    fakes_->Expect("helm", {{"argv", UpgradeArgv(version)}, {"canned", "helm.status"}, {"params", Release(revision, version)}});
  }
  // A fresh install from an empty cluster: probe, the apply's own look, then the upgrade.
  void ExpectFreshInstall() {
    ExpectStatusNotFound();
    ExpectStatusNotFound();
    ExpectUpgrade("58.1.0", 1);
  }
  CliResult Run(std::vector<std::string> args) { return Slipway(std::move(args), env_); }

  std::unique_ptr<HelmFakeTools> fakes_;
  std::map<std::string, std::string> env_;
  std::string context_, kubeconfig_;
};

TEST_F(HelmReleaseWithRecordingFakeHelmTest, FreshInstallSendsTheRenderedValuesFileAndPublishesOutputs) {
  WritePlan();
  ExpectStatusNotFound();  // the dry-run's probe
  auto plan = Run({"plan", "p.yaml", "--detailed-exitcode"});
  EXPECT_EQ(plan.exit_code, 2) << plan.all();
  EXPECT_NE(plan.out.find("probe ran: would install release prometheus (chart "
                          "prometheus-community/kube-prometheus-stack 58.1.0) in namespace monitoring\n"),
            std::string::npos)
      << plan.out;
  ExpectFreshInstall();
  auto r = Run({"apply", "p.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  auto calls = fakes_->Argvs("helm");
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[3], UpgradeArgv("58.1.0"));
  // The file helm got is the template rendered with the plan's vars, readable by its owner only.
  EXPECT_EQ(Read(".slipway/helm/prom/values-1.yaml"),
            "prometheus:\n  prometheusSpec:\n    replicas: 2\n    image:\n      tag: \"v1\"\n");
  struct stat st {};
  ASSERT_EQ(::stat(ValuesPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(r.out.find("[show] revision=1 status=deployed chart_version=58.1.0 digest=" + Digest(kWantedValues)),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("installed release prometheus (revision 1, chart kube-prometheus-stack 58.1.0, deployed)"),
            std::string::npos)
      << r.out;
}

TEST_F(HelmReleaseWithRecordingFakeHelmTest, SecondApplyWithSameInputsIsUnchangedAndDoesNotUpgrade) {
  WritePlan();
  ExpectFreshInstall();
  auto first = Run({"apply", "p.yaml"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  // The cluster now holds revision 1 with exactly the values slipway sent (keys in another order).
  ExpectStatus(1, "58.1.0");
  ExpectGetValues(json::parse(R"({"prometheus": {"prometheusSpec": {"replicas": 2, "image": {"tag": "v1"}}},
                                  "grafana": {"enabled": true, "adminUser": "admin"}})"));
  auto second = Run({"apply", "p.yaml"});
  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_NE(second.out.find("[prom] unchanged (release prometheus is deployed (revision 1, chart kube-prometheus-stack "
                            "58.1.0) with the same values)"),
            std::string::npos)
      << second.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  auto calls = fakes_->Argvs("helm");
  ASSERT_EQ(calls.size(), 5u) << "no upgrade on the second run";
  EXPECT_EQ(calls[4], (Argv{"get", "values", "prometheus", "-n", "monitoring", "-o", "json"}));
}

TEST_F(HelmReleaseWithRecordingFakeHelmTest, NewChartVersionUpgradesAndALaterFailureRollsBackToThePreviousRevision) {
  WritePlan();
  ExpectStatus(3, "58.0.0");  // probe: same values, older chart
  ExpectGetValues(kWantedValues);
  ExpectStatus(3, "58.0.0");  // apply records revision 3 as the one to go back to
  ExpectUpgrade("58.1.0", 4);
  Expect({"rollback", "prometheus", "3", "-n", "monitoring", "--wait", "--timeout", "2m0s"}, "helm.rollback");
  auto r = Run({"apply", "p.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.out.find("[show] revision=4 status=deployed chart_version=58.1.0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("upgraded release prometheus (revision 4, chart kube-prometheus-stack 58.1.0, deployed)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("[prom] rolled back"), std::string::npos) << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("helm").size(), 5u);
}

TEST_F(HelmReleaseWithRecordingFakeHelmTest, NewInstallFollowedByAFailingStepIsUninstalled) {
  // Every call carries the plan's kube context and kubeconfig.
  context_ = "prod-eu";
  kubeconfig_ = Path("kubeconfig").string();
  Write("kubeconfig", "apiVersion: v1\nkind: Config\n");
  WritePlan("kube: {context: prod-eu, kubeconfig: " + kubeconfig_ + "}\n");
  ExpectStatusNotFound();
  ExpectStatusNotFound();
  fakes_->Expect("helm", {{"argv", UpgradeArgv("58.1.0")}, {"env", {{"KUBECONFIG", kubeconfig_}}},
                          {"canned", "helm.status"}, {"params", Release(1, "58.1.0")}});
  Expect({"uninstall", "prometheus", "-n", "monitoring", "--wait"}, "helm.uninstall", {{"name", "prometheus"}});
  auto r = Run({"apply", "p.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.out.find("[prom] rolled back"), std::string::npos) << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("helm").size(), 4u);
}

TEST_F(HelmReleaseWithRecordingFakeHelmTest, UninstallOfAReleaseAlreadyGoneCountsAsRolledBack) {
  WritePlan();
  ExpectFreshInstall();
  Expect({"uninstall", "prometheus", "-n", "monitoring", "--wait"}, "helm.uninstall_not_found",
         {{"name", "prometheus"}});
  auto r = Run({"apply", "p.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 1) << r.all();  // 3 would mean the rollback failed
  EXPECT_NE(r.out.find("[prom] rolled back"), std::string::npos) << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
}

TEST_F(HelmReleaseWithRecordingFakeHelmTest, FailingUpgradeFailsTheStepWithHelmsErrorAndRollsNothingBack) {
  WritePlan();
  json old_values = kWantedValues;
  old_values["prometheus"]["prometheusSpec"]["replicas"] = 1;
  ExpectStatus(2, "58.1.0");
  ExpectGetValues(old_values);
  ExpectStatus(2, "58.1.0");
  fakes_->Expect("helm", {{"argv", UpgradeArgv("58.1.0")},
                          {"canned", "helm.upgrade_failed"},
                          {"params", {{"reason", "timed out waiting for the condition"}}}});
  auto r = Run({"apply", "p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.out.find("Error: UPGRADE FAILED: timed out waiting for the condition"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("[prom] rolled back"), std::string::npos) << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  auto calls = fakes_->Argvs("helm");
  ASSERT_EQ(calls.size(), 4u) << "no helm rollback/uninstall after the failed upgrade";
  EXPECT_EQ(calls.back(), UpgradeArgv("58.1.0"));
}

TEST_F(HelmReleaseWithRecordingFakeHelmTest, DryRunPrintsTheCommandAndRenderedValuesWithoutUpgrading) {
  WritePlan();
  json live_values = kWantedValues;
  live_values["prometheus"]["prometheusSpec"]["replicas"] = 1;
  ExpectStatus(3, "58.0.0");
  ExpectGetValues(live_values);
  auto r = Run({"plan", "p.yaml", "--set", "replicas=3"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  json wanted = kWantedValues;
  wanted["prometheus"]["prometheusSpec"]["replicas"] = 3;
  EXPECT_NE(r.out.find("probe ran: would upgrade release prometheus (revision 3, chart kube-prometheus-stack 58.0.0): "
                       "chart version 58.0.0 → 58.1.0; values digest " +
                       Digest(live_values).substr(0, 12) + " → " + Digest(wanted).substr(0, 12)),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("      helm upgrade --install prometheus prometheus-community/kube-prometheus-stack --namespace "
                       "monitoring --repo https://prometheus-community.github.io/helm-charts --version 58.1.0 "
                       "--create-namespace --wait --timeout 2m0s -f " +
                       ValuesPath() + " --set-string grafana.adminUser=admin --set grafana.enabled=true -o json\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("      # " + ValuesPath() + " (rendered from " + Path("values/prometheus.yaml").string() +
                       "):\n      prometheus:\n        prometheusSpec:\n          replicas: 3\n          image:\n"
                       "            tag: \"v1\"\n"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(std::filesystem::exists(ValuesPath())) << "a dry-run writes nothing";
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("helm").size(), 2u);
}

TEST_F(HelmReleaseWithRecordingFakeHelmTest, SetEntriesGoToHelmTypedAndAreComparedAsHelmStoresThem) {
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: web}
steps:
  - id: web
    uses: helm.release
    with:
      name: web
      chart: ./charts/web
      namespace: shop
      create_namespace: false
      atomic: true
      timeout: 90s
      set:
        image.tag: "1.2,3"
        replicas: 3
        ratio: 0.5
        enabled: false
        labels.app\.kubernetes\.io/name: web
        hosts: [a, b]
        tolerations[0].key: dedicated
)");
  Expect({"status", "web", "-n", "shop", "-o", "json"}, "helm.status",
         {{"name", "web"}, {"namespace", "shop"}, {"revision", 7}});
  // What helm records for those flags: --set keeps 0.5 as the string "0.5" (only integers are typed).
  Expect({"get", "values", "web", "-n", "shop", "-o", "json"}, "helm.get_values",
         {{"values", json::parse(R"({"enabled": false, "hosts": ["a", "b"], "image": {"tag": "1.2,3"},
             "labels": {"app.kubernetes.io/name": "web"}, "ratio": "0.5", "replicas": 3,
             "tolerations": [{"key": "dedicated"}]})")}});
  auto r = Run({"plan", "p.yaml", "--detailed-exitcode"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("  = web (helm.release): unchanged\n      probe ran: release web is deployed (revision 7, chart "
                       "web 1.2.3) with the same values\n"),
            std::string::npos)
      << r.out;
  Argv upgrade{"helm", "upgrade", "--install", "web", "./charts/web", "--namespace", "shop", "--wait", "--timeout",
               "1m30s", "--atomic", "--set", "enabled=false", "--set-json", R"(hosts=["a","b"])", "--set-string",
               "image.tag=1.2\\,3", "--set-string", "labels.app\\.kubernetes\\.io/name=web", "--set", "ratio=0.5",
               "--set", "replicas=3", "--set-string", "tolerations[0].key=dedicated", "-o", "json"};
  EXPECT_NE(r.out.find("      " + pipeline::QuoteArgv(upgrade) + "\n"), std::string::npos) << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
}

TEST_F(HelmReleaseWithRecordingFakeHelmTest, DryRunWithTheClusterUnreachableSaysNotChecked) {
  WritePlan();
  fakes_->Expect("helm", {{"argv", {"status", "prometheus", "-n", "monitoring", "-o", "json"}},
                          {"stderr", "Error: Kubernetes cluster unreachable: Get \"https://127.0.0.1:6443/version\": "
                                     "dial tcp 127.0.0.1:6443: connect: connection refused\n"},
                          {"exit", 1}});
  auto r = Run({"plan", "p.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("  + prom (helm.release): would run\n      not checked: cluster unreachable (helm status prometheus -n ...: "
                       "exit 1: "
                       "Error: Kubernetes cluster unreachable: Get \"https://127.0.0.1:6443/version\": dial tcp "
                       "127.0.0.1:6443: connect: connection refused)\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
}

TEST_F(HelmReleaseWithRecordingFakeHelmTest, HelmMissingFromPathIsAClearError) {
  WritePlan();
  std::map<std::string, std::string> env{{"PATH", "/usr/bin:/bin"}};
  ASSERT_FALSE(std::filesystem::exists("/usr/bin/helm") || std::filesystem::exists("/bin/helm"));
  auto r = Slipway({"apply", "p.yaml"}, env);
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.all().find("helm is not installed or not on PATH (helm.release runs the helm 3 CLI): helm: command not "
                         "found on PATH"),
            std::string::npos)
      << r.all();
  auto plan = Slipway({"plan", "p.yaml"}, env);
  EXPECT_EQ(plan.exit_code, 0) << plan.all();
  EXPECT_NE(plan.out.find("not checked: helm is not installed or not on PATH"), std::string::npos) << plan.out;
}

TEST_F(HelmReleaseWithRecordingFakeHelmTest, ValidateNamesUnknownAndMissingKeysAndABadTimeout) {
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: bad}
steps:
  - id: prom
    uses: helm.release
    with:
      name: prometheus
      chart: prometheus-community/kube-prometheus-stack
      versoin: 58.1.0
      timeout: soon
)");
  auto r = Run({"validate", "p.yaml"});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_NE(r.all().find("p.yaml:10:16: error: unknown key 'versoin' in 'with' of helm.release"), std::string::npos)
      << r.all();
  EXPECT_NE(r.all().find("did you mean 'version'?"), std::string::npos) << r.all();
  EXPECT_NE(r.all().find("helm.release needs 'with.namespace'"), std::string::npos) << r.all();
  EXPECT_NE(r.all().find("p.yaml:11:16: error: 'with.timeout': "), std::string::npos) << r.all();
  EXPECT_EQ(fakes_->Calls().size(), 0u);
}

}  // namespace
}  // namespace slipway::test
