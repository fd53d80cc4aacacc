#pragma once
#include "pipeline/step.h"

namespace slipway::steps {

/// `mesh.linkerd`: install the Linkerd control plane with its identity certificates.
///   with: {version: stable-2.14.10, ha: false, trust_anchor: {cert: ca.crt, key: ca.key},
///          issuer: {cert: issuer.crt, key: issuer.key}, cert_validity: 8760h, timeout: 10m}
/// Check (read-only): `linkerd version` reports a server version (matching `version` when given).
/// Apply: certificates not given are generated with openssl (ECDSA P-256 root
/// "root.linkerd.cluster.local", CA; issuer "identity.linkerd.cluster.local", CA pathlen:0, signed by
/// it) into <state>/mesh-linkerd/<id>/ (keys 0600, reused on later runs); then
/// `linkerd install --crds | kubectl apply --server-side`, `linkerd install --identity-... [--ha] |
/// kubectl apply --server-side` (an existing control plane at another version: `linkerd upgrade`),
/// and `linkerd check`. Manifests and keys are never logged. A failure undoes the attempt.
/// Rollback (only when this run installed it): `linkerd uninstall | kubectl delete -f -`.
/// Outputs: version, installed, trust_anchor_fingerprint (SHA-256 of the anchor certificate).
class MeshLinkerdStep : public pipeline::StepKind {
 public:
  std::string Name() const override { return "mesh.linkerd"; }
  void Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const override;
  std::optional<std::vector<std::string>> Outputs(const pipeline::StepSpec&) const override {
    return std::vector<std::string>{"version", "installed", "trust_anchor_fingerprint"};
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
