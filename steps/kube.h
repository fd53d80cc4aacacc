#pragma once
// How kinds reach the cluster: kubectl (and helm, istioctl, linkerd) as argv subprocesses, with the
// plan's kube: {context, kubeconfig} applied the way each tool expects it.

#include <string>
#include <vector>

#include "pipeline/step.h"

namespace slipway::steps {

/// kubectl argv with --context from the plan (KUBECONFIG comes through the step's environment).
std::vector<std::string> KubectlArgv(const pipeline::StepContext& ctx, std::vector<std::string> args);
/// helm argv with --kube-context from the plan.
std::vector<std::string> HelmArgv(const pipeline::StepContext& ctx, std::vector<std::string> args);
/// istioctl / linkerd argv with --context from the plan.
std::vector<std::string> ContextArgv(const pipeline::StepContext& ctx, const std::string& tool,
                                     std::vector<std::string> args);

/// Runs a command quietly (output captured, not streamed), e.g. for probes.
Expected<pipeline::ProcessResult> RunQuiet(const pipeline::StepContext& ctx, std::vector<std::string> argv,
                                           std::optional<std::string> stdin_data = std::nullopt,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(60));

/// A failed command as an Error: "kubectl apply ...: exit 1: <last stderr lines>".
Error CommandError(const std::vector<std::string>& argv, const pipeline::ProcessResult& r);

/// The dry-run probe's answer when the world could not be looked at: "not checked: cluster
/// unreachable (why)", or "not checked: why" when the tool itself is missing.
pipeline::Probe NotChecked(const Error& why);

/// Is the cluster reachable? ("" when yes, else why not.) Uses `kubectl version -o json` with a short timeout.
std::string ClusterUnreachable(const pipeline::StepContext& ctx);

}  // namespace slipway::steps
