#pragma once
#include "pipeline/step.h"

namespace slipway::steps {

/// `k8s.apply`: render manifest templates and apply them server-side.
///   with: {manifests: ["templates/app/*.yaml"], inline: "apiVersion: v1\n...", namespace: shop,
///          values: {...extra template data...}, force_conflicts: false,
///          wait: {for: rollout | "condition=Available", timeout: 5m}}
/// Templates are mustache, fed with the plan's vars and `values`. Apply = `kubectl apply --server-side
/// --field-manager=slipway -f -`. Check = `kubectl diff --server-side` (exit 0 ⇒ unchanged). Before
/// applying, the live objects are saved; rollback re-applies them and deletes the ones this run
/// created. Outputs: objects (count), created (count).
class K8sApplyStep : public pipeline::StepKind {
 public:
  std::string Name() const override { return "k8s.apply"; }
  void Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const override;
  std::optional<std::vector<std::string>> Outputs(const pipeline::StepSpec&) const override {
    return std::vector<std::string>{"objects", "created"};
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

/// The step's manifests rendered and concatenated as one multi-document YAML.
Expected<std::string> RenderStepManifests(const pipeline::StepContext& ctx);

}  // namespace slipway::steps
