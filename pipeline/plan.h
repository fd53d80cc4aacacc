#pragma once
// The plan model: what a plan file says, immutable after loading. Run state (statuses,
// attempts, outputs) lives in the executor and the state store, never here.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/error.h"

namespace slipway::pipeline {

using Json = nlohmann::json;
using Millis = std::chrono::milliseconds;

/// Where each value of a step came from: JSON pointer ("/with/rate", "/run/2") -> file position.
using LocTable = std::map<std::string, SourceLoc>;

struct RetryPolicy {
  int attempts = 1;       // total tries, >= 1
  Millis backoff{0};      // wait before the 2nd try; doubles after each further failure
};

/// One step as written in the plan (templates not yet rendered).
struct StepSpec {
  std::string id;
  std::string kind;                 // "run" for `run:`/`shell:` steps, else the `uses:` value
  SourceLoc loc;                    // the step's `id:` value
  SourceLoc kind_loc;               // the `uses:` value (or `run:`)
  std::vector<std::string> needs;
  std::vector<SourceLoc> needs_locs;
  std::vector<std::string> tags;
  std::string if_expr;              // empty: success()
  SourceLoc if_loc;
  std::optional<Millis> timeout;    // falls back to the plan's defaults
  std::optional<RetryPolicy> retries;
  bool continue_on_error = false;
  std::string description;
  /// What gets rendered and fingerprinted: keys with, run, shell, check, rollback, env, cwd.
  Json body = Json::object();
  LocTable locs;

  bool HasTag(const std::string& tag) const {
    for (const auto& t : tags)
      if (t == tag) return true;
    return false;
  }
  /// Position of the value at `pointer` in the body, else the step's own position.
  SourceLoc LocOf(const std::string& pointer) const {
    auto it = locs.find(pointer);
    return it == locs.end() ? loc : it->second;
  }
};

struct KubeSettings {
  std::string context;
  std::string kubeconfig;
};

struct Plan {
  std::string file;                  // path as given by the user
  std::string source;                // the file's text, for error carets
  std::string api_version;
  std::string name;
  std::string description;
  Json vars = Json::object();        // as written in the plan (before overrides)
  std::map<std::string, SourceLoc> var_locs;
  std::map<std::string, Json> profiles;
  Millis default_timeout{std::chrono::minutes(10)};
  RetryPolicy default_retries;
  KubeSettings kube;
  std::optional<int> parallel;
  std::vector<StepSpec> steps;

  /// Index of the step with this id, or -1.
  int IndexOf(const std::string& id) const {
    for (size_t i = 0; i < steps.size(); ++i)
      if (steps[i].id == id) return static_cast<int>(i);
    return -1;
  }
  Millis TimeoutOf(const StepSpec& s) const { return s.timeout.value_or(default_timeout); }
  RetryPolicy RetriesOf(const StepSpec& s) const { return s.retries.value_or(default_retries); }
};

}  // namespace slipway::pipeline
