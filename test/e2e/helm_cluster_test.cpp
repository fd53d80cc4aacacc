// helm.release through the built binary with the REAL helm, 4 and 3 (each test runs with both), on the
// real test cluster, with charts from the chart repository and the OCI registry up.sh serves on 127.0.0.1
// (test/cluster/charts).
#include <nlohmann/json.hpp>

#include "test/support/cluster/test_cluster.h"

namespace slipway::test {
namespace {

using nlohmann::json;

// The parameter is the helm binary the test puts first on PATH as `helm`.
class HelmReleaseOnRealClusterTest : public ClusterTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (HasFatalFailure()) return;
    std::filesystem::create_directories(Path("bin"));
    std::filesystem::create_symlink(cluster().Bin() + "/" + GetParam(), Path("bin/helm"));
    ns_ = Namespace("web");
  }
  // The cluster's environment with this test's helm first on PATH.
  std::map<std::string, std::string> HelmEnv() const {
    auto env = Env();
    env["PATH"] = Path("bin").string() + ":" + env["PATH"];
    return env;
  }
  CliResult Apply(std::vector<std::string> args) const {
    args.insert(args.begin(), "apply");
    return Slipway(std::move(args), HelmEnv(), std::chrono::minutes(5));
  }
  CliResult Plan(std::vector<std::string> args) const {
    args.insert(args.begin(), "plan");
    return Slipway(std::move(args), HelmEnv(), std::chrono::minutes(2));
  }
  // helm as the test's user sees it (status, history), with the same helm.
  json HelmJson(const std::vector<std::string>& args) const {
    pipeline::ProcessSpec spec;
    spec.argv = {Path("bin/helm").string()};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = HelmEnv();
    spec.timeout = std::chrono::seconds(60);
    auto r = pipeline::RunProcess(spec);
    if (!r || !r->Ok()) return {{"error", r ? r->err : r.error().message}};
    auto j = json::parse(r->out, nullptr, false);
    return j.is_discarded() ? json{{"error", r->out}} : j;
  }
  void WritePlan(const std::string& extra_with = "") {
    Write("values/web.yaml", "greeting: \"{{ greeting }}\"\nreplicaCount: {{ replicas }}\n");
    Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: web}
vars: {version: 0.1.0, greeting: hello, replicas: "2", cpu: 10m, fail: "no", repo: )" + cluster().ChartRepo() + R"(}
steps:
  - id: web
    uses: helm.release
    with:
      name: web
      chart: webapp
      repo: "{{ vars.repo }}"
      version: "{{ vars.version }}"
      namespace: )" + ns_ + R"(
      values: [values/web.yaml]
      set: {image.tag: "1.0.0", resources.requests.cpu: "{{ vars.cpu }}"}
      timeout: 60s
)" + extra_with + R"(
  - id: show
    needs: [web]
    run: [sh, -c, 'echo "$0 $1 $2" > outputs.txt', "{{ steps.web.outputs.revision }}", "{{ steps.web.outputs.status }}", "{{ steps.web.outputs.chart_version }}"]
  - id: gate
    needs: [show]
    run: [test, "{{ vars.fail }}", "=", "no"]
)");
  }
  std::string ns_;
};

INSTANTIATE_TEST_SUITE_P(Helm, HelmReleaseOnRealClusterTest, ::testing::Values("helm", "helm3"),
                         [](const auto& info) { return info.param == "helm" ? std::string("Helm4") : std::string("Helm3"); });

TEST_P(HelmReleaseOnRealClusterTest, InstallsFromTheChartRepositoryThenIsUnchangedOnARerun) {
  WritePlan();
  auto first = Apply({"p.yaml"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  EXPECT_EQ(Read("outputs.txt"), "1 deployed 0.1.0\n");
  EXPECT_EQ(cluster().Get("ConfigMap", ns_, "web-config")["data"]["greeting"], "hello");
  // helm --wait returned only when kwok had made both pods Ready.
  EXPECT_EQ(cluster().Get("Deployment", ns_, "web")["status"]["readyReplicas"], 2);
  auto again = Apply({"p.yaml", "--fresh"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_NE(again.out.find("[web] unchanged (release web is deployed (revision 1, chart webapp 0.1.0) with the same values)"),
            std::string::npos)
      << again.out;
  EXPECT_EQ(HelmJson({"status", "web", "-n", ns_, "-o", "json"})["version"], 1);
}

// The same chart from an OCI registry (docker-registry on 127.0.0.1, plain HTTP): install, unchanged on a
// re-run, upgrade by version; plain_http becomes helm's --plain-http.
TEST_P(HelmReleaseOnRealClusterTest, InstallsFromAnOciRegistryThenUpgradesByVersion) {
  ASSERT_EQ(cluster().OciRepo().rfind("oci://127.0.0.1:", 0), 0u) << cluster().OciRepo();
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: web}
vars: {version: 0.1.0}
steps:
  - id: web
    uses: helm.release
    with: {name: web, chart: ")" + cluster().OciRepo() + R"(/webapp", version: "{{ vars.version }}", plain_http: true,
           namespace: )" + ns_ + R"(, set: {resources.requests.cpu: 10m}, timeout: 60s}
)");
  auto first = Apply({"p.yaml"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  EXPECT_NE(first.out.find("/webapp --namespace " + ns_ + " --version 0.1.0 --plain-http"), std::string::npos) << first.out;
  EXPECT_EQ(HelmJson({"get", "metadata", "web", "-n", ns_, "-o", "json"})["version"], "0.1.0");
  auto again = Apply({"p.yaml", "--fresh"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_NE(again.out.find("[web] unchanged"), std::string::npos) << again.out;
  auto upgraded = Apply({"p.yaml", "--set", "version=0.2.0"});
  ASSERT_EQ(upgraded.exit_code, 0) << upgraded.all();
  json meta = HelmJson({"get", "metadata", "web", "-n", ns_, "-o", "json"});
  EXPECT_EQ(meta["version"], "0.2.0") << meta.dump();
  EXPECT_EQ(meta["revision"], 2) << meta.dump();
}

TEST_P(HelmReleaseOnRealClusterTest, NewChartVersionUpgradesAndALaterFailureRollsBackToThePreviousRevision) {
  WritePlan();
  ASSERT_EQ(Apply({"p.yaml"}).exit_code, 0);
  auto plan = Plan({"p.yaml", "--set", "version=0.2.0", "--set", "greeting=hi"});
  EXPECT_EQ(plan.exit_code, 0) << plan.all();
  EXPECT_NE(plan.out.find("probe ran: would upgrade release web (revision 1, chart webapp 0.1.0): chart version 0.1.0 → 0.2.0; "
                          "values digest "),
            std::string::npos)
      << plan.out;
  auto failed = Apply({"p.yaml", "--set", "version=0.2.0", "--set", "greeting=hi", "--set", "fail=yes"});
  EXPECT_EQ(failed.exit_code, 1) << failed.all();
  EXPECT_NE(failed.out.find("[web] rolled back"), std::string::npos) << failed.out;
  json status = HelmJson({"status", "web", "-n", ns_, "-o", "json"});
  EXPECT_EQ(status["version"], 3) << status.dump();  // 1 install, 2 upgrade, 3 the rollback to 1
  // `helm status -o json` carries no chart since helm 3.x's JSON printer dropped it; metadata does.
  EXPECT_EQ(HelmJson({"get", "metadata", "web", "-n", ns_, "-o", "json"})["version"], "0.1.0");
  EXPECT_EQ(cluster().Get("ConfigMap", ns_, "web-config")["data"]["greeting"], "hello");
  auto kept = Apply({"p.yaml", "--set", "version=0.2.0"});
  ASSERT_EQ(kept.exit_code, 0) << kept.all();
  EXPECT_EQ(Read("outputs.txt"), "4 deployed 0.2.0\n");
}

TEST_P(HelmReleaseOnRealClusterTest, NewInstallFollowedByAFailingStepIsUninstalled) {
  WritePlan();
  auto r = Apply({"p.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.out.find("[web] rolled back"), std::string::npos) << r.out;
  EXPECT_TRUE(cluster().Get("Deployment", ns_, "web").is_null());
  EXPECT_TRUE(HelmJson({"status", "web", "-n", ns_, "-o", "json"}).contains("error"));
}

TEST_P(HelmReleaseOnRealClusterTest, WaitThatTimesOutFailsTheStepAndAtomicLetsHelmUndoIt) {
  WritePlan("      atomic: true");
  // More CPU than the node has: the pods stay Pending and helm's wait runs into its timeout.
  auto plan = Plan({"p.yaml", "--set", "cpu=1000"});
  std::string flag = GetParam() == "helm" ? "--rollback-on-failure" : "--atomic";
  EXPECT_NE(plan.out.find("--wait --timeout 1m0s " + flag + " -f "), std::string::npos) << plan.out;
  std::string p = Read("p.yaml");
  p.replace(p.find("timeout: 60s"), 12, "timeout: 5s");
  Write("p.yaml", p);
  auto r = Apply({"p.yaml", "--set", "cpu=1000"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.out.find("[web] failed"), std::string::npos) << r.out;
  EXPECT_NE(r.all().find("context deadline exceeded"), std::string::npos) << r.all();
  // helm itself removed the failed first install.
  EXPECT_TRUE(HelmJson({"status", "web", "-n", ns_, "-o", "json"}).contains("error"));
}

TEST_P(HelmReleaseOnRealClusterTest, SetEntriesGoToHelmTypedAndAreComparedAsHelmStoresThem) {
  WritePlan(R"(      set:
        image.tag: "1.2,3"
        extra.replicas: 3
        extra.ratio: 0.5
        extra.enabled: false
        extra.labels.app\.kubernetes\.io/name: web
        extra.hosts: [a, b]
        extra.tolerations[0].key: dedicated
        resources.requests.cpu: 10m)");
  std::string p = Read("p.yaml");
  p.erase(p.find("      set: {image.tag: \"1.0.0\""), p.find("      timeout: 60s") - p.find("      set: {image.tag: \"1.0.0\""));
  Write("p.yaml", p);
  auto first = Apply({"p.yaml"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  json values = HelmJson({"get", "values", "web", "-n", ns_, "-o", "json"});
  EXPECT_EQ(values["extra"], json::parse(R"({"enabled": false, "hosts": ["a", "b"], "labels": {"app.kubernetes.io/name": "web"},
                                             "ratio": "0.5", "replicas": 3, "tolerations": [{"key": "dedicated"}]})"))
      << values.dump();
  EXPECT_EQ(values["image"]["tag"], "1.2,3") << values.dump();
  // What helm stored is what slipway would send: the re-run is unchanged, not an upgrade.
  auto again = Apply({"p.yaml", "--fresh"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_NE(again.out.find("[web] unchanged"), std::string::npos) << again.out;
}

TEST_P(HelmReleaseOnRealClusterTest, ValuesChangedOutsideSlipwayAreSeenAndPutBack) {
  WritePlan();
  ASSERT_EQ(Apply({"p.yaml"}).exit_code, 0);
  pipeline::ProcessSpec spec;
  spec.argv = {Path("bin/helm").string(), "upgrade", "web", "webapp", "--repo", cluster().ChartRepo(), "--version", "0.1.0",
               "-n", ns_, "--reuse-values", "--set", "greeting=by-hand"};
  spec.env = HelmEnv();
  auto hand = pipeline::RunProcess(spec);
  ASSERT_TRUE(hand && hand->Ok()) << (hand ? hand->err : hand.error().message);
  auto plan = Plan({"p.yaml", "--fresh"});
  EXPECT_NE(plan.out.find("probe ran: would upgrade release web (revision 2, chart webapp 0.1.0): values digest "),
            std::string::npos)
      << plan.out;
  auto fix = Apply({"p.yaml", "--fresh"});
  ASSERT_EQ(fix.exit_code, 0) << fix.all();
  EXPECT_EQ(cluster().Get("ConfigMap", ns_, "web-config")["data"]["greeting"], "hello");
}

TEST_P(HelmReleaseOnRealClusterTest, ValuesTheChartSchemaRejectsFailWithHelmsMessage) {
  WritePlan("      set: {image.tag: \"1.0.0\", replicaCount: many}");
  std::string p = Read("p.yaml");
  p.erase(p.find("      set: {image.tag: \"1.0.0\", resources"), p.find("      timeout: 60s") - p.find("      set: {image.tag: \"1.0.0\", resources"));
  Write("p.yaml", p);
  auto r = Apply({"p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.all().find("replicaCount"), std::string::npos) << r.all();
  EXPECT_NE(r.all().find("schema"), std::string::npos) << r.all();
}

TEST_P(HelmReleaseOnRealClusterTest, UninstallOfAReleaseAlreadyGoneCountsAsRolledBack) {
  WritePlan();
  std::string p = Read("p.yaml");
  // The gate removes the release by hand, then fails: the rollback finds nothing left to uninstall.
  p.replace(p.find("run: [test, \"{{ vars.fail }}\", \"=\", \"no\"]"), std::string::npos,
            "run: [sh, -c, 'helm uninstall web -n " + ns_ + " --wait && false']\n");
  Write("p.yaml", p);
  auto r = Apply({"p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();  // 3 would mean the rollback failed
  EXPECT_NE(r.out.find("[web] rolled back"), std::string::npos) << r.out;
  EXPECT_TRUE(HelmJson({"status", "web", "-n", ns_, "-o", "json"}).contains("error"));
}

TEST_P(HelmReleaseOnRealClusterTest, FailingUpgradeFailsTheStepWithHelmsErrorAndRollsNothingBack) {
  WritePlan();
  ASSERT_EQ(Apply({"p.yaml"}).exit_code, 0);
  Write("values/web.yaml", "greeting: \"{{ greeting }}\"\nreplicaCount: many\n");
  auto r = Apply({"p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.out.find("[web] failed"), std::string::npos) << r.out;
  EXPECT_NE(r.all().find("replicaCount"), std::string::npos) << r.all();
  EXPECT_EQ(r.out.find("[web] rolled back"), std::string::npos) << r.out;
  json status = HelmJson({"status", "web", "-n", ns_, "-o", "json"});
  EXPECT_EQ(status["version"], 1) << status.dump();
  EXPECT_EQ(status["info"]["status"], "deployed") << status.dump();
}

TEST_P(HelmReleaseOnRealClusterTest, DryRunPrintsTheCommandAndRenderedValuesWithoutUpgrading) {
  WritePlan();
  ASSERT_EQ(Apply({"p.yaml"}).exit_code, 0);
  auto r = Plan({"p.yaml", "--set", "greeting=hi"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("probe ran: would upgrade release web (revision 1, chart webapp 0.1.0): values digest "),
            std::string::npos)
      << r.out;
  size_t f = r.out.find(" -f ");
  ASSERT_NE(f, std::string::npos) << r.out;
  std::string values_path = r.out.substr(f + 4, r.out.find(' ', f + 4) - f - 4);
  EXPECT_EQ(values_path.rfind((dir_ / ".slipway" / "helm" / "web").string(), 0), 0u) << values_path;
  EXPECT_NE(r.out.find("      helm upgrade --install web webapp --namespace " + ns_ + " --repo " + cluster().ChartRepo() +
                       " --version 0.1.0 --create-namespace --wait --timeout 1m0s -f " + values_path + " "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("      # " + values_path + " (rendered from " + Path("values/web.yaml").string() +
                       "):\n      greeting: \"hi\"\n      replicaCount: 2\n"),
            std::string::npos)
      << r.out;
  // A dry-run writes nothing: the values file of the apply still holds what was installed.
  ASSERT_TRUE(std::filesystem::exists(values_path)) << values_path;
  EXPECT_EQ(Read(values_path.substr(dir_.string().size() + 1)).find("hi"), std::string::npos);
  EXPECT_EQ(HelmJson({"status", "web", "-n", ns_, "-o", "json"})["version"], 1);
  EXPECT_EQ(cluster().Get("ConfigMap", ns_, "web-config")["data"]["greeting"], "hello");
}

TEST_P(HelmReleaseOnRealClusterTest, DryRunWithTheClusterUnreachableSaysNotChecked) {
  WritePlan();
  Write("nowhere", "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:9\"}}]\n"
                   "contexts: [{name: c, context: {cluster: c}}]\ncurrent-context: c\n");
  auto env = HelmEnv();
  env["KUBECONFIG"] = Path("nowhere").string();
  auto r = Slipway({"plan", "p.yaml", "--output", "json"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  json doc = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.out;
  json probe = doc["steps"][0]["probe"];
  EXPECT_EQ(probe["not_checked"], "cluster-unreachable") << probe.dump();
  EXPECT_NE(probe["detail"].get<std::string>().find("not checked: cluster unreachable (helm get metadata web ...: exit 1: "
                                                    "Error: "),
            std::string::npos)
      << probe.dump();
}

}  // namespace
}  // namespace slipway::test
