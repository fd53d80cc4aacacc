#pragma once
// What mesh.istio and mesh.linkerd share: where a step keeps its files, running the mesh CLIs with the
// step's timeout (quietly when their output may hold key material), piping one tool's manifests into
// kubectl as argv processes (never a shell), and comparing rendered objects with live ones.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/error.h"
#include "pipeline/step.h"

namespace slipway::steps {

/// `<state>/<kind>/<step id>/` as an absolute path (tools run with the plan directory as cwd).
std::filesystem::path MeshStepDir(const pipeline::StepContext& ctx, const std::string& kind);

/// Creates dir (and parents) with mode 0700; fails with the path and the reason.
Expected<void> MakePrivateDir(const std::filesystem::path& dir);

/// Whether a tool's output says an API kind is not served (its CRD is not installed): then the
/// objects of that kind do not exist, which is not an error for a probe.
bool KindNotServed(const std::string& text);

/// Whether `actual` satisfies a wanted version: equal, or `wanted` is a prefix ending at a dot
/// ("1.22" matches "1.22.3"); a leading "v" is ignored on both.
bool VersionMatches(const std::string& wanted, const std::string& actual);

/// Whether every field of `want` is in `live` with the same value (objects recursively, arrays
/// element by element); fields the server adds to `live` do not matter.
bool JsonSubset(const nlohmann::json& want, const nlohmann::json& live);

/// How a command's output is treated.
enum class Echo {
  kStream,  ///< lines go to the console and the step log (progress people want to see)
  kQuiet,   ///< captured only; the command line alone is logged (output may hold key material)
};

/// Runs argv with the given stdin and timeout. Errors: the tool could not start.
Expected<pipeline::ProcessResult> RunTool(const pipeline::StepContext& ctx, const std::vector<std::string>& argv,
                                          std::optional<std::string> stdin_data, std::chrono::milliseconds timeout,
                                          Echo echo);

/// Runs argv and requires exit 0; the Error carries the tool's stderr tail (CommandError).
Expected<pipeline::ProcessResult> RunOk(const pipeline::StepContext& ctx, const std::vector<std::string>& argv,
                                        std::optional<std::string> stdin_data, std::chrono::milliseconds timeout,
                                        Echo echo);

/// What an empty manifest from the producer means.
enum class EmptyOutput {
  kError,    ///< the producer should have printed manifests (install)
  kNothing,  ///< nothing to do (uninstall of what is already gone)
};

/// `producer | kubectl ...`: runs producer quietly (its manifests may hold key material and are
/// never logged), then kubectl with producer's stdout on stdin (kubectl's own output is streamed).
/// Errors name whichever command failed, with its stderr tail.
Expected<void> PipeIntoKubectl(const pipeline::StepContext& ctx, const std::vector<std::string>& producer,
                               const std::vector<std::string>& kubectl, std::chrono::milliseconds timeout,
                               EmptyOutput empty = EmptyOutput::kError);


/// "a | b" for Describe: both argv quoted.
std::string QuotePipe(const std::vector<std::string>& producer, const std::vector<std::string>& consumer);

}  // namespace slipway::steps
