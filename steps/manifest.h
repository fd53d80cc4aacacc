#pragma once
// Manifest templates: mustache (kainjow) with HTML escaping off, fed with the plan's vars and a
// step's `values`. Kubernetes documents are split and identified here too.

#include <filesystem>
#include <string>
#include <vector>

#include "pipeline/error.h"
#include "pipeline/plan.h"
#include "pipeline/step.h"

namespace slipway::steps {

using pipeline::Json;

/// Renders mustache text with `data` (objects become sections, lists iterate, values are
/// substituted verbatim). Errors name the template.
Expected<std::string> RenderMustache(const std::string& text, const Json& data, const std::string& name);

/// The data a step's templates see: every plan var at top level and under `vars`, then the step's
/// `with.values` over them.
Json TemplateData(const pipeline::StepContext& ctx);

/// Files matching the patterns (globs, relative to the plan directory), sorted, without duplicates.
/// A pattern matching nothing there that starts with `templates/` is looked up in the shipped
/// templates (TemplatesDir()), so installed plans find theirs. A pattern matching nothing is an error.
Expected<std::vector<std::filesystem::path>> ExpandGlobs(const pipeline::StepContext& ctx,
                                                         const std::vector<std::string>& patterns);

/// A StepContext that only knows a rendered body and the plan directory: enough for ExpandGlobs,
/// Resolve and With() when fingerprinting (StepKind::ReferencedFiles).
pipeline::StepContext BodyContext(const Json& rendered, const std::filesystem::path& plan_dir);

/// A path from the plan: relative to the plan directory when it exists there, else (for
/// `templates/x` or `x`) in the shipped templates directory.
std::filesystem::path LocalOrShipped(const pipeline::StepContext& ctx, const std::string& path);

/// Where slipway's shipped templates are: $SLIPWAY_TEMPLATES, else <exe>/../share/slipway/templates,
/// else the source tree's templates/.
std::filesystem::path TemplatesDir();

/// One Kubernetes object of a rendered manifest.
struct KubeObject {
  std::string api_version, kind, name, namespace_;
  std::string yaml;  // the document's text
  std::string Ref() const { return kind + "/" + name + (namespace_.empty() ? "" : " -n " + namespace_); }
};

/// Splits multi-document YAML into objects (skipping empty documents); errors name the document.
Expected<std::vector<KubeObject>> ParseManifests(const std::string& text, const std::string& default_namespace);

}  // namespace slipway::steps
