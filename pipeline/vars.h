#pragma once
// Variable resolution and the scope templates are rendered in.
// Precedence, lowest first: plan vars < --values F < --profile P < SLIPWAY_VAR_x < --set x=v.

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "pipeline/diagnostics.h"
#include "pipeline/plan.h"
#include "pipeline/secrets.h"
#include "pipeline/template.h"

namespace slipway::pipeline {

/// What the command line says about variables.
struct VarOverrides {
  std::vector<std::string> values_files;
  std::string profile;
  std::vector<std::string> sets;  // "x=v" or "a.b=v"
  bool use_env = true;            // read SLIPWAY_VAR_* from the environment
};

/// The plan's vars with every override applied. Problems with flags or files go into `diag`.
Json ResolveVars(const Plan& plan, const VarOverrides& overrides, Diagnostics& diag);

/// The value at a var path ("a", "b") in `vars`, or nullptr.
const Json* FindVar(const Json& vars, const std::vector<std::string>& path);

/// Outputs published by steps during a run. Thread-safe.
class OutputStore {
 public:
  void Set(const std::string& step, std::map<std::string, std::string> outputs);
  bool Has(const std::string& step) const;
  /// nullopt when the step has not published that key.
  std::optional<std::string> Get(const std::string& step, const std::string& key) const;
  std::map<std::string, std::string> All(const std::string& step) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, std::string>> outputs_;
};

/// The scope steps are rendered in during a run (or a dry-run).
class RunScope : public Scope {
 public:
  RunScope(const Json& vars, const SecretStore& secrets, const OutputStore& outputs)
      : vars_(vars), secrets_(secrets), outputs_(outputs) {}
  /// In a dry-run, outputs of steps that have not run render as "(known after apply: steps.x.outputs.y)"
  /// and missing secrets as "***".
  void SetDryRun(bool dry) { dry_run_ = dry; }
  Expected<std::string> Lookup(const Reference& ref) const override;

 private:
  Expected<std::string> LookupDepth(const Reference& ref, int depth) const;
  const Json& vars_;
  const SecretStore& secrets_;
  const OutputStore& outputs_;
  bool dry_run_ = false;
};

}  // namespace slipway::pipeline
