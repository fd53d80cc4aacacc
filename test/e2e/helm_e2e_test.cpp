// helm.release where no cluster is needed: a missing helm CLI and validation. Everything helm does is
// tested with the real helm 4 and 3 on the real test cluster (helm_cluster_test.cpp).
#include "support/e2e_harness.h"

namespace slipway::test {
namespace {

class HelmReleaseWithoutClusterTest : public TempDirTest {
 protected:
  void WritePlan() {
    Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: observability}
steps:
  - id: prom
    uses: helm.release
    with:
      name: prometheus
      chart: kube-prometheus-stack
      repo: https://prometheus-community.github.io/helm-charts
      version: 58.1.0
      namespace: monitoring
)");
  }
};

TEST_F(HelmReleaseWithoutClusterTest, HelmMissingFromPathIsAClearError) {
  WritePlan();
  std::map<std::string, std::string> env{{"PATH", "/usr/bin:/bin"}};
  ASSERT_FALSE(std::filesystem::exists("/usr/bin/helm") || std::filesystem::exists("/bin/helm"));
  auto r = Slipway({"apply", "p.yaml"}, env);
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.all().find("helm is not installed or not on PATH (helm.release runs the helm CLI, 3 or 4): helm: command not "
                         "found on PATH"),
            std::string::npos)
      << r.all();
  auto plan = Slipway({"plan", "p.yaml"}, env);
  EXPECT_EQ(plan.exit_code, 0) << plan.all();
  EXPECT_NE(plan.out.find("not checked: helm is not installed or not on PATH"), std::string::npos) << plan.out;
}

TEST_F(HelmReleaseWithoutClusterTest, ValidateNamesUnknownAndMissingKeysAndABadTimeout) {
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
  auto r = Slipway({"validate", "p.yaml"});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_NE(r.all().find("p.yaml:10:16: error: unknown key 'versoin' in 'with' of helm.release"), std::string::npos)
      << r.all();
  EXPECT_NE(r.all().find("did you mean 'version'?"), std::string::npos) << r.all();
  EXPECT_NE(r.all().find("helm.release needs 'with.namespace'"), std::string::npos) << r.all();
  EXPECT_NE(r.all().find("p.yaml:11:16: error: 'with.timeout': "), std::string::npos) << r.all();
}

// helm looks the chart argument up in --repo's index as written: "alias/chart" is never found there
// (helm 3.17 and 4 alike), so validate refuses the combination and says what to write (issue 12.1).
TEST_F(HelmReleaseWithoutClusterTest, ARepositoryAliasInTheChartBesideRepoIsRefusedWithTheBareName) {
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: bad}
steps:
  - id: prom
    uses: helm.release
    with: {name: prometheus, chart: prometheus-community/kube-prometheus-stack, namespace: monitoring,
           repo: "https://prometheus-community.github.io/helm-charts"}
)");
  auto r = Slipway({"validate", "p.yaml"});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_NE(r.all().find("p.yaml:7:37: error: 'with.chart: prometheus-community/kube-prometheus-stack' names a "
                         "repository alias, but 'with.repo' already gives the repository"),
            std::string::npos)
      << r.all();
  EXPECT_NE(r.all().find("use the bare chart name: chart: kube-prometheus-stack"), std::string::npos) << r.all();
}

TEST_F(HelmReleaseWithoutClusterTest, PlainHttpIsRefusedForAChartThatIsNotOci) {
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: bad}
steps:
  - id: web
    uses: helm.release
    with: {name: web, chart: webapp, repo: "http://charts.internal", namespace: web,
           plain_http: true}
)");
  auto r = Slipway({"validate", "p.yaml"});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_NE(r.all().find("p.yaml:8:24: error: 'with.plain_http' only applies to an oci:// chart"), std::string::npos)
      << r.all();
}

}  // namespace
}  // namespace slipway::test
