#include "steps/report.h"

#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "pipeline/atomic_file.h"
#include "steps/report_junit.h"
#include "steps/report_model.h"
#include "steps/report_render.h"
#include "steps/with.h"

namespace slipway::steps {

namespace fs = std::filesystem;

namespace {

/// Every format, in the order they are written and listed.
const std::vector<std::string> kFormats = {"markdown", "json", "junit", "html"};

std::string FileOf(const std::string& format) {
  if (format == "markdown") return "report.md";
  if (format == "json") return "report.json";
  if (format == "junit") return "junit.xml";
  return "report.html";
}

std::string FormatHint(const std::string& name) {
  std::string near = pipeline::ClosestMatch(name, kFormats);
  if (!near.empty()) return "did you mean '" + near + "'?";
  return "expected one of: markdown, json, junit, html";
}

/// The formats asked for, deduplicated, in kFormats order; an error naming an unknown one.
Expected<std::vector<std::string>> Formats(const Json& with) {
  if (!with.contains("formats")) return kFormats;
  std::vector<std::string> asked = GetStringList(with, "formats");
  if (asked.empty()) return Fail("with.formats: give at least one of markdown, json, junit, html");
  for (const auto& f : asked) {
    bool known = false;
    for (const auto& k : kFormats) known = known || k == f;
    if (!known) return Fail("with.formats: unknown report format '" + f + "'; " + FormatHint(f));
  }
  std::vector<std::string> out;
  for (const auto& k : kFormats)
    for (const auto& f : asked)
      if (f == k) {
        out.push_back(k);
        break;
      }
  return out;
}

std::string JoinFormats(const std::vector<std::string>& formats) {
  std::string s;
  for (const auto& f : formats) s += (s.empty() ? "" : ", ") + f;
  return s;
}

/// A path component from a plan name or run id: letters, digits, '.', '_', '-'; no leading dot.
std::string SafeName(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '-';
  if (out.empty()) return "unnamed";
  if (out[0] == '.') out[0] = '_';
  return out;
}

std::string Timestamp(std::chrono::system_clock::time_point t) {
  std::time_t now = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

/// Points <dir>/latest at `target` (a name inside dir): a temp symlink renamed over it, so a reader
/// sees the old or the new link, never none.
Expected<void> PointLatest(const fs::path& dir, const std::string& target) {
  static std::atomic<unsigned> counter{0};
  fs::path link = dir / "latest";
  fs::path tmp = dir / (".latest.tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++));
  ::unlink(tmp.c_str());
  if (::symlink(target.c_str(), tmp.c_str()) != 0)
    return Fail("cannot create the symlink " + tmp.string() + ": " + std::strerror(errno));
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Fail("cannot replace " + link.string() + ": " + std::strerror(err));
  }
  (void)pipeline::SyncDirectory(dir);  // durability of a convenience link is best effort
  return {};
}

std::string PlanName(const pipeline::StepContext& ctx) {
  if (ctx.run && !ctx.run->plan_name.empty()) return ctx.run->plan_name;
  if (ctx.plan && !ctx.plan->name.empty()) return ctx.plan->name;
  return "plan";
}

}  // namespace

void ReportStep::Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const {
  CheckWithKeys(step, diag, {"formats", "dir", "title"});
  auto with = step.body.find("with");
  if (with == step.body.end() || !with->is_object()) return;
  if (auto f = with->find("formats"); f != with->end()) {
    auto check = [&](const Json& v, const std::string& pointer) {
      if (!v.is_string()) {
        diag.Error(step.LocOf(pointer), "a report format must be a name",
                   "expected one of: markdown, json, junit, html");
        return;
      }
      const std::string name = v.get<std::string>();
      if (pipeline::HasTemplate(name)) return;
      bool known = false;
      for (const auto& k : kFormats) known = known || k == name;
      if (!known) diag.Error(step.LocOf(pointer), "unknown report format '" + name + "'", FormatHint(name));
    };
    if (f->is_array()) {
      if (f->empty())
        diag.Error(step.LocOf("/with/formats"), "'with.formats' is empty",
                   "give at least one of: markdown, json, junit, html (or leave it out for all)");
      for (size_t i = 0; i < f->size(); ++i) check((*f)[i], "/with/formats/" + std::to_string(i));
    } else if (f->is_string()) {
      check(*f, "/with/formats");
    } else {
      diag.Error(step.LocOf("/with/formats"), "'with.formats' must be a list of format names",
                 "expected e.g. [markdown, json, junit, html]");
    }
  }
  if (auto d = with->find("dir"); d != with->end() && (!d->is_string() || d->get<std::string>().empty()))
    diag.Error(step.LocOf("/with/dir"), "'with.dir' must be a directory path", "e.g. dir: reports");
  if (auto t = with->find("title"); t != with->end() && !(t->is_string() || t->is_number()))
    diag.Error(step.LocOf("/with/title"), "'with.title' must be text");
}

std::vector<std::string> ReportStep::Describe(const pipeline::StepContext& ctx) const {
  const Json& w = ctx.With();
  auto formats = Formats(w);
  if (!formats) return {"cannot write the report: " + formats.error().message};
  // Always the placeholder: a dry run has no run of its own, and its output must be stable.
  const std::string run_id = "<run id>";
  std::string dir = GetString(w, "dir", "reports");
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return {"write " + JoinFormats(*formats) + " to " + dir + "/" + SafeName(PlanName(ctx)) + "-" + run_id + "/"};
}

Expected<pipeline::ApplyResult> ReportStep::Apply(const pipeline::StepContext& ctx) const {
  const Json& w = ctx.With();
  auto formats = Formats(w);
  if (!formats) return tl::unexpected(formats.error());
  if (!ctx.run || !ctx.run->steps)
    return Fail("the report kind needs a run to report on (it runs inside `slipway apply`)");
  const auto now = std::chrono::system_clock::now();
  const std::string plan = PlanName(ctx);
  const std::string run_id = ctx.run->run_id.empty() ? Timestamp(now) : ctx.run->run_id;

  report::ReportInput in;
  in.title = GetString(w, "title", "slipway report: " + plan);
  in.plan = plan;
  in.plan_file = ctx.run->plan_file;
  in.run_id = run_id;
  in.started = ctx.run->started;
  in.finished = now;
  in.masker = ctx.masker;
  const std::string self = ctx.spec ? ctx.spec->id : "";
  for (auto& s : ctx.run->steps())
    if (s.id != self) in.steps.push_back(std::move(s));

  Json model;
  try {
    model = report::BuildReport(in);
  } catch (const std::exception& e) {
    return Fail(std::string("building the report: ") + e.what());
  }

  const fs::path base = ctx.Resolve(GetString(w, "dir", "reports"));
  const std::string name = SafeName(plan) + "-" + SafeName(run_id);
  std::error_code ec;
  const fs::path out_dir = fs::absolute(base / name, ec).lexically_normal();
  fs::create_directories(out_dir, ec);
  if (ec) return Fail("cannot create the report directory " + out_dir.string() + ": " + ec.message());

  auto mask = [&](std::string text) { return ctx.masker ? ctx.masker->Mask(std::move(text)) : text; };
  std::optional<Expected<fs::path>> templates;  // looked up once, only when a template is needed
  auto templates_dir = [&]() -> const Expected<fs::path>& {
    if (!templates) templates = report::FindTemplatesDir();
    return *templates;
  };

  pipeline::ApplyResult result;
  for (const auto& f : kFormats) result.outputs[f] = "";
  std::vector<std::string> problems, written;
  for (const auto& format : *formats) {
    Expected<std::string> text = std::string();
    try {
      if (format == "json") {
        text = model.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
      } else if (format == "junit") {
        text = report::RenderJunit(model);
      } else if (!templates_dir()) {
        text = tl::unexpected(templates_dir().error());
      } else if (format == "markdown") {
        text = report::RenderMarkdown(model, *templates_dir());
      } else {
        text = report::RenderHtml(model, *templates_dir());
      }
    } catch (const std::exception& e) {
      text = Fail(e.what());
    }
    if (!text) {
      problems.push_back(format + ": " + text.error().message);
      continue;
    }
    const fs::path file = out_dir / FileOf(format);
    auto ok = pipeline::WriteFileAtomically(file, mask(std::move(*text)), 0644);
    if (!ok) {
      problems.push_back(format + ": " + ok.error().message);
      continue;
    }
    result.outputs[format] = file.string();
    written.push_back(format);
  }
  if (auto linked = PointLatest(out_dir.parent_path(), name); !linked)
    ctx.Log("report: " + linked.error().message, pipeline::Level::kWarn);

  const std::string status = model.value("status", "succeeded");
  result.outputs["dir"] = out_dir.string();
  result.outputs["status"] = status;
  result.outputs["p95_ms"] = model["p95_ms"].is_number() ? report::FormatNumber(model["p95_ms"].get<double>(), 3) : "";
  result.outputs["slo_score"] =
      model["slo_score"].is_number() ? report::FormatNumber(model["slo_score"].get<double>(), 3) : "";
  if (!problems.empty()) {
    std::string msg = "report: could not write ";
    for (size_t i = 0; i < problems.size(); ++i) msg += (i ? "; " : "") + problems[i];
    if (!written.empty()) msg += " (wrote " + JoinFormats(written) + " to " + out_dir.string() + ")";
    return Fail(msg);
  }
  result.summary =
      std::string(status == "failed" ? "FAIL" : "PASS") + ": wrote " + JoinFormats(written) + " to " + out_dir.string();
  ctx.Log("report written to " + out_dir.string());
  return result;
}

}  // namespace slipway::steps
