#pragma once
#include "pipeline/dag.h"
#include "pipeline/diagnostics.h"
#include "pipeline/plan.h"
#include "pipeline/step.h"

namespace slipway::pipeline {

/// Semantic checks after loading: known kinds (with a suggestion), each kind's own checks,
/// `if:` syntax, and every template reference (unknown var, env var not set, unknown step,
/// a step output read without needing that step, an output the kind does not publish).
void ValidatePlan(const Plan& plan, const Dag& dag, const KindRegistry& kinds, const Json& vars, Diagnostics& diag);

/// The position of a reference inside a string value at `loc`: the column moves to the "{{"
/// when the value sits on one line.
SourceLoc RefLoc(const SourceLoc& value_loc, const std::string& text, size_t offset, bool quoted);

}  // namespace slipway::pipeline
