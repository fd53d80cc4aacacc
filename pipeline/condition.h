#pragma once
// `if:` conditions, a small subset of GitHub Actions expressions:
//   always() success() failure() cancelled()   status functions
//   vars.x  env.X  steps.ID.outputs.KEY        references (secrets are not allowed in conditions)
//   'text' "text" 12 true false                literals
//   == != && || ! ( )                          operators, usual precedence (! > ==,!= > && > ||)
// A condition may also be wrapped in "{{ }}" or "${{ }}". Comparison is numeric when both sides
// are numbers, else textual. Falsy values: "", "false", "0", null.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/error.h"
#include "pipeline/template.h"

namespace slipway::pipeline {

/// What the status functions see when a condition is evaluated.
struct RunStatus {
  bool any_failed = false;   // an earlier step failed (not continue_on_error)
  bool cancelled = false;    // the run is being interrupted
};

struct ConditionNode;

/// A parsed condition; cheap to copy, immutable.
class Condition {
 public:
  /// Parses an `if:` text; errors give the column (from 1) of the offending token in `column`.
  static Expected<Condition> Parse(std::string_view text, int* column = nullptr);
  /// Evaluates against the scope; fails when a reference cannot be resolved.
  Expected<bool> Evaluate(const Scope& scope, const RunStatus& status) const;
  /// References the condition reads, for validation.
  const std::vector<Reference>& References() const { return refs_; }
  /// True when the condition calls always(), failure() or cancelled(): the step may run after a failure.
  bool RunsAfterFailure() const { return runs_after_failure_; }

 private:
  std::shared_ptr<const ConditionNode> root_;
  std::vector<Reference> refs_;
  bool runs_after_failure_ = false;
};

}  // namespace slipway::pipeline
