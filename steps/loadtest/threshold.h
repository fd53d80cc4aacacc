#pragma once
// k6-style thresholds: {metric or "metric{name:NAME}": ["p(95)<200", "rate<0.01", ...]}.
//
// Metrics and the aggregations each accepts:
//   http_req_duration   p(N), avg, min, max, med   milliseconds; the limit may carry a unit (200ms, 1.5s, 500us)
//   http_req_failed     rate                        failed / completed, 0..1 (a limit may be written "1%")
//   http_reqs           count, rate                 rate is per second over the run
//   dropped_iterations  count, rate
// Operators: <, <=, >, >=, ==, !=. "{name:NAME}" restricts the first three to one request name.
// The verdict is on the whole run. With abort_on_fail, the threshold is also judged once a second on the
// second that just ended (count aggregations: on the run so far); the run stops once a breach has lasted
// longer than delay_abort_eval (default 0: the first breached second), so with delay_abort_eval >= 1s one
// slow second does not abort a run. A second without responses neither starts nor ends a breach.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/error.h"
#include "steps/loadtest/duration.h"

namespace slipway::steps::loadtest {

struct Result;
struct ThresholdResult;

enum class Metric { kHttpReqDuration, kHttpReqFailed, kHttpReqs, kDroppedIterations };

/// A metric name with its optional request-name tag.
struct MetricKey {
  Metric metric = Metric::kHttpReqDuration;
  std::string request_name;  // empty: all requests
  std::string text;          // as written, normalised: "http_req_duration{name:home}"
};

/// "p(95)<200" parsed.
struct ThresholdExpr {
  enum class Agg { kPercentile, kAvg, kMin, kMax, kMed, kRate, kCount };
  enum class Op { kLt, kLe, kGt, kGe, kEq, kNe };
  Agg agg = Agg::kPercentile;
  double percentile = 0;  // for kPercentile, in (0, 100]
  Op op = Op::kLt;
  double limit = 0;  // in the metric's unit (ms for durations)
  std::string text;  // as written
};

/// A threshold as configured.
struct ThresholdSpec {
  MetricKey key;
  ThresholdExpr expr;
  bool abort_on_fail = false;
  Nanos delay_abort_eval = 0;  // the breach must last this long before the run is aborted
};

/// Parses "http_req_duration" or "http_req_duration{name:home}"; fails naming the unknown metric or tag.
Expected<MetricKey> ParseMetricKey(std::string_view text);
/// Parses an expression and checks the aggregation suits `metric`, e.g. "rate is not an aggregation of
/// http_req_duration (use p(N), avg, min, max or med)".
Expected<ThresholdExpr> ParseThresholdExpr(std::string_view text, Metric metric);
/// measured <op> limit.
bool Holds(double measured, ThresholdExpr::Op op, double limit);
/// The value of `expr`'s aggregation of `key` in `result` (ms for durations).
double Measure(const MetricKey& key, const ThresholdExpr& expr, const Result& result);
/// Verdicts of every spec against `result`.
std::vector<ThresholdResult> EvaluateThresholds(const std::vector<ThresholdSpec>& specs, const Result& result);

}  // namespace slipway::steps::loadtest
