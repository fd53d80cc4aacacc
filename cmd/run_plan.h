#pragma once
#include "cmd/app.h"
#include "pipeline/executor.h"

namespace slipway::cmd {

/// Executes a loaded plan in the given mode (the core of `plan` and `apply`); returns the run.
pipeline::RunResult ExecutePlan(const LoadedPlan& loaded, const PlanOptions& o, const GlobalOptions& g,
                                pipeline::Mode mode, const std::set<std::string>& only, pipeline::EventSink& events);

/// Prints a dry-run (text or JSON) and returns the exit code (--detailed-exitcode aware).
int ReportDryRun(const LoadedPlan& loaded, const PlanOptions& o, const pipeline::RunResult& result);

}  // namespace slipway::cmd
