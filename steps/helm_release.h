#pragma once
#include <chrono>
#include <string>

#include "pipeline/step.h"

namespace slipway::steps {

/// `helm.release`: install or upgrade a Helm release idempotently.
///   with: {name, chart, repo, version, namespace, create_namespace: true, values: [files rendered as mustache],
///          set: {dotted.key: value}, timeout: 5m, atomic: false, plain_http: false}
/// Apply = `helm upgrade --install NAME CHART --namespace NS ... --wait --timeout T -f <rendered values>...
/// [--set k=v]... -o json`, with the rendered values files written (mode 0600) under
/// <state>/helm/<step id>/. Check = `helm get metadata` + `helm get values`: in sync when the release is deployed at
/// the wanted chart version with the same user values (compared as SHA-256 of canonical JSON). Rollback:
/// `helm rollback NAME PREV` to the revision seen before the upgrade, or `helm uninstall` when this run
/// installed the release. Outputs: revision, status, chart_version, values_digest.
class HelmReleaseStep : public pipeline::StepKind {
 public:
  std::string Name() const override { return "helm.release"; }
  void Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const override;
  std::optional<std::vector<std::string>> Outputs(const pipeline::StepSpec&) const override {
    return std::vector<std::string>{"revision", "status", "chart_version", "values_digest"};
  }
  bool HasProbe(const pipeline::StepSpec&) const override { return true; }
  std::vector<std::filesystem::path> ReferencedFiles(const pipeline::StepSpec& step, const pipeline::Json& rendered,
                                                     const std::filesystem::path& plan_dir) const override;
  std::vector<std::string> Describe(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::Probe> Check(const pipeline::StepContext& ctx) const override;
  std::vector<std::string> Provides(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::ApplyResult> Apply(const pipeline::StepContext& ctx) const override;
  bool CanRollback(const pipeline::StepSpec&) const override { return true; }
  Expected<void> Rollback(const pipeline::StepContext& ctx, const nlohmann::json& data) const override;
};

/// A duration as Go's time.Duration.String() prints it, which is how helm shows --timeout: "5m0s",
/// "1h0m0s", "1m30s", "1.5s", "500ms", "0s".
std::string GoDuration(std::chrono::milliseconds d);

/// The values helm would record for a release (`helm get values`): the values documents deep-merged in
/// order (maps merge key by key, anything else replaces), then each `set` entry applied at its dotted path
/// (`a.b`, `list[0]`, `a\.b` for a literal dot), numbers that are not integers kept as strings as helm's
/// --set parser does. Fails when a document is not a YAML mapping (names it).
Expected<pipeline::Json> HelmUserValues(const std::vector<std::pair<std::string, std::string>>& documents,
                                        const pipeline::Json& set);

/// SHA-256 (hex) of values in canonical JSON: keys sorted, integral numbers as integers, null as {}.
std::string HelmValuesDigest(const pipeline::Json& values);

}  // namespace slipway::steps
