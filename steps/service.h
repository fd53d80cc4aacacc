#pragma once
#include "pipeline/step.h"

namespace slipway::steps {

/// `service`: a local long-running process, for local plans and demos.
///   with: {run: [argv...], env: {}, cwd, name: <default: step id>, log: FILE,
///          ready: {url: URL | port: N, host: 127.0.0.1, timeout: 30s, interval: 200ms},
///          state: started | stopped, stop_timeout: 10s}
/// The process runs in its own session (it outlives slipway) with stdout/stderr appended to the
/// log; its pid and definition are kept in <state>/services/<name>.json. Check: running, same
/// definition, ready probe answers. Rollback (and `state: stopped`) terminates its process group.
/// Outputs: pid, log, url.
class ServiceStep : public pipeline::StepKind {
 public:
  std::string Name() const override { return "service"; }
  void Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const override;
  std::optional<std::vector<std::string>> Outputs(const pipeline::StepSpec&) const override {
    return std::vector<std::string>{"pid", "log", "url"};
  }
  bool HasProbe(const pipeline::StepSpec&) const override { return true; }
  std::vector<std::string> Describe(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::Probe> Check(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::ApplyResult> Apply(const pipeline::StepContext& ctx) const override;
  bool CanRollback(const pipeline::StepSpec& step) const override;
  Expected<void> Rollback(const pipeline::StepContext& ctx, const nlohmann::json& data) const override;
};

}  // namespace slipway::steps
