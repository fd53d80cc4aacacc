#pragma once
#include "pipeline/step.h"

namespace slipway::steps {

/// `prereq`: what a plan needs before it changes anything, all reported at once with how to fix it.
///   with: {tools: {kubectl: ">=1.27", helm: ">=3.12 <4", jq: ""}, env: [KUBECONFIG], files: [certs/ca.pem],
///          cluster: true, urls: ["https://registry.example.com/v2/"],
///          resources: [{kind: Secret, name: tls, namespace: istio-system, why: "the gateway's certificate"}]}
/// resources: objects the plan uses but does not create (`kubectl get KIND NAME -n NS`); a missing one is
/// reported with its `why`.
/// Read-only: its check runs everything (also in dry-runs); apply fails listing what is missing.
class PrereqStep : public pipeline::StepKind {
 public:
  std::string Name() const override { return "prereq"; }
  void Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const override;
  bool HasProbe(const pipeline::StepSpec&) const override { return true; }
  std::vector<std::string> Describe(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::Probe> Check(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::ApplyResult> Apply(const pipeline::StepContext& ctx) const override;
};

/// A version such as "v1.32.4-dispatcher" or "stable-2.14.10" as numbers {1, 32, 4}; empty if none.
std::vector<int> ParseVersion(const std::string& text);
/// Does `version` satisfy `constraint` (">=1.27", ">=3.12 <4", ">=1.2,<2", "=1.2.3", "1.2", "^1.2", "~1.2", "")?
/// Errors describe a malformed constraint.
Expected<bool> VersionSatisfies(const std::vector<int>& version, const std::string& constraint);

}  // namespace slipway::steps
