#pragma once
// How a dry-run is shown: as text by waves, or as JSON.
//
// JSON format (format_version 1; fields are only ever added, never renamed or removed):
// {
//   "format_version": 1,
//   "plan": "<metadata.name>", "file": "<plan path>",
//   "changes_pending": true|false,        // some step would run
//   "waves": [["prereqs"], ["namespace", "observability"], ...],
//   "steps": [{
//     "id": "namespace", "kind": "k8s.namespace", "wave": 1, "needs": ["prereqs"], "tags": [],
//     "action": "would-run" | "unchanged" | "skipped" | "failed",
//     "reason": "why (skips, unchanged probes, failures)",
//     "probe": {"ran": true|false, "detail": "check passed: ...",
//               "not_checked": "cluster-unreachable" | "kind-not-served" | "forbidden" | "tool-missing"
//                              | "namespace-pending",     // only when the probe could not look
//               "facts": {"crd": "...", "provided_by": "<step id>", ...},   // what not_checked is about
//               "would_fail": true},                       // only when apply would fail at this step
//     "commands": ["kubectl apply --server-side ...", ...],   // exactly what apply would run
//     "fingerprint": "<sha256 of the rendered step>"
//   }, ...],
//   "summary": {"would_run": 3, "unchanged": 2, "skipped": 1, "failed": 0},
//   "apply_would_fail": {"step": "prereqs", "reason": "1 prerequisite(s) missing: ..."} | null
// }
// Secrets are masked as *** everywhere.

#include <string>

#include "pipeline/dag.h"
#include "pipeline/executor.h"
#include "pipeline/plan.h"
#include "pipeline/secrets.h"

namespace slipway::pipeline {

/// The dry-run listing for people.
std::string DryRunText(const Plan& plan, const Dag& dag, const RunResult& result, const Masker& masker);
/// The dry-run as the JSON document described above.
Json DryRunJson(const Plan& plan, const Dag& dag, const RunResult& result, const Masker& masker);
/// True when some step would run (for --detailed-exitcode).
bool ChangesPending(const RunResult& result);
/// The first step, in wave order, whose check says apply would fail there; -1 if none.
int WouldFailAt(const Dag& dag, const RunResult& result);

/// Graphviz dot or Mermaid flowchart of the plan.
std::string GraphDot(const Plan& plan, const Dag& dag);
std::string GraphMermaid(const Plan& plan, const Dag& dag);

/// The end-of-apply table: step, status, duration, attempts, note.
std::string ApplySummary(const Plan& plan, const RunResult& result, const Masker& masker);

}  // namespace slipway::pipeline
