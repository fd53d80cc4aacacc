#pragma once
// The real test cluster (test/cluster/up.sh: kube-apiserver, etcd, controller-manager, scheduler, kwok,
// the CRDs, a helm chart repository), as tests see it. ctest starts it once as the `cluster` fixture and
// hands its directory over in $SLIPWAY_TEST_CLUSTER; tests share it and keep apart by namespace.
//
//   class MyTest : public slipway::test::ClusterTest {};
//   TEST_F(MyTest, CreatesTheNamespace) {
//     std::string ns = Namespace("shop");          // unique; deleted when the test ends
//     auto r = Run({"apply", "p.yaml", "--set", "ns=" + ns});
//     EXPECT_TRUE(cluster().Get("Namespace", "", ns).is_object());
//   }

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/error.h"
#include "pipeline/subprocess.h"
#include "support/e2e_harness.h"

namespace slipway::test {

/// A running test cluster, read from the cluster.env that up.sh wrote.
class TestCluster {
 public:
  /// The cluster named by $SLIPWAY_TEST_CLUSTER; the error says how to get one when it is not set or not up.
  static Expected<TestCluster> FromEnvironment();

  /// Admin kubeconfig (token of a system:masters user).
  const std::string& Kubeconfig() const { return kubeconfig_; }
  /// A kubeconfig whose user may only read (the `view` ClusterRole): for Forbidden answers.
  const std::string& ViewerKubeconfig() const { return viewer_kubeconfig_; }
  /// Directory of the real tools: kubectl, helm (4), helm3, kube-apiserver, ...
  const std::string& Bin() const { return bin_; }
  /// URL of the chart repository (charts of test/cluster/charts; webapp in 0.1.0 and 0.2.0).
  const std::string& ChartRepo() const { return chart_repo_; }
  /// oci://127.0.0.1:PORT/charts: the same webapp versions in an OCI registry (plain HTTP).
  const std::string& OciRepo() const { return oci_repo_; }
  /// Directory holding the CRD files the cluster was set up with (gateway-api, istio, monitoring.coreos.com).
  const std::string& CrdDir() const { return crd_dir_; }

  /// What a kubectl, helm or slipway process needs: KUBECONFIG, PATH with the built tools first, and
  /// helm's cache/config/data homes under `home` (so tests do not share helm's repository cache).
  std::map<std::string, std::string> Env(const std::filesystem::path& home) const;

  /// Runs the real kubectl against the cluster as admin.
  Expected<pipeline::ProcessResult> Kubectl(const std::vector<std::string>& args,
                                            std::optional<std::string> stdin_data = std::nullopt) const;
  /// The live object as JSON; null when it does not exist; an object {"error": ...} when kubectl failed
  /// (no assertion on a field will mistake it for the object).
  nlohmann::json Get(const std::string& kind, const std::string& ns, const std::string& name) const;

 private:
  std::string kubeconfig_, viewer_kubeconfig_, bin_, chart_repo_, oci_repo_, crd_dir_;
};

/// A test against the real cluster: a temp directory, namespaces of its own (deleted afterwards), and the
/// built slipway run with the cluster's environment. Fails (never skips) when there is no cluster.
class ClusterTest : public TempDirTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  const TestCluster& cluster() const { return *cluster_; }
  /// A namespace name unique to this test ("t<pid>-<n>-<base>"), deleted when the test ends. Not created.
  std::string Namespace(const std::string& base = "ns");
  /// Deletes this cluster-scoped object when the test ends (CRDs, ClusterRoles, Namespaces made by hand).
  void CleanUpLater(const std::string& kind, const std::string& name);
  /// The environment of every process the test starts (cluster().Env() plus `extra`).
  std::map<std::string, std::string> Env(const std::map<std::string, std::string>& extra = {}) const;
  /// The built slipway, with Env() and `extra`.
  CliResult Run(std::vector<std::string> args, const std::map<std::string, std::string>& extra = {},
                std::chrono::milliseconds timeout = std::chrono::minutes(5)) const;
  /// kubectl as admin; fails the test when it cannot run or exits non-zero.
  std::string Kubectl(const std::vector<std::string>& args, std::optional<std::string> stdin_data = std::nullopt) const;

 private:
  std::optional<TestCluster> cluster_;
  std::vector<std::pair<std::string, std::string>> cleanup_;
};

}  // namespace slipway::test
