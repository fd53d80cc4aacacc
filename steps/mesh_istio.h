#pragma once
#include "pipeline/step.h"

namespace slipway::steps {

/// `mesh.istio`: install the Istio control plane and enforce mTLS in the app namespace.
///   with: {version: 1.22.3, profile: default, overlay: templates/mesh/istio-operator.yaml,
///          values: {istiod_min_replicas: 2, istiod_max_replicas: 5, tracing_sampling: 10.0},
///          namespace: shop, mtls: STRICT | PERMISSIVE,
///          authorization: [templates/mesh/authorization-policy.yaml], timeout: 10m}
/// Check (read-only): `istioctl version -o json` (meshVersion present, matching `version`), the
/// overlay unchanged since this step installed it, and the policies (PeerAuthentication `default`
/// with the wanted mode, every AuthorizationPolicy) live as rendered. Apply: the overlay is rendered
/// to <state>/mesh-istio/<id>/istio-operator.yaml; when the control plane is absent, at another
/// version or its overlay changed: `istioctl install -y -f FILE --set profile=P` and
/// `istioctl verify-install -f FILE`; then the policies by `kubectl apply --server-side` (live objects
/// saved first) and the PeerAuthentication read back. A failure undoes what the attempt changed.
/// Rollback: policies restored / deleted, then `istioctl uninstall --purge -y` only when this run
/// installed the control plane. Outputs: version, installed ("true" when this run installed it), mtls
/// (the mode read back from the namespace's PeerAuthentication; UNSET without a namespace).
class MeshIstioStep : public pipeline::StepKind {
 public:
  std::string Name() const override { return "mesh.istio"; }
  void Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const override;
  std::optional<std::vector<std::string>> Outputs(const pipeline::StepSpec&) const override {
    return std::vector<std::string>{"version", "installed", "mtls"};
  }
  bool HasProbe(const pipeline::StepSpec&) const override { return true; }
  std::vector<std::filesystem::path> ReferencedFiles(const pipeline::StepSpec& step, const pipeline::Json& rendered,
                                                     const std::filesystem::path& plan_dir) const override;
  std::vector<std::string> Describe(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::Probe> Check(const pipeline::StepContext& ctx) const override;
  std::vector<std::string> Provides(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::ApplyResult> Apply(const pipeline::StepContext& ctx) const override;
  bool CanRollback(const pipeline::StepSpec&) const override { return true; }
  Expected<void> Rollback(const pipeline::StepContext& ctx, const nlohmann::json& data) const override;
};

}  // namespace slipway::steps
