#include "test/support/cluster/cluster_fakes.h"

#include <filesystem>

namespace slipway::test {

void ClusterTestWithFakes::SetUp() {
  ClusterTest::SetUp();
  if (HasFatalFailure()) return;
  std::filesystem::create_directories(Path("fakes"));
  fakes_ = std::make_unique<FakeTools>(Path("fakes"));
  env_ = Env();
  for (const std::string& kv : fakes_->Env()) env_[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
  env_["PATH"] = FakeTools::BinDir().string() + ":" + Env()["PATH"];  // the fakes, then the cluster's tools
}

// Labelled as manifests/charts/istio-control/istio-discovery and gateways/istio-{ingress,egress} label them.
std::string ClusterTestWithFakes::IstioControlPlane(bool egress) {
  auto deployment = [](const std::string& name, const std::string& component, const std::string& app,
                       const std::string& istio) {
    return "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name +
           "\n  namespace: istio-system\n  labels:\n    app: " + app + "\n    istio: " + istio +
           "\n    istio.io/rev: default\n    operator.istio.io/component: " + component +
           "\n    install.operator.istio.io/owning-resource: unknown\nspec:\n  replicas: 1\n  selector:\n"
           "    matchLabels: {app: " + app + ", istio: " + istio + "}\n  template:\n    metadata:\n"
           "      labels: {app: " + app + ", istio: " + istio + "}\n    spec:\n      containers:\n"
           "        - {name: main, image: docker.io/istio/pilot:1.32.0, resources: {requests: {cpu: 10m}}}\n";
  };
  std::string out = "apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n";
  out += deployment("istiod", "Pilot", "istiod", "pilot");
  out += deployment("istio-ingressgateway", "IngressGateways", "istio-ingressgateway", "ingressgateway");
  if (egress) out += deployment("istio-egressgateway", "EgressGateways", "istio-egressgateway", "egressgateway");
  return out;
}

void ClusterTestWithFakes::RemoveIstioControlPlane() {
  Kubectl({"delete", "deployments", "-n", "istio-system", "-l", "app in (istiod,istio-ingressgateway,istio-egressgateway)",
           "--ignore-not-found", "--wait=true"});
}

void ClusterTestWithFakes::RemoveLinkerd() {
  Kubectl({"delete", "namespace", "linkerd", "--ignore-not-found", "--wait=true", "--timeout=120s"});
  Kubectl({"delete", "crd", "serviceprofiles.linkerd.io", "servers.policy.linkerd.io",
           "authorizationpolicies.policy.linkerd.io", "meshtlsauthentications.policy.linkerd.io", "--ignore-not-found"});
}

}  // namespace slipway::test
