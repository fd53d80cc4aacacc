#pragma once
#include "cmd/app.h"
#include "pipeline/session.h"

namespace slipway::cmd {

/// The session inputs for a loaded plan and the command-line options.
pipeline::SessionInputs MakeSessionInputs(const LoadedPlan& loaded, const PlanOptions& o, const GlobalOptions& g,
                                          pipeline::Mode mode, const std::set<std::string>& only);

/// Runs a dry-run and prints it (text or JSON); returns the exit code (--detailed-exitcode aware).
int RunDryRun(const LoadedPlan& loaded, const PlanOptions& o, const GlobalOptions& g, const std::set<std::string>& only);

/// The command line as one string, for the lock file and the state.
std::string CommandLine();

}  // namespace slipway::cmd
