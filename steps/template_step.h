#pragma once
#include "pipeline/step.h"

namespace slipway::steps {

/// `template`: render a mustache template to a local file (configs for local services).
///   with: {src: templates/demo/prometheus.yml.mustache, dest: .slipway/demo/prometheus.yml, values: {...}, mode: "0644"}
/// `src` is looked up relative to the working directory, then in slipway's templates directory.
/// Check: dest already has exactly the rendered content. Rollback: restore the previous content, or
/// remove the file if this run created it. Outputs: path.
class TemplateStep : public pipeline::StepKind {
 public:
  std::string Name() const override { return "template"; }
  void Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const override;
  std::optional<std::vector<std::string>> Outputs(const pipeline::StepSpec&) const override {
    return std::vector<std::string>{"path"};
  }
  bool HasProbe(const pipeline::StepSpec&) const override { return true; }
  std::vector<std::filesystem::path> ReferencedFiles(const pipeline::StepSpec& step, const pipeline::Json& rendered,
                                                     const std::filesystem::path& plan_dir) const override;
  std::vector<std::string> Describe(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::Probe> Check(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::ApplyResult> Apply(const pipeline::StepContext& ctx) const override;
  bool CanRollback(const pipeline::StepSpec&) const override { return true; }
  Expected<void> Rollback(const pipeline::StepContext& ctx, const nlohmann::json& data) const override;
};

}  // namespace slipway::steps
