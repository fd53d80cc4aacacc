#pragma once
// What slipway leaves behind for a GitHub Actions workflow (GITHUB_ACTIONS=true): step outputs in
// $GITHUB_OUTPUT and a Markdown summary appended to $GITHUB_STEP_SUMMARY. The ::group:: and
// ::error:: workflow commands are the console Reporter's (pipeline/events.h).
//
// Format of $GITHUB_OUTPUT (GitHub's): one `name=value` line per output, or, for a value that spans
// lines, `name<<DELIM` / the value / `DELIM` with a random delimiter that does not occur in it.
// Every value passes through the secret Masker first.
//
// apply outputs, in this order:
//   status          succeeded | failed | rolled-back | rollback-failed | interrupted | locked | invalid
//   exit_code       the process exit code (0, 1, 2, 3, 4, 130)
//   run_id          the run's id ("" when the run did not start)
//   changed         number of steps this run changed
//   failed_steps    ids of the steps that failed, comma-separated
//   error           "<step>: <reason>" of the first failed step ("" when none)
//   message         slipway's closing words
//   report          the HTML report's path (the report step's `html` output; "" when none)
//   report_dir, report_markdown, report_json, report_junit   the report step's other paths
//   p95_ms          the report's p95_ms, else the last load test's p95 ("" when none)
//   slo_result      pass | warning | fail of the last SLO step ("" when none)
//   slo_score       the report's slo_score, else the last SLO step's score ("" when none)
// plan (and apply --dry-run) outputs:
//   status          changes-pending | no-changes | failed | invalid
//   exit_code, changes (steps that would run), unchanged, skipped, failed, saved_plan (plan --out)
//
// The summary: after apply, the report step's Markdown file (when one was written) and a closing
// line with the status and slipway's message; without a report, a table of the steps. After a
// dry-run, the counts and the dry-run listing in a code block.

#include <string>
#include <utility>
#include <vector>

#include "cmd/app.h"
#include "pipeline/error.h"
#include "pipeline/session.h"

namespace slipway::cmd::github {

/// Outputs in the order they are written.
using Outputs = std::vector<std::pair<std::string, std::string>>;

/// `name=value\n`, or `name<<DELIM\nvalue\nDELIM\n` when the value holds a line break.
std::string FormatOutput(const std::string& name, const std::string& value);

/// The lines for all outputs, every value masked.
std::string FormatOutputs(const Outputs& outputs, const pipeline::Masker& masker);

/// Appends text to the file named by the environment variable `var`. Does nothing when the
/// variable is unset or empty; fails (naming the file) when it cannot be written.
Expected<void> AppendToFileIn(const char* var, const std::string& text);

/// The `status` output of an apply, from its exit code and rollback.
std::string ApplyStatus(const pipeline::SessionResult& result, const PlanOptions& o);

/// Writes apply's outputs and summary (see the file comment). Problems become ::warning:: lines;
/// they never change the exit code.
void PublishApply(const LoadedPlan& loaded, const PlanOptions& o, const pipeline::SessionResult& result);

/// Writes a dry-run's outputs and summary (`command` is "plan" or "apply --dry-run").
void PublishDryRun(const LoadedPlan& loaded, const PlanOptions& o, const pipeline::RunResult& result, int exit_code,
                   const std::string& command);

/// Writes status=invalid and the exit code when the plan did not load or validate.
void PublishInvalid(const PlanOptions& o, int exit_code, const std::string& command);

}  // namespace slipway::cmd::github
