#pragma once
#include "pipeline/step.h"

namespace slipway::steps {

/// `loadtest`: the built-in load-test engine (steps/loadtest/) as a step. `with:` is the engine's
/// configuration (target, executor, rate/vus, duration, stages, requests, thresholds, workers,
/// kubernetes, ...; see steps/loadtest/config.h). A failed threshold fails the step, showing measured vs
/// limit. Outputs: summary_json (the engine's JSON summary), p50_ms, p90_ms, p95_ms, p99_ms, max_ms, rps,
/// error_rate, requests, errors, dropped, thresholds_ok — published even when thresholds fail.
class LoadtestStep : public pipeline::StepKind {
 public:
  std::string Name() const override { return "loadtest"; }
  void Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const override;
  std::optional<std::vector<std::string>> Outputs(const pipeline::StepSpec&) const override;
  std::vector<std::string> Describe(const pipeline::StepContext& ctx) const override;
  std::vector<std::filesystem::path> ReferencedFiles(const pipeline::StepSpec& step, const pipeline::Json& rendered,
                                                     const std::filesystem::path& plan_dir) const override;
  Expected<pipeline::ApplyResult> Apply(const pipeline::StepContext& ctx) const override;
};

}  // namespace slipway::steps
