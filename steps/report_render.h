#pragma once
// Markdown and HTML renderings of a report, from the mustache templates in templates/report/
// (report.md.mustache, report.html.mustache). The templates see a "view": the report JSON with every
// number already formatted for people, plus the inline SVG charts for the HTML.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/error.h"

namespace slipway::steps::report {

/// The templates root (the directory holding report/report.html.mustache): $SLIPWAY_TEMPLATES if set,
/// else <dir of /proc/self/exe>/../share/slipway/templates, else the source tree's templates/ (when
/// built with SLIPWAY_SOURCE_TEMPLATES). An error naming the places looked at when none has them.
Expected<std::filesystem::path> FindTemplatesDir();

/// The view the templates render (exposed for tests): strings ready to show, has_* flags for sections.
nlohmann::json BuildView(const nlohmann::json& report, bool with_charts);

/// The report as GitHub-flavoured Markdown (what $GITHUB_STEP_SUMMARY shows). Fails when the template
/// cannot be read or parsed.
Expected<std::string> RenderMarkdown(const nlohmann::json& report, const std::filesystem::path& templates_dir);

/// The report as one self-contained HTML page (inline CSS and SVG, no script, no external assets).
Expected<std::string> RenderHtml(const nlohmann::json& report, const std::filesystem::path& templates_dir);

/// `s` escaped for a GitHub Markdown table cell: one line, | and Markdown punctuation backslashed,
/// < > & as entities.
std::string EscapeMarkdown(const std::string& s);

}  // namespace slipway::steps::report
