#pragma once
// Reading a kind's `with:` safely: typed getters that accept what templating produces (a number
// may arrive as the string "200"), and load-time checks that name the key and its position.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/diagnostics.h"
#include "pipeline/plan.h"
#include "pipeline/template.h"

namespace slipway::steps {

using pipeline::Json;

/// Load-time checks of a `with:` block: unknown keys (with a suggestion) and required keys.
void CheckWithKeys(const pipeline::StepSpec& step, pipeline::Diagnostics& diag, const std::vector<std::string>& allowed,
                   const std::vector<std::string>& required = {});

std::string GetString(const Json& with, const std::string& key, const std::string& fallback = "");
std::optional<double> GetNumber(const Json& with, const std::string& key);
bool GetBool(const Json& with, const std::string& key, bool fallback);
/// A duration given as "30s" (or a number of seconds).
std::chrono::milliseconds GetDuration(const Json& with, const std::string& key, std::chrono::milliseconds fallback);
/// A string or a list of strings, as a list.
std::vector<std::string> GetStringList(const Json& with, const std::string& key);
/// A mapping of strings (labels, env, headers).
std::vector<std::pair<std::string, std::string>> GetStringMap(const Json& with, const std::string& key);

}  // namespace slipway::steps

namespace slipway::steps {
/// Load-time check that with.<key>, if present and not a template, is a valid duration.
void CheckWithDuration(const pipeline::StepSpec& step, pipeline::Diagnostics& diag, const std::string& key);
}  // namespace slipway::steps
