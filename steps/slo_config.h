#pragma once
// The `with:` of an `slo` step, read and checked by one parser used twice: at load time (with
// positions, strings that still hold templates accepted unchecked) and at run time on the
// rendered body (where nothing may be left unchecked).
//
// Format (every level rejects unknown keys):
//   prometheus:   {url, bearer_token, headers: {K: V}, ca_file, insecure, timeout: 10s, retries: 2}
//   window:       5m                      # replaces $window in every query
//   objectives:   [{name, ratio: {good, total} | query | from + metric,
//                   target | pass, warning, weight: 1, key: false, on_no_data: fail|warn|pass,
//                   min_samples, samples}]
//   gate:         {pass: 90, warning: 75} # total score in percent
//   error_budget: {objective, period, freeze: false, warn_at: 90}

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/plan.h"
#include "steps/slo_eval.h"
#include "steps/slo_prometheus.h"

namespace slipway::steps::slo {

/// An `slo` step's settings after checking.
struct SloConfig {
  std::optional<PrometheusConfig> prometheus;       // set when with.prometheus is given
  std::chrono::milliseconds window{std::chrono::minutes(5)};
  std::vector<Objective> objectives;
  Gate gate;
  std::optional<BudgetPolicy> budget;

  /// $window as substituted into queries ("5m").
  std::string WindowText() const { return PromDuration(window); }
  /// The objective named `name`, or nullptr.
  const Objective* Find(const std::string& name) const;
  /// True when some objective (or the budget) queries Prometheus.
  bool NeedsPrometheus() const;
};

/// Receives one problem: the JSON pointer of the offending value below the step ("/with/gate/pass"),
/// what is wrong, and an optional hint ("did you mean 'warning'?").
using ConfigReport = std::function<void(const std::string& pointer, const std::string& message, const std::string& hint)>;

/// Whether strings that still hold "{{ ... }}" may pass unchecked.
enum class Templates { kAllowed, kRendered };

/// Reads `with`. Every problem goes to `report`; the result is nullopt when there was any.
std::optional<SloConfig> ParseSloConfig(const pipeline::Json& with, const ConfigReport& report, Templates templates);

}  // namespace slipway::steps::slo
