#pragma once
#include "pipeline/step.h"

namespace slipway::steps {

/// `k8s.wait`: wait for workloads. Read-only; no rollback.
///   with: {resource: deployment/app | [deployment/a, statefulset/b], namespace, for: rollout | condition=Available |
///          delete, timeout: 5m}
/// rollout ⇒ `kubectl rollout status R --timeout=T`; otherwise `kubectl wait --for=... R --timeout=T`.
class K8sWaitStep : public pipeline::StepKind {
 public:
  std::string Name() const override { return "k8s.wait"; }
  void Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const override;
  std::vector<std::string> Describe(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::ApplyResult> Apply(const pipeline::StepContext& ctx) const override;
};

}  // namespace slipway::steps
