#pragma once
#include <optional>
#include <string>

#include <yaml-cpp/yaml.h>

#include "pipeline/diagnostics.h"
#include "pipeline/plan.h"

namespace slipway::pipeline {

/// Reads and parses a plan file. Structural problems (unknown keys, wrong types, bad durations,
/// duplicate ids) are added to `diag`, all of them; the returned plan holds whatever was understood.
/// Returns nullopt only when the file cannot be read or is not YAML at all.
std::optional<Plan> LoadPlanFile(const std::string& path, Diagnostics& diag);

/// As LoadPlanFile, from text already in memory; `file` names it in messages.
std::optional<Plan> LoadPlanText(const std::string& file, const std::string& text, Diagnostics& diag);

/// Converts a YAML node to JSON. Plain scalars become numbers/booleans/null where they look like
/// one (YAML 1.2 core schema); quoted scalars stay strings. Positions go into `locs` by JSON pointer.
Json YamlToJson(const YAML::Node& node, const std::string& file, const std::string& pointer, LocTable* locs);

/// The position of a yaml-cpp node, counted from 1.
SourceLoc LocOf(const YAML::Node& node, const std::string& file);

}  // namespace slipway::pipeline
