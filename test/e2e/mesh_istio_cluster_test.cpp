// mesh.istio through the built binary on the REAL test cluster (real kubectl, the Istio CRDs of
// istio.io/api, kwok making pods Ready) with a recording FAKE of istioctl (no approved module builds
// it). The fake's answers follow istioctl 1.32 as read from the Istio sources (pkg/version/cobra.go for
// `version -o json`, operator/pkg/util/progress for `install`); its `install` creates what a real one
// would make the readiness checks look at: istiod and the gateways in istio-system, labelled like the
// Istio charts label them (operator.istio.io/component, app, istio, istio.io/rev).
#include <nlohmann/json.hpp>

#include "test/support/cluster/cluster_fakes.h"

namespace slipway::test {
namespace {

using nlohmann::json;
using Argv = std::vector<std::string>;

constexpr const char* kIstioPlan = R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: mesh}
vars: {fail: "no"}
steps:
  - id: mesh
    uses: mesh.istio
    with:
      version: "1.32"
      profile: default
      namespace: NS
      mtls: STRICT
      authorization: [templates/mesh/authorization-policy.yaml]
      values: {istiod_max_replicas: 4, ingress_nlb: true, authz_allowed_namespaces: [monitoring]}
      timeout: 60s
  - id: after
    needs: [mesh]
    run: [sh, -c, 'printf "%s\n" "$1" "$2" "$3" > outputs.txt; test "$4" = no', sh,
          "{{ steps.mesh.outputs.version }}", "{{ steps.mesh.outputs.installed }}", "{{ steps.mesh.outputs.mtls }}",
          "{{ vars.fail }}"]
)";

class MeshIstioOnRealClusterWithFakeIstioctlTest : public ClusterTestWithFakes {
 protected:
  void SetUp() override {
    ClusterTestWithFakes::SetUp();
    if (HasFatalFailure()) return;
    ns_ = Namespace("shop");
    Kubectl({"create", "namespace", ns_});
    std::string plan = kIstioPlan;
    plan.replace(plan.find("namespace: NS"), 13, "namespace: " + ns_);
    Write("p.yaml", plan);
    Write("control-plane.yaml", IstioControlPlane(true));
    RemoveIstioControlPlane();  // whatever an earlier test left
  }
  void TearDown() override {
    if (fakes_) RemoveIstioControlPlane();
    ClusterTestWithFakes::TearDown();
  }
  CliResult Apply(std::vector<std::string> args) {
    args.insert(args.begin(), "apply");
    return Run(std::move(args), env_);
  }
  bool Contains(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }
  std::string Overlay() { return Path(".slipway/mesh-istio/mesh/istio-operator.yaml").string(); }
  Argv Install() { return {"install", "-y", "-f", Overlay(), "--set", "profile=default"}; }
  void ExpectVersion(bool mesh) {
    fakes_->ExpectCanned("istioctl", {"version", "-o", "json"}, "istioctl.version_json", {{"mesh", mesh}});
  }
  // istioctl install, with its effect on the cluster.
  void ExpectInstall() {
    fakes_->Expect("istioctl", {{"argv", Install()},
                                {"canned", "istioctl.install"},
                                {"params", {{"egress", true}}},
                                {"then", {{KubectlBin(), "apply", "-f", Path("control-plane.yaml").string()}}}});
  }
  // check, then apply: each looks at the mesh once; after the install the rollout and the version again.
  void ExpectFreshInstall() {
    ExpectVersion(false);
    ExpectVersion(false);
    ExpectInstall();
    ExpectVersion(true);
  }
  void ExpectPurge() {
    fakes_->Expect("istioctl", {{"argv", {"uninstall", "--purge", "-y"}},
                                {"canned", "istioctl.uninstall_purge"},
                                {"then", {{KubectlBin(), "delete", "deployments", "-n", "istio-system", "-l",
                                           "operator.istio.io/component", "--ignore-not-found"}}}});
  }
  json PeerAuthentication() { return cluster().Get("PeerAuthentication", ns_, "default"); }
  // Fully qualified: linkerd's policy.linkerd.io has an AuthorizationPolicy kind too.
  json AuthorizationPolicy() {
    return cluster().Get("authorizationpolicies.security.istio.io", ns_, "allow-in-namespace");
  }
  bool Absent(const json& o) { return o.is_null() || o.contains("error"); }

  std::string ns_;
};

TEST_F(MeshIstioOnRealClusterWithFakeIstioctlTest, FreshInstallWaitsForTheRolloutsThenRerunIsUnchangedWithoutInstalling) {
  ExpectFreshInstall();
  auto r = Apply({"p.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  // Readiness is the real rollout of what the install created (kwok made the pods Ready).
  EXPECT_TRUE(Contains(r.out, "deployment \"istiod\" successfully rolled out")) << r.out;
  EXPECT_TRUE(Contains(r.out, "deployment \"istio-ingressgateway\" successfully rolled out")) << r.out;
  json pa = PeerAuthentication();
  ASSERT_TRUE(pa.is_object() && !Absent(pa)) << pa.dump();
  EXPECT_EQ(pa["spec"]["mtls"]["mode"], "STRICT");
  EXPECT_EQ(pa["metadata"]["labels"]["app.kubernetes.io/managed-by"], "slipway");
  json authz = AuthorizationPolicy();
  EXPECT_EQ(authz["spec"]["rules"][0]["from"][0]["source"]["namespaces"], json::array({ns_, "monitoring"})) << authz.dump();
  EXPECT_EQ(Lines("outputs.txt"), (std::vector<std::string>{"1.32.0", "true", "STRICT"}));
  std::string overlay = Read(".slipway/mesh-istio/mesh/istio-operator.yaml");
  EXPECT_TRUE(Contains(overlay, "      autoscaleMin: 2\n      autoscaleMax: 4\n")) << overlay;
  EXPECT_TRUE(Contains(overlay, "      - name: istio-egressgateway\n        enabled: true\n")) << overlay;
  // Tracing through an extension provider (enableTracing/sampling send spans nowhere since Istio 1.22).
  EXPECT_TRUE(Contains(overlay, "    extensionProviders:\n      - name: otel-tracing\n        opentelemetry:\n"
                                "          service: otel-collector-opentelemetry-collector.observability.svc.cluster.local\n"
                                "          port: 4317\n")) << overlay;
  EXPECT_FALSE(Contains(overlay, "enableTracing: true")) << overlay;

  // Second run: the probe finds the mesh at 1.32.0 and the policies as rendered; istioctl only answers `version`.
  ExpectVersion(true);
  auto again = Apply({"p.yaml"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_TRUE(Contains(again.out, "[mesh] unchanged (Istio 1.32.0 installed; PeerAuthentication default -n " + ns_ +
                                      " mtls STRICT; 1 AuthorizationPolicy present)"))
      << again.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("istioctl").size(), 5u);  // 4 of the install run + 1 probe; no second install

  // Someone relaxes the policy: the probe sees it and the step puts STRICT back without reinstalling.
  Kubectl({"patch", "peerauthentication", "default", "-n", ns_, "--type", "merge", "-p",
           R"({"spec":{"mtls":{"mode":"PERMISSIVE"}}})"});
  ExpectVersion(true);
  ExpectVersion(true);
  auto fixed = Apply({"p.yaml"});
  ASSERT_EQ(fixed.exit_code, 0) << fixed.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(PeerAuthentication()["spec"]["mtls"]["mode"], "STRICT");
  EXPECT_EQ(Lines("outputs.txt"), (std::vector<std::string>{"1.32.0", "false", "STRICT"}));
}

TEST_F(MeshIstioOnRealClusterWithFakeIstioctlTest, InstallWhoseIstiodNeverBecomesReadyFailsTheRolloutAndIsPurged) {
  // istioctl says it installed, but istiod cannot be scheduled (more CPU than the node has): the
  // rollout check, not istioctl's word, decides.
  std::string cp = IstioControlPlane(true);
  cp.replace(cp.find("cpu: 10m"), 8, "cpu: \"1000\"");
  Write("control-plane.yaml", cp);
  std::string plan = Read("p.yaml");
  plan.replace(plan.find("timeout: 60s"), 12, "timeout: 5s");
  Write("p.yaml", plan);
  ExpectVersion(false);
  ExpectVersion(false);
  ExpectInstall();
  ExpectPurge();
  auto r = Apply({"p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(r.all(), "Waiting for deployment \"istiod\" rollout to finish: 0 of 1 updated replicas are available"))
      << r.all();
  EXPECT_TRUE(Contains(r.all(), "failed after ")) << r.all();
  EXPECT_TRUE(Contains(r.all(), "kubectl rollout status deployment ...: exit 1: error: timed out waiting for the condition"))
      << r.all();
  EXPECT_TRUE(Contains(r.all(), "(removed the control plane and the policies this attempt installed)")) << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_TRUE(Absent(PeerAuthentication())) << "no policy is applied when the mesh is not ready";
  EXPECT_TRUE(Absent(cluster().Get("Deployment", "istio-system", "istiod")));
}

TEST_F(MeshIstioOnRealClusterWithFakeIstioctlTest, FailingIstioctlInstallExitsOneWithItsErrorAndPurgesThePartialMesh) {
  ExpectVersion(false);
  ExpectVersion(false);
  fakes_->ExpectCanned("istioctl", Install(), "istioctl.install_failed");
  ExpectPurge();
  auto r = Apply({"p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(r.all(), "istioctl install -y -f ...: exit 1: Error: failed to install manifests: errors "
                                "occurred during operation: failed to wait for resource: resources not ready after "
                                "5m0s: context deadline exceeded"))
      << r.all();
  EXPECT_TRUE(Contains(r.all(), "(removed the control plane and the policies this attempt installed)")) << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_TRUE(Absent(PeerAuthentication())) << "no policy is applied when the install fails";
}

TEST_F(MeshIstioOnRealClusterWithFakeIstioctlTest, LaterFailureUninstallsWithPurgeAndDeletesThePolicies) {
  ExpectFreshInstall();
  ExpectPurge();
  auto r = Apply({"p.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(r.out, "[mesh] rolled back")) << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("istioctl").back(), (Argv{"uninstall", "--purge", "-y"}));
  EXPECT_TRUE(Absent(PeerAuthentication()));
  EXPECT_TRUE(Absent(AuthorizationPolicy()));
  EXPECT_TRUE(Absent(cluster().Get("Deployment", "istio-system", "istiod")));
}

TEST_F(MeshIstioOnRealClusterWithFakeIstioctlTest, ExistingMeshIsNotUninstalledOnRollbackAndItsPolicyIsRestored) {
  Kubectl({"apply", "-f", "-"}, "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, "
                                "namespace: " + ns_ + "}\nspec: {mtls: {mode: PERMISSIVE}}\n");
  // The mesh is there at the wanted version: no install, no rollout wait, and above all no uninstall.
  ExpectVersion(true);
  ExpectVersion(true);
  auto r = Apply({"p.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_EQ(Lines("outputs.txt"), (std::vector<std::string>{"1.32.0", "false", "STRICT"}));
  EXPECT_TRUE(Contains(r.out, "[mesh] rolled back")) << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("istioctl"), (std::vector<Argv>{{"version", "-o", "json"}, {"version", "-o", "json"}}));
  json pa = PeerAuthentication();
  ASSERT_FALSE(Absent(pa)) << "the policy that was there before must survive the rollback";
  EXPECT_EQ(pa["spec"]["mtls"]["mode"], "PERMISSIVE");
  EXPECT_TRUE(Absent(AuthorizationPolicy()));
}

TEST_F(MeshIstioOnRealClusterWithFakeIstioctlTest, IstiodThatDoesNotAnswerIsInstalledOverButNeverPurged) {
  // Someone's istiod, stuck Pending (more CPU than the node has): istioctl sees no control plane.
  Kubectl({"apply", "-f", "-"}, R"(apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, namespace: istio-system, labels: {app: istiod}}
spec:
  replicas: 1
  selector: {matchLabels: {app: istiod}}
  template:
    metadata: {labels: {app: istiod}}
    spec: {containers: [{name: discovery, image: "istio/pilot:1.31.2", resources: {requests: {cpu: "1000"}}}]}
)");
  ExpectVersion(false);
  ExpectVersion(false);
  fakes_->ExpectCanned("istioctl", Install(), "istioctl.install_failed");  // and no uninstall --purge after it
  auto r = Apply({"p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(r.out, "istiod Deployments exist in istio-system although no control plane answers")) << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("istioctl").size(), 3u);
  EXPECT_FALSE(Absent(cluster().Get("Deployment", "istio-system", "istiod")));
}

TEST_F(MeshIstioOnRealClusterWithFakeIstioctlTest, DryRunShowsCommandsAndRenderedManifestsWithoutRunningThem) {
  ExpectVersion(false);
  auto r = Run({"plan", "p.yaml"}, env_);
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("istioctl"), (std::vector<Argv>{{"version", "-o", "json"}}));  // the read-only probe only
  EXPECT_TRUE(Contains(r.out, "probe ran: would install Istio 1.32 (profile default); would create PeerAuthentication/"
                              "default -n " + ns_ + "; would create AuthorizationPolicy/allow-in-namespace -n " + ns_))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "istioctl install -y -f " + Overlay() + " --set profile=default")) << r.out;
  EXPECT_TRUE(Contains(r.out, "kubectl rollout status deployment -n istio-system -l operator.istio.io/component "
                              "--timeout 60s   (after installing: istiod and the gateways ready)"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "istioctl version -o json   (after installing: the control plane answers at 1.32)")) << r.out;
  EXPECT_FALSE(Contains(r.out, "verify-install")) << "removed in Istio 1.24: " << r.out;
  EXPECT_TRUE(Contains(r.out, "kubectl apply --server-side --field-manager=slipway --force-conflicts -f - <<EOF"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "    mode: STRICT")) << r.out;
  EXPECT_FALSE(std::filesystem::exists(Overlay())) << "a dry-run writes nothing";
  EXPECT_TRUE(Absent(PeerAuthentication()));
}

}  // namespace
}  // namespace slipway::test
