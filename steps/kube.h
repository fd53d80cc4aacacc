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

/// What a failed kubectl (or helm) call says about the cluster, read from its error text.
struct KubeFailure {
  enum class Kind {
    kUnreachable,       // connection refused, DNS, TLS, credentials: nothing could be asked
    kKindNotServed,     // no CRD (yet) for the kind: `no matches for kind "X" in version "G/V"`
    kNamespaceMissing,  // `namespaces "shop" not found`
    kForbidden,         // RBAC: `User "u" cannot patch resource "configmaps" ...`
    kConflict,          // server-side apply: fields owned by another field manager
    kToolMissing,       // the program is not on PATH
    kOther,
  };
  Kind kind = Kind::kOther;
  std::string kind_name, group, version;  // kKindNotServed
  std::string ns;                         // kNamespaceMissing (and kForbidden, when named)
  std::string verb, resource, user;       // kForbidden
  std::string conflicts;                  // kConflict: `conflict with "kubectl-patch" using v1: .data.greeting`
};
KubeFailure ClassifyKubeFailure(const std::string& text);

/// The CRD name a kind would have (plural.group, English plural of the lower-cased kind), for messages.
std::string CrdName(const std::string& kind, const std::string& group);

/// The dry-run probe's answer when the world could not be looked at, worded for the failure:
/// "not checked: cluster unreachable (why)", "not checked: kind X (G/V) is not served ...", "not
/// checked: forbidden: ...", or "not checked: why" when the tool itself is missing. Sets not_checked and
/// facts. With ctx, a kind or namespace an earlier step provides is named (and a missing namespace that
/// an earlier step creates is "would create", not an error).
pipeline::Probe NotChecked(const Error& why, const pipeline::StepContext* ctx = nullptr);

/// Is the cluster reachable? ("" when yes, else why not.) Uses `kubectl version -o json` with a short timeout.
std::string ClusterUnreachable(const pipeline::StepContext& ctx);

}  // namespace slipway::steps
