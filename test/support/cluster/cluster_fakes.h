#pragma once
// A test on the real cluster that also needs the tools no approved module builds: the recording fakes of
// istioctl, linkerd and velero (test/support/fakes/) come first on PATH, then the cluster's real kubectl
// and helm. Tests script the fakes through fakes_ and run slipway with env_.
//
//   class MeshTest : public slipway::test::ClusterTestWithFakes {};
//   TEST_F(MeshTest, Installs) {
//     fakes_->ExpectCanned("istioctl", {"version", "-o", "json"}, "istioctl.version_json", {{"mesh", false}});
//     auto r = Run({"apply", "p.yaml"}, env_);
//     EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
//   }

#include <map>
#include <memory>
#include <string>

#include "test/support/cluster/test_cluster.h"
#include "test/support/fakes/fake_tools.h"

namespace slipway::test {

class ClusterTestWithFakes : public ClusterTest {
 protected:
  void SetUp() override;

  /// What `istioctl install` leaves in istio-system for slipway's readiness checks: the Deployments of
  /// istiod and the gateways, labelled as Istio's charts label them. A fake's `then` applies it.
  static std::string IstioControlPlane(bool egress);
  /// Deletes those Deployments (istio-system is cluster-wide: gone before the next test).
  void RemoveIstioControlPlane();
  /// Deletes the linkerd namespace and the CRDs of the fake `linkerd install --crds`, waiting.
  void RemoveLinkerd();
  /// The cluster's real kubectl, for the fakes' `then` commands.
  std::string KubectlBin() const { return cluster().Bin() + "/kubectl"; }

  std::unique_ptr<FakeTools> fakes_;            ///< the script of this test, in Path("fakes")
  std::map<std::string, std::string> env_;      ///< Env() with the fakes' variables and PATH (fakes first)
};

}  // namespace slipway::test
