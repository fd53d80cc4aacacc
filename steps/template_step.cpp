#include "steps/template_step.h"

#include <fstream>
#include <sstream>

#include "pipeline/atomic_file.h"
#include "steps/manifest.h"
#include "steps/with.h"

namespace slipway::steps {

namespace {

std::optional<std::string> ReadText(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// "templates/demo/x" or "demo/x" come from the shipped templates directory unless the plan has them.
std::filesystem::path Source(const pipeline::StepContext& ctx) { return LocalOrShipped(ctx, GetString(ctx.With(), "src")); }

Expected<std::string> Rendered(const pipeline::StepContext& ctx) {
  auto src = Source(ctx);
  auto text = ReadText(src);
  if (!text) return Fail("template source " + GetString(ctx.With(), "src") + " not found (looked at " + src.string() + ")");
  return RenderMustache(*text, TemplateData(ctx), src.string());
}

unsigned Mode(const pipeline::StepContext& ctx) {
  return static_cast<unsigned>(std::stoul(GetString(ctx.With(), "mode", "0644"), nullptr, 8));
}

}  // namespace

std::vector<std::filesystem::path> TemplateStep::ReferencedFiles(const pipeline::StepSpec&, const Json& rendered,
                                                                 const std::filesystem::path& plan_dir) const {
  return {Source(BodyContext(rendered, plan_dir))};
}

void TemplateStep::Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const {
  CheckWithKeys(step, diag, {"src", "dest", "values", "mode"}, {"src", "dest"});
  auto w = step.body.value("with", Json::object());
  if (w.contains("mode")) {
    std::string m = pipeline::ValueText(w["mode"]);
    if (m.empty() || m.find_first_not_of("01234567") != std::string::npos || m.size() > 4)
      diag.Error(step.LocOf("/with/mode"), "expected 'with.mode' to be an octal mode such as \"0644\"");
  }
}

std::vector<std::string> TemplateStep::Describe(const pipeline::StepContext& ctx) const {
  std::string dest = GetString(ctx.With(), "dest");
  auto text = Rendered(ctx);
  if (!text) return {"render " + GetString(ctx.With(), "src") + " -> " + dest, "error: " + text.error().message};
  return {"render " + Source(ctx).string() + " -> " + dest + ":", *text};
}

Expected<pipeline::Probe> TemplateStep::Check(const pipeline::StepContext& ctx) const {
  auto text = Rendered(ctx);
  if (!text) return tl::unexpected(text.error());
  auto dest = ctx.Resolve(GetString(ctx.With(), "dest"));
  auto current = ReadText(dest);
  if (current && *current == *text)
    return pipeline::Probe{pipeline::Probe::State::kInSync, dest.string() + " is up to date", {{"path", dest.string()}}};
  return pipeline::Probe{pipeline::Probe::State::kChanges,
                         current ? "would update " + dest.string() : "would create " + dest.string()};
}

Expected<pipeline::ApplyResult> TemplateStep::Apply(const pipeline::StepContext& ctx) const {
  auto text = Rendered(ctx);
  if (!text) return tl::unexpected(text.error());
  auto dest = ctx.Resolve(GetString(ctx.With(), "dest"));
  auto previous = ReadText(dest);
  std::error_code ec;
  std::filesystem::create_directories(dest.parent_path(), ec);
  if (auto w = pipeline::WriteFileAtomically(dest, *text, Mode(ctx)); !w) return tl::unexpected(w.error());
  pipeline::ApplyResult out;
  out.outputs = {{"path", dest.string()}};
  out.rollback = Json{{"path", dest.string()}, {"previous", previous ? Json(*previous) : Json(nullptr)}};
  out.summary = (previous ? "updated " : "created ") + dest.string();
  return out;
}

Expected<void> TemplateStep::Rollback(const pipeline::StepContext& ctx, const Json& data) const {
  (void)ctx;
  std::filesystem::path path = data.value("path", "");
  if (data.contains("previous") && data["previous"].is_string())
    return pipeline::WriteFileAtomically(path, data["previous"].get<std::string>(), 0644);
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (ec) return Fail("cannot remove " + path.string() + ": " + ec.message());
  return {};
}

}  // namespace slipway::steps
