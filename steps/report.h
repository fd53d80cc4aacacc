#pragma once
// The `report` kind: writes what the run did — every step, load-test results, SLO verdicts — as
// Markdown, JSON, JUnit XML and a self-contained HTML page with inline SVG charts.
//
//   - id: report
//     uses: report
//     needs: [slo]
//     if: always()
//     with: {formats: [markdown, json, junit, html], dir: reports, title: "Shop deploy"}
//
// Files go to <dir>/<plan>-<run id>/ (report.md, report.json, junit.xml, report.html; the run id is a
// UTC timestamp when the run has none) and <dir>/latest is a symlink to that directory, replaced
// atomically (a temp symlink renamed over it). <dir> is relative to the plan's directory. Every string
// taken from the run passes through the secret Masker, and so does every file as a whole.
//
// Outputs: dir, markdown, json, junit, html (absolute paths; "" for a format not written),
// status (succeeded | failed), p95_ms (the last load test's p95, "" when there is none) and slo_score
// (the last SLO step's score, "" when there is none). A load test is a step whose outputs hold
// summary_json (steps/loadtest/summary.h); an SLO verdict is a step whose outputs hold report_json.
//
// Format of report.json (schema "slipway.report/v1"); numbers a producer did not give are null:
// {
//   "schema": "slipway.report/v1",
//   "title": "slipway report: shop", "plan": "shop", "plan_file": "plans/shop.yaml",
//   "run_id": "20240501T120000Z-1a2b",
//   "status": "failed",                     // "failed" when a step failed, rollback-failed or was
//                                           // interrupted; else "succeeded"
//   "started": "2024-05-01T12:00:00.000Z",  // the run's start (UTC); "finished": when the report was made
//   "finished": "2024-05-01T12:01:02.345Z", "duration_ms": 62345,
//   "counts": {"succeeded": 5, "failed": 1, "skipped": 1},   // steps per status
//   "steps": [{                             // plan order, the report step itself left out
//     "id", "kind", "description", "status", "reason", "attempts", "needs": [], "tags": [],
//     "loc": "plans/shop.yaml:12:7",
//     "started", "finished",                // ISO times, null when the step did not start / finish
//     "start_offset_ms", "duration_ms",     // from the run's start; a running step is timed until now
//     "outputs": {"key": "value"}           // summary_json and report_json left out (see below)
//   }],
//   "loadtests": [{
//     "step", "kind", "status", "executor",
//     "requests", "rps", "errors", "error_rate", "dropped", "duration_s",
//     "latency_ms": {"min", "mean", "p50", "p90", "p95", "p99", "p999", "max"},
//     "thresholds": [{"metric", "expr", "measured", "limit", "ok"}], "thresholds_ok",
//     "series": [{"t", "requests", "errors", "p50_ms", "p95_ms", "p99_ms"}],   // one per second
//     "by_request": {"name": {"requests", "errors", "error_rate", "latency_ms": {...}}},
//     "error": "output summary_json: not valid JSON"                        // only when it was not
//   }],
//   "slos": [{
//     "step", "kind", "status",
//     "result": "pass|warning|fail", "score": 96.5, "gate": {"pass": 90, "warning": 75},
//     "objectives": [{"name", "source", "query", "value", "unit", "target", "result", "weight", "key",
//                     "message"}],           // value/target: number or text as the producer gave them
//     "error_budget": {"objective", "period", "consumed_percent", "remaining_percent", "burn_rate",
//                      "freeze"} | null,
//     "error": "output report_json: ..."    // only when it was not a JSON object
//   }],
//   "p95_ms": 12.3, "slo_score": 96.5       // as the outputs of the same names; null when absent
// }

#include "pipeline/step.h"

namespace slipway::steps {

/// `report`: Markdown, JSON, JUnit XML and HTML reports of the run so far (see the format above).
/// Fails when a file cannot be written or a template is missing; formats that could be rendered are
/// still written then.
class ReportStep : public pipeline::StepKind {
 public:
  std::string Name() const override { return "report"; }
  /// with: keys formats, dir, title; unknown format names with a suggestion.
  void Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const override;
  /// dir, html, markdown, json, junit, status, p95_ms, slo_score (always all of them; "" when n/a).
  std::optional<std::vector<std::string>> Outputs(const pipeline::StepSpec&) const override {
    return std::vector<std::string>{"dir", "html", "markdown", "json", "junit", "status", "p95_ms", "slo_score"};
  }
  /// "write markdown, json, junit, html to reports/<plan>-<run id>/" (the run id is never known in a
  /// dry run, so it stays a placeholder and the dry-run output stays stable).
  std::vector<std::string> Describe(const pipeline::StepContext& ctx) const override;
  /// Writes the requested formats and repoints <dir>/latest; see the file comment for the outputs.
  Expected<pipeline::ApplyResult> Apply(const pipeline::StepContext& ctx) const override;
};

}  // namespace slipway::steps
