#pragma once
#include <set>
#include <string>
#include <vector>

#include "pipeline/diagnostics.h"
#include "pipeline/plan.h"

namespace slipway::pipeline {

/// The dependency graph of a plan's steps, by index into plan.steps.
class Dag {
 public:
  /// Builds the graph; unknown `needs` and cycles (printed as a→b→c→a) are added to `diag`.
  static Dag Build(const Plan& plan, Diagnostics& diag);

  size_t Size() const { return deps_.size(); }
  /// Steps that step `i` needs directly.
  const std::vector<int>& Deps(int i) const { return deps_[static_cast<size_t>(i)]; }
  /// Steps that need step `i` directly.
  const std::vector<int>& Dependents(int i) const { return dependents_[static_cast<size_t>(i)]; }
  /// Steps grouped by depth: wave 0 needs nothing, wave k needs something in wave k-1. Needs acyclic.
  std::vector<std::vector<int>> Waves() const;
  /// A topological order that keeps plan order among independent steps. Needs acyclic.
  std::vector<int> TopoOrder() const;
  /// The given steps plus everything they need, transitively.
  std::set<int> WithDependencies(const std::set<int>& roots) const;
  /// The given steps plus everything that needs them, transitively.
  std::set<int> WithDependents(const std::set<int>& roots) const;
  /// True when `from` needs `to`, directly or not.
  bool Reaches(int from, int to) const;
  bool HasCycle() const { return has_cycle_; }

 private:
  std::vector<std::vector<int>> deps_;
  std::vector<std::vector<int>> dependents_;
  bool has_cycle_ = false;
};

}  // namespace slipway::pipeline
