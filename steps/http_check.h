#pragma once
#include "pipeline/step.h"

namespace slipway::steps {

/// `http.check`: polls a URL until its status, body and latency meet the expectations, or the
/// timeout passes. Read-only; no rollback. Outputs: status, latency_ms, attempts.
///   with: {url, method: GET, headers: {}, body: "", expect: {status: 200 | [200, 204],
///          body_contains: "ok", max_latency: 500ms}, timeout: 60s, interval: 1s, insecure: false, ca_file}
class HttpCheckStep : public pipeline::StepKind {
 public:
  std::string Name() const override { return "http.check"; }
  void Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const override;
  std::optional<std::vector<std::string>> Outputs(const pipeline::StepSpec&) const override {
    return std::vector<std::string>{"status", "latency_ms", "attempts"};
  }
  std::vector<std::string> Describe(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::ApplyResult> Apply(const pipeline::StepContext& ctx) const override;
};

}  // namespace slipway::steps
