#pragma once
// Plan templating: "{{ vars.x }}", "{{ env.X }}", "{{ secrets.X }}", "{{ steps.ID.outputs.KEY }}".
// Values are substituted verbatim (no HTML escaping). A reference that cannot be resolved is an
// error, never an empty string. Kubernetes manifests use mustache (steps/); this is the plan's own,
// strict, smaller language.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/error.h"
#include "pipeline/plan.h"

namespace slipway::pipeline {

/// A parsed reference such as steps.build.outputs.image.
struct Reference {
  enum class Kind { kVar, kEnv, kSecret, kStepOutput };
  Kind kind = Kind::kVar;
  std::vector<std::string> path;  // vars: the var path; env/secrets: one name; steps: {id, key}
  std::string text;               // as written, trimmed: "vars.namespace"
  size_t offset = 0;              // of "{{" in the template text
};

/// A piece of a template: literal text or a reference.
struct Segment {
  std::string literal;
  std::optional<Reference> ref;
};

/// Parses one reference expression ("vars.x", "steps.a.outputs.b"). Errors say what is expected.
Expected<Reference> ParseReference(std::string_view expr);

/// True for "request.*", "worker.*" and "random.*": references the load-test engine fills in per
/// request. Plan rendering leaves them as they are.
bool IsRuntimeReference(std::string_view expr);

/// Splits a template into literals and references; fails on an unclosed "{{" or a bad reference.
Expected<std::vector<Segment>> ParseTemplate(std::string_view text);

/// True when the text contains a "{{".
inline bool HasTemplate(std::string_view text) { return text.find("{{") != std::string_view::npos; }

/// Resolves references while rendering. Implementations decide where values come from.
class Scope {
 public:
  virtual ~Scope() = default;
  /// The value of a reference, or an error naming what is unknown.
  virtual Expected<std::string> Lookup(const Reference& ref) const = 0;
};

/// Renders a template string.
Expected<std::string> RenderString(std::string_view text, const Scope& scope);

/// Renders every string in `value` (recursively, keys untouched). Errors carry the position of the
/// string they came from (from `locs`, by JSON pointer below `pointer`); all errors are collected.
Json RenderJson(const Json& value, const Scope& scope, const LocTable& locs, const std::string& pointer,
                std::vector<Error>& errors);

/// Visits every reference in every string of `value`, with the JSON pointer of the string.
void ForEachReference(const Json& value, const std::string& pointer,
                      const std::function<void(const Reference&, const std::string& pointer)>& visit,
                      const std::function<void(const Error&, const std::string& pointer)>& on_error);

/// Escapes a key for use in a JSON pointer ("~" -> "~0", "/" -> "~1").
std::string PointerEscape(std::string_view key);

/// Renders a JSON value as the text substituted for a reference: strings verbatim, the rest as JSON.
std::string ValueText(const Json& v);

}  // namespace slipway::pipeline
