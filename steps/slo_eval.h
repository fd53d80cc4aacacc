#pragma once
// The arithmetic of the `slo` kind, free of I/O so it can be tested by hand-computed values:
// comparisons ("< 0.2", ">= 99.9 %", "< 200ms"), judging one objective from a measurement
// (no data, min_samples, pass / warning / fail), the weighted quality-gate score and the
// error-budget numbers (consumed, remaining, burn rate).

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/error.h"

namespace slipway::steps::slo {

/// How a measured value is compared with its limit. Equality is left out on purpose: it is
/// meaningless for floating-point measurements.
enum class Op { kLess, kLessEqual, kGreater, kGreaterEqual };

/// A unit written after a comparison's number. Which ones an objective accepts depends on its source.
enum class Unit { kNone, kMillis, kSeconds, kPercent };

/// "< 0.2" as parsed: operator, the number as written, its unit and the original text.
struct Comparison {
  Op op = Op::kLess;
  double number = 0;    // as written
  Unit unit = Unit::kNone;
  double limit = 0;     // `number` converted to the unit of the measured value (set by the caller)
  std::string text;     // as written, trimmed: "< 200ms"

  /// True when `value` satisfies the comparison against `limit`; NaN never does.
  bool Holds(double value) const;
  /// True for < and <=: a larger measured value is worse.
  bool LowerIsBetter() const { return op == Op::kLess || op == Op::kLessEqual; }
};

/// Parses "<op> <number>[unit]" with op one of <, <=, >, >= and unit one of ms, s, %. A failure's
/// message names the 1-based character where it went wrong: "expected a number at character 3".
/// With `implicit`, a bare "99.9" means "<implicit> 99.9" (and its text says so).
Expected<Comparison> ParseComparison(std::string_view text, std::optional<Op> implicit = std::nullopt);

/// The symbol of an operator: "<", "<=", ">", ">=".
std::string OpText(Op op);

/// The verdict of one objective or of the whole gate.
enum class Outcome { kPass, kWarning, kFail };

/// "pass", "warning", "fail".
std::string OutcomeText(Outcome o);

/// What an objective without data counts as (`on_no_data`).
enum class NoDataPolicy { kFail, kWarn, kPass };

/// Parses "fail", "warn" or "pass"; nullopt for anything else.
std::optional<NoDataPolicy> ParseNoDataPolicy(std::string_view text);

/// Where an objective's value comes from.
enum class Source { kRatio, kQuery, kLoadTest };

/// "ratio", "query", "loadtest".
std::string SourceText(Source s);

/// One objective after its `with:` was checked and its limits converted.
struct Objective {
  std::string name;
  Source source = Source::kQuery;
  std::string good, total;           // kRatio: PromQL, $window not yet substituted
  std::string query;                 // kQuery
  std::string from, metric;          // kLoadTest
  Comparison pass;
  std::optional<Comparison> warning;
  double weight = 1;
  bool key = false;
  NoDataPolicy on_no_data = NoDataPolicy::kFail;
  std::optional<double> min_samples;
  std::string samples;               // PromQL counting the requests behind the value
  std::string unit;                  // of the measured value, for people: "%", "ms", "s", "req/s", ""
};

/// What was measured for one objective. Exactly one of: a value, a reason for no data, an error.
struct Measurement {
  std::optional<double> value;       // never NaN (NaN is no data)
  std::string no_data;               // why there is no value: "query returned no data", ...
  std::string error;                 // the query itself failed (bad PromQL, HTTP 5xx): always a fail
  std::optional<double> samples;     // from the samples query or the load test's requests
  std::string samples_no_data;       // why samples are unknown when min_samples asked for them
  std::string detail;                // extra context: "worst of 3 series: {path="/"}"
  std::string query;                 // the rendered query (or "p(95) of step 'x'"), shown with no data
};

/// The verdict on one objective.
struct ObjectiveVerdict {
  std::string name;
  Outcome outcome = Outcome::kFail;
  std::optional<double> value;
  bool no_data = false;
  std::string message;               // "99.95 % >= 99.9 %", "no data: query returned no data (query: ...)"
};

/// Judges a measurement: a query error fails; too few samples or no value follow on_no_data;
/// else pass when `pass` holds, warning when `warning` holds, fail otherwise.
ObjectiveVerdict Judge(const Objective& objective, const Measurement& m);

/// The quality gate's thresholds on the total score, in percent.
struct Gate {
  double pass = 90;
  double warning = 75;
};

/// The gate's result.
struct GateVerdict {
  double score = 0;                  // percent
  Outcome outcome = Outcome::kFail;
  std::vector<std::string> reasons;  // why it is not a plain pass: key objectives, thresholds, budget
};

/// Weighted share of passing objectives (a warning earns half its weight), in percent, against the
/// gate; a failing `key` objective fails the gate whatever the score. No weight at all scores 0.
GateVerdict ScoreGate(const std::vector<Objective>& objectives, const std::vector<ObjectiveVerdict>& verdicts,
                      const Gate& gate);

/// The error-budget policy of one ratio objective.
struct BudgetPolicy {
  std::string objective;
  std::chrono::milliseconds period{0};
  bool freeze = false;
  double warn_at = 90;               // percent of the budget consumed
};

/// The budget of a ratio objective with target T % measured at M % over the period.
struct BudgetNumbers {
  double allowed_error = 0;          // 100 - T, in percent
  double consumed = 0;               // (100 - M) / (100 - T) * 100, in percent of the budget
  double remaining = 0;              // 100 - consumed; negative once overspent
  std::optional<double> burn_rate;   // error rate over the window / allowed error
};

/// Computes the numbers above; `window_value` is the objective's value over its normal window
/// (nullopt: no burn rate). Requires target < 100 (checked when the plan is validated).
BudgetNumbers ComputeBudget(double target, double period_value, std::optional<double> window_value);

/// A number for people and outputs: integers without decimals, else up to 8 significant digits.
std::string FormatNumber(double v);

/// A duration in Prometheus syntax, in the largest exact unit: "30d", "5m", "90s", "1500ms".
std::string PromDuration(std::chrono::milliseconds d);

/// Replaces each `$window` (not followed by a letter, digit or '_') with `window`.
std::string SubstituteWindow(const std::string& query, const std::string& window);

/// A metric a load-test step publishes, and where to find it.
struct LoadTestMetric {
  std::string name;                  // as written in `metric:` ("p(95)")
  std::string flat_key;              // the step's flat output ("p95_ms")
  std::vector<std::string> summary_path;  // inside summary_json (["latency_ms", "p95"])
  bool latency = false;              // in milliseconds; ms/s units accepted
  bool fraction = false;             // 0..1; a % unit is divided by 100
  std::string unit;                  // for people
};

/// The metrics `from:` objectives may name, in documentation order.
const std::vector<LoadTestMetric>& LoadTestMetrics();
/// The entry for `name`, or nullptr.
const LoadTestMetric* FindLoadTestMetric(const std::string& name);

/// Reads `metric` from a load-test step's outputs: the flat key first, then summary_json. No data
/// (with the reason) when neither holds a finite number.
Measurement ReadLoadTestMetric(const LoadTestMetric& metric, const std::map<std::string, std::string>& outputs);

}  // namespace slipway::steps::slo
