#pragma once
#include "pipeline/step.h"

namespace slipway::steps {

/// The `run` kind: an argv command (or an explicit `shell:` script), env, cwd; `check:` decides
/// whether it is already done; outputs come from `key=value` lines written to $SLIPWAY_OUTPUT;
/// `rollback:` undoes it, with the step's outputs in SLIPWAY_OUTPUT_<KEY> env vars.
class RunStep : public pipeline::StepKind {
 public:
  std::string Name() const override { return "run"; }
  void Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const override;
  std::optional<std::vector<std::string>> Outputs(const pipeline::StepSpec&) const override { return std::nullopt; }
  bool HasProbe(const pipeline::StepSpec& step) const override { return step.body.contains("check"); }
  std::vector<std::string> Describe(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::Probe> Check(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::ApplyResult> Apply(const pipeline::StepContext& ctx) const override;
  bool CanRollback(const pipeline::StepSpec& step) const override { return step.body.contains("rollback"); }
  Expected<void> Rollback(const pipeline::StepContext& ctx, const nlohmann::json& data) const override;
};

/// Parses `key=value` lines and GitHub-style `key<<DELIM ... DELIM` blocks of an output file.
std::map<std::string, std::string> ParseOutputFile(const std::string& text);

/// The argv for a body command: a list as is, or {shell: script} as `bash -eo pipefail -c script`.
std::vector<std::string> CommandArgv(const nlohmann::json& command);

}  // namespace slipway::steps
