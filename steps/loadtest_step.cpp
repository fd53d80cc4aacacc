#include "steps/loadtest_step.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "pipeline/template.h"
#include "steps/loadtest/loadtest.h"

namespace slipway::steps {

namespace lt = slipway::steps::loadtest;
using pipeline::Json;

namespace {

bool HasPlanTemplates(const Json& v) {
  bool found = false;
  pipeline::ForEachReference(
      v, "", [&](const pipeline::Reference&, const std::string&) { found = true; },
      [&](const Error&, const std::string&) { found = true; });
  return found;
}

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

// Request bodies read from files are part of what the test sends.
std::vector<std::filesystem::path> LoadtestStep::ReferencedFiles(const pipeline::StepSpec&, const Json& rendered,
                                                                 const std::filesystem::path& plan_dir) const {
  std::vector<std::filesystem::path> out;
  const Json* requests = nullptr;
  if (auto w = rendered.find("with"); w != rendered.end() && w->is_object())
    if (auto r = w->find("requests"); r != w->end() && r->is_array()) requests = &*r;
  if (!requests) return out;
  for (const auto& r : *requests) {
    if (!r.is_object() || !r.contains("body_file") || !r["body_file"].is_string()) continue;
    std::filesystem::path p = r["body_file"].get<std::string>();
    out.push_back(p.is_absolute() || plan_dir.empty() ? p : plan_dir / p);
  }
  return out;
}

std::optional<std::vector<std::string>> LoadtestStep::Outputs(const pipeline::StepSpec&) const {
  return std::vector<std::string>{"summary_json", "p50_ms", "p90_ms", "p95_ms",  "p99_ms",  "max_ms",
                                  "rps",          "error_rate", "requests", "errors", "dropped", "thresholds_ok"};
}

void LoadtestStep::Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const {
  Json with = step.body.value("with", Json::object());
  // Values from templates are only known at run time; the engine checks them then.
  if (HasPlanTemplates(with)) return;
  auto cfg = lt::ParseConfig(with);
  if (!cfg) {
    // The engine's message starts with the key path ("with.requests[1].weight: ..."); point at that key.
    std::string msg = cfg.error().message;
    std::string pointer = "/with";
    if (msg.rfind("with.", 0) == 0) {
      std::string path = msg.substr(5, msg.find(':') - 5);
      std::string p;
      for (char c : path) p += (c == '.' || c == '[') ? '/' : (c == ']' ? '\0' : c);
      p.erase(std::remove(p.begin(), p.end(), '\0'), p.end());
      if (step.locs.count("/with/" + p)) pointer = "/with/" + p;
    }
    diag.Error(step.LocOf(pointer), msg);
  }
}

std::vector<std::string> LoadtestStep::Describe(const pipeline::StepContext& ctx) const {
  auto cfg = lt::ParseConfig(ctx.With());
  if (!cfg) return {"error: " + cfg.error().message};
  std::vector<std::string> lines;
  const Json& w = ctx.With();
  std::string shape = w.value("executor", "constant-vus");
  if (w.contains("rate")) shape += ", rate " + pipeline::ValueText(w["rate"]);
  if (w.contains("vus")) shape += ", " + pipeline::ValueText(w["vus"]) + " VUs";
  if (w.contains("duration")) shape += " for " + pipeline::ValueText(w["duration"]);
  if (w.contains("max_requests")) shape += ", at most " + pipeline::ValueText(w["max_requests"]) + " requests";
  lines.push_back("load test " + w.value("target", std::string("(absolute URLs)")) + ": " + shape);
  for (const auto& r : w.value("requests", Json::array()))
    lines.push_back("  request " + r.value("name", std::string("default")) + ": " + r.value("method", std::string("GET")) +
                    " " + r.value("path", r.value("url", std::string("/"))) +
                    (r.contains("weight") ? " (weight " + pipeline::ValueText(r["weight"]) + ")" : ""));
  if (w.contains("thresholds")) lines.push_back("  thresholds: " + w["thresholds"].dump());
  if (cfg->kubernetes) {
    lines.push_back("as a Kubernetes Indexed Job:");
    lines.push_back(lt::RenderKubernetesJob(*cfg));
  } else if (cfg->workers > 1) {
    lines.push_back("  in " + std::to_string(cfg->workers) + " local worker processes, results merged");
  }
  return lines;
}

Expected<pipeline::ApplyResult> LoadtestStep::Apply(const pipeline::StepContext& ctx) const {
  auto cfg = lt::ParseConfig(ctx.With());
  if (!cfg) return Fail(cfg.error().message);
  lt::Hooks hooks;
  hooks.cancel = ctx.cancel;
  hooks.on_progress = [&](const lt::Progress& p) { ctx.Log(lt::ProgressLine(p), pipeline::Level::kDebug); };
  auto result = lt::Run(*cfg, hooks);
  if (!result) return tl::unexpected(result.error());
  Json summary = lt::SummaryJson(*result);
  std::istringstream table(lt::SummaryTable(*result));
  for (std::string line; std::getline(table, line);) ctx.Log(line);
  const Json lat = summary.value("latency_ms", Json::object());
  std::map<std::string, std::string> outputs{
      {"summary_json", summary.dump()},
      {"p50_ms", Number(lat.value("p50", 0.0))},
      {"p90_ms", Number(lat.value("p90", 0.0))},
      {"p95_ms", Number(lat.value("p95", 0.0))},
      {"p99_ms", Number(lat.value("p99", 0.0))},
      {"max_ms", Number(lat.value("max", 0.0))},
      {"rps", Number(summary.value("rps", 0.0))},
      {"error_rate", Number(summary.value("error_rate", 0.0))},
      {"requests", std::to_string(summary.value("requests", std::uint64_t{0}))},
      {"errors", std::to_string(summary.value("errors", std::uint64_t{0}))},
      {"dropped", std::to_string(summary.value("dropped", std::uint64_t{0}))},
      {"thresholds_ok", result->ThresholdsOk() ? "true" : "false"}};
  if (!result->ThresholdsOk()) {
    ctx.partial_outputs = outputs;
    std::string failed;
    for (const auto& t : summary.value("thresholds", Json::array()))
      if (!t.value("ok", true))
        failed += "\n  " + t.value("metric", std::string()) + " " + t.value("expr", std::string()) + ": measured " +
                  pipeline::ValueText(t.value("measured", Json())) + ", limit " + pipeline::ValueText(t.value("limit", Json()));
    return Fail("load test thresholds failed:" + failed);
  }
  pipeline::ApplyResult out;
  out.outputs = std::move(outputs);
  out.summary = std::to_string(summary.value("requests", std::uint64_t{0})) + " requests, p95 " +
                out.outputs["p95_ms"] + " ms, " + out.outputs["rps"] + " req/s, error rate " + out.outputs["error_rate"];
  return out;
}

}  // namespace slipway::steps
