#pragma once
#include "pipeline/step.h"

namespace slipway::steps {

/// `slo`: evaluates service-level objectives from Prometheus (ratio of two queries, threshold on a
/// query's value) or from an earlier loadtest step's outputs, scores them against a quality gate
/// and checks an error budget. Read-only; no rollback; plans tag it `test`.
///   with: {prometheus: {url, bearer_token, headers, ca_file, insecure, timeout: 10s, retries: 2},
///          window: 5m, objectives: [{name, ratio: {good, total} | query | from + metric, target | pass,
///          warning, weight: 1, key: false, on_no_data: fail, min_samples, samples}],
///          gate: {pass: 90, warning: 75}, error_budget: {objective, period, freeze: false, warn_at: 90}}
/// Outputs: result (pass|warning|fail), score, <name>.value ("" without data), <name>.result,
/// budget_remaining and burn_rate (with an error budget; "" when unmeasurable), report_json. Apply fails when the gate fails (naming the failing
/// objectives, measured against target) or, before anything else, when `freeze` is set and the
/// budget is spent; a warning passes and is logged as one.
class SloStep : public pipeline::StepKind {
 public:
  std::string Name() const override { return "slo"; }
  void Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const override;
  std::optional<std::vector<std::string>> Outputs(const pipeline::StepSpec& step) const override;
  std::vector<std::string> Describe(const pipeline::StepContext& ctx) const override;
  /// A gate has no desired state to be in: always unknown, so it runs every time.
  Expected<pipeline::Probe> Check(const pipeline::StepContext& ctx) const override {
    (void)ctx;
    return pipeline::Probe{};
  }
  Expected<pipeline::ApplyResult> Apply(const pipeline::StepContext& ctx) const override;
};

}  // namespace slipway::steps
