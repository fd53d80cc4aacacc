#pragma once
#include "pipeline/step.h"

namespace slipway::steps {

/// `k8s.namespace`: create a namespace and set its labels/annotations idempotently.
///   with: {name, labels: {istio-injection: enabled}, annotations: {}}
/// Check: `kubectl get namespace NAME -o json` has the wanted labels/annotations. Rollback: delete it
/// if this run created it, otherwise restore the labels/annotations it changed. Outputs: name, created.
class K8sNamespaceStep : public pipeline::StepKind {
 public:
  std::string Name() const override { return "k8s.namespace"; }
  void Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const override;
  std::optional<std::vector<std::string>> Outputs(const pipeline::StepSpec&) const override {
    return std::vector<std::string>{"name", "created"};
  }
  bool HasProbe(const pipeline::StepSpec&) const override { return true; }
  std::vector<std::string> Describe(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::Probe> Check(const pipeline::StepContext& ctx) const override;
  std::vector<std::string> Provides(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::ApplyResult> Apply(const pipeline::StepContext& ctx) const override;
  bool CanRollback(const pipeline::StepSpec&) const override { return true; }
  Expected<void> Rollback(const pipeline::StepContext& ctx, const nlohmann::json& data) const override;
};

}  // namespace slipway::steps
