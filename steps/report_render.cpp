#include "steps/report_render.h"

#include <cstdlib>
#include <fstream>
#include <kainjow/mustache.hpp>
#include <sstream>

#include "steps/report_model.h"
#include "steps/report_svg.h"

namespace slipway::steps::report {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kNa = "n/a";
constexpr const char* kHtmlTemplate = "report/report.html.mustache";
constexpr const char* kMarkdownTemplate = "report/report.md.mustache";

bool HasTemplates(const fs::path& dir) {
  std::error_code ec;
  return !dir.empty() && fs::is_regular_file(dir / kHtmlTemplate, ec) &&
         fs::is_regular_file(dir / kMarkdownTemplate, ec);
}

std::string OneLine(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\r') continue;
    out += c == '\n' || c == '\t' ? ' ' : c;
  }
  return out;
}

std::string Cut(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "\xE2\x80\xA6";
}

/// A CSS class suffix from a status or result: lower-case letters, digits and dashes only.
std::string ClassName(const std::string& s) {
  std::string out;
  for (char c : s)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? static_cast<char>(std::tolower(c)) : '-';
  return out.empty() ? "unknown" : out;
}

std::string Or(const std::optional<double>& v, const std::function<std::string(double)>& f) { return v ? f(*v) : kNa; }

std::string Count(const std::optional<double>& v) {
  return Or(v, [](double x) { return FormatNumber(x, 0); });
}

std::string Ms(const std::optional<double>& v) {
  return Or(v, [](double x) { return FormatMs(x); });
}

std::string Percent(const std::optional<double>& v, int decimals = 1) {
  return Or(v, [decimals](double x) { return FormatNumber(x, decimals) + "%"; });
}

/// A threshold's measured value or limit, in the metric's unit: milliseconds for durations.
std::string ThresholdValue(const json& t, const char* key) {
  auto v = NumberAt(t, key);
  if (!v) return kNa;
  return TextAt(t, "metric").find("duration") != std::string::npos ? FormatMs(*v) : FormatNumber(*v, 4);
}

struct ResultLook {
  std::string label, css;
};

ResultLook Look(const std::string& result) {
  if (result == "pass") return {"PASS", "pass"};
  if (result == "warning") return {"WARNING", "warn"};
  if (result == "fail") return {"FAIL", "fail"};
  if (result.empty()) return {kNa, "na"};
  return {result, "na"};
}

/// Step counts per status, in reading order (successes, failures, the rest), as (status, n).
std::vector<std::pair<std::string, int>> OrderedCounts(const json& counts) {
  static const char* kOrder[] = {"succeeded",   "unchanged", "failed",  "interrupted", "rollback-failed",
                                 "rolled-back", "skipped",   "running", "pending",     "would-run"};
  std::vector<std::pair<std::string, int>> out;
  for (const char* k : kOrder)
    if (counts.contains(k)) out.emplace_back(k, counts[k].get<int>());
  for (auto it = counts.begin(); it != counts.end(); ++it) {
    bool known = false;
    for (const char* k : kOrder) known = known || it.key() == k;
    if (!known) out.emplace_back(it.key(), it.value().get<int>());
  }
  return out;
}

std::string CountsText(const json& counts) {
  std::string out;
  for (const auto& [name, n] : OrderedCounts(counts)) out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + name;
  return out;
}

/// "2024-05-01T12:00:00.123Z" as "2024-05-01 12:00:00 UTC" for people.
std::string PeopleTime(const std::string& iso) {
  if (iso.size() < 19) return iso.empty() ? std::string(kNa) : iso;
  return iso.substr(0, 10) + " " + iso.substr(11, 8) + " UTC";
}

json StepView(const json& s) {
  const std::string status = TextAt(s, "status"), reason = TextAt(s, "reason");
  auto off = NumberAt(s, "start_offset_ms"), dur = NumberAt(s, "duration_ms");
  std::string needs;
  for (const auto& n : s.value("needs", json::array())) needs += (needs.empty() ? "" : ", ") + n.get<std::string>();
  return {{"id", TextAt(s, "id")},
          {"kind", TextAt(s, "kind")},
          {"description", TextAt(s, "description")},
          {"has_description", !TextAt(s, "description").empty()},
          {"status", status},
          {"status_class", ClassName(status)},
          {"is_failure", IsFailure(status)},
          {"start", off ? "+" + FormatMillis(*off) : std::string("-")},
          {"duration", dur ? FormatMillis(*dur) : std::string("-")},
          {"attempts", TextAt(s, "attempts")},
          {"reason", Cut(reason, 4000)},
          {"reason_short", Cut(OneLine(reason), 160)},
          {"needs", needs}};
}

json LoadTestView(const json& lt, bool with_charts) {
  const json lat = lt.value("latency_ms", json::object());
  json v = {{"step", TextAt(lt, "step")},
            {"status", TextAt(lt, "status")},
            {"status_class", ClassName(TextAt(lt, "status"))},
            {"has_error", lt.contains("error")},
            {"error", TextAt(lt, "error")},
            {"executor", TextAt(lt, "executor").empty() ? std::string(kNa) : TextAt(lt, "executor")},
            {"requests", Count(NumberAt(lt, "requests"))},
            {"rps", Or(NumberAt(lt, "rps"), [](double x) { return FormatNumber(x, 1); })},
            {"errors", Count(NumberAt(lt, "errors"))},
            {"error_rate", Or(NumberAt(lt, "error_rate"), [](double x) { return FormatRate(x); })},
            {"dropped", Count(NumberAt(lt, "dropped"))},
            {"duration", Or(NumberAt(lt, "duration_s"), [](double x) { return FormatMillis(x * 1000); })}};
  for (const char* k : {"min", "mean", "p50", "p90", "p95", "p99", "p999", "max"}) v[k] = Ms(NumberAt(lat, k));

  json thresholds = json::array();
  int failed = 0;
  std::vector<std::pair<std::string, double>> latency_limits;
  for (const auto& t : lt.value("thresholds", json::array())) {
    const json& ok = t["ok"];
    std::string result = ok == true ? "pass" : ok == false ? "fail" : "";
    failed += ok == false;
    ResultLook look = Look(result);
    thresholds.push_back({{"metric", TextAt(t, "metric")},
                          {"expr", TextAt(t, "expr")},
                          {"measured", ThresholdValue(t, "measured")},
                          {"limit", ThresholdValue(t, "limit")},
                          {"result", look.label},
                          {"result_class", look.css},
                          {"is_fail", result == "fail"}});
    if (auto limit = NumberAt(t, "limit"); limit && TextAt(t, "metric").find("duration") != std::string::npos)
      latency_limits.emplace_back(TextAt(t, "expr"), *limit);
  }
  v["has_thresholds"] = !thresholds.empty();
  v["thresholds"] = thresholds;
  v["thresholds_summary"] = thresholds.empty() ? std::string("no thresholds")
                            : failed == 0
                                ? "all " + std::to_string(thresholds.size()) + " met"
                                : std::to_string(failed) + " of " + std::to_string(thresholds.size()) + " not met";
  v["thresholds_class"] = thresholds.empty() ? "na" : failed == 0 ? "pass" : "fail";

  json by_request = json::array();
  const json br = lt.value("by_request", json::object());
  for (auto it = br.begin(); it != br.end(); ++it) {
    const json& r = it.value();
    const json rl = r.value("latency_ms", json::object());
    by_request.push_back({{"name", it.key()},
                          {"requests", Count(NumberAt(r, "requests"))},
                          {"errors", Count(NumberAt(r, "errors"))},
                          {"error_rate", Or(NumberAt(r, "error_rate"), [](double x) { return FormatRate(x); })},
                          {"p50", Ms(NumberAt(rl, "p50"))},
                          {"p95", Ms(NumberAt(rl, "p95"))},
                          {"p99", Ms(NumberAt(rl, "p99"))},
                          {"max", Ms(NumberAt(rl, "max"))}});
  }
  v["has_by_request"] = by_request.size() > 1;  // one request type repeats the totals above
  v["by_request"] = by_request;

  if (with_charts) {
    v["percentiles_svg"] = PercentileSvg(lt);
    LineChart rate{"time (s)", "requests / s", {}, {}, {}};
    LineChart latency{"time (s)", "latency (ms)", {}, latency_limits, {}};
    ChartLine req{"requests/s", "#0969da", {}, true}, err{"errors/s", "#cf222e", {}, false};
    ChartLine p50{"p50", "#54aeff", {}, false}, p95{"p95", "#0550ae", {}, true}, p99{"p99", "#8250df", {}, false};
    bool any_error = false;
    for (const auto& p : lt.value("series", json::array())) {
      auto t = NumberAt(p, "t");
      if (!t) continue;
      if (auto n = NumberAt(p, "requests")) req.points.emplace_back(*t, *n);
      if (auto n = NumberAt(p, "errors")) {
        err.points.emplace_back(*t, *n);
        any_error = any_error || *n > 0;
      }
      if (auto n = NumberAt(p, "p50_ms")) p50.points.emplace_back(*t, *n);
      if (auto n = NumberAt(p, "p95_ms")) p95.points.emplace_back(*t, *n);
      if (auto n = NumberAt(p, "p99_ms")) p99.points.emplace_back(*t, *n);
    }
    rate.lines.push_back(req);
    if (any_error) rate.lines.push_back(err);
    latency.lines = {p50, p95, p99};
    v["throughput_svg"] = LineChartSvg(rate);
    v["latency_svg"] = LineChartSvg(latency);
    v["has_percentiles_svg"] = !v["percentiles_svg"].get<std::string>().empty();
    v["has_series"] = !v["throughput_svg"].get<std::string>().empty() || !v["latency_svg"].get<std::string>().empty();
    v["has_throughput_svg"] = !v["throughput_svg"].get<std::string>().empty();
    v["has_latency_svg"] = !v["latency_svg"].get<std::string>().empty();
  }
  return v;
}

json SloView(const json& slo) {
  ResultLook look = Look(TextAt(slo, "result"));
  const json gate = slo.value("gate", json::object());
  json v = {{"step", TextAt(slo, "step")},
            {"status", TextAt(slo, "status")},
            {"has_error", slo.contains("error")},
            {"error", TextAt(slo, "error")},
            {"result_label", look.label},
            {"result_class", look.css},
            {"score", Percent(NumberAt(slo, "score"))},
            {"has_gate", NumberAt(gate, "pass").has_value() || NumberAt(gate, "warning").has_value()},
            {"gate_pass", Percent(NumberAt(gate, "pass"))},
            {"gate_warning", Percent(NumberAt(gate, "warning"))}};
  json objectives = json::array();
  for (const auto& o : slo.value("objectives", json::array())) {
    ResultLook ol = Look(TextAt(o, "result"));
    std::string unit = TextAt(o, "unit");
    std::string value = o["value"].is_null() ? std::string(kNa) : CellText(o["value"]);
    if (!o["value"].is_null() && !unit.empty()) value += (unit == "%" ? "" : " ") + unit;
    objectives.push_back({{"name", TextAt(o, "name")},
                          {"source", TextAt(o, "source")},
                          {"query", TextAt(o, "query")},
                          {"has_query", !TextAt(o, "query").empty()},
                          {"value", value},
                          {"target", o["target"].is_null() ? std::string(kNa) : CellText(o["target"])},
                          {"weight", o["weight"].is_null() ? std::string("1") : CellText(o["weight"])},
                          {"key", o["key"] == true},
                          {"result", ol.label},
                          {"result_class", ol.css},
                          {"is_fail", ol.css == "fail"},
                          {"message", TextAt(o, "message")}});
  }
  v["has_objectives"] = !objectives.empty();
  v["objectives"] = objectives;
  const json& b = slo.contains("error_budget") ? slo["error_budget"] : json(nullptr);
  v["has_budget"] = b.is_object();
  if (b.is_object()) {
    auto consumed = NumberAt(b, "consumed_percent");
    auto remaining = NumberAt(b, "remaining_percent");
    if (!consumed && remaining) consumed = 100 - *remaining;
    double width = consumed ? std::clamp(*consumed, 0.0, 100.0) : 0;
    std::string freeze = b["freeze"].is_null() ? std::string(kNa) : b["freeze"] == true ? "on" : "off";
    v["budget"] = {{"objective", TextAt(b, "objective").empty() ? std::string(kNa) : TextAt(b, "objective")},
                   {"period", TextAt(b, "period").empty() ? std::string(kNa) : TextAt(b, "period")},
                   {"consumed", Percent(consumed)},
                   {"remaining", Percent(remaining)},
                   {"burn_rate", Or(NumberAt(b, "burn_rate"), [](double x) { return FormatNumber(x, 2) + "x"; })},
                   {"freeze", freeze},
                   {"bar_width", FormatNumber(width, 1)},
                   {"bar_class", !consumed          ? "na"
                                 : *consumed >= 100 ? "fail"
                                 : *consumed >= 75  ? "warn"
                                                    : "pass"}};
  }
  return v;
}

kainjow::mustache::data ToData(const json& j) {
  using Data = kainjow::mustache::data;
  if (j.is_object()) {
    Data d{Data::type::object};
    for (auto it = j.begin(); it != j.end(); ++it) d.set(it.key(), ToData(it.value()));
    return d;
  }
  if (j.is_array()) {
    Data list{Data::type::list};
    for (const auto& v : j) list.push_back(ToData(v));
    return list;
  }
  if (j.is_boolean()) return Data(j.get<bool>());
  if (j.is_null()) return Data(false);
  if (j.is_string()) return Data(j.get<std::string>());
  return Data(CellText(j));
}

Expected<std::string> Render(const fs::path& file, const json& view,
                             const std::function<std::string(const std::string&)>& escape) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Fail("cannot read the report template " + file.string());
  std::stringstream text;
  text << in.rdbuf();
  kainjow::mustache::mustache tmpl(text.str());
  if (!tmpl.is_valid()) return Fail(file.string() + ": " + tmpl.error_message());
  if (escape) tmpl.set_custom_escape(escape);
  std::string out = tmpl.render(ToData(view));
  if (!tmpl.is_valid()) return Fail(file.string() + ": " + tmpl.error_message());
  // The template's leading comment leaves a line break; <!DOCTYPE html> must open the page.
  out.erase(0, out.find_first_not_of(" \t\r\n") == std::string::npos ? out.size() : out.find_first_not_of(" \t\r\n"));
  return out;
}

}  // namespace

Expected<fs::path> FindTemplatesDir() {
  if (const char* env = std::getenv("SLIPWAY_TEMPLATES"); env && *env) {
    if (HasTemplates(env)) return fs::path(env);
    return Fail(std::string("SLIPWAY_TEMPLATES=") + env + " does not hold " + kHtmlTemplate + " and " +
                kMarkdownTemplate);
  }
  std::vector<fs::path> looked;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path installed = (exe.parent_path() / ".." / "share" / "slipway" / "templates").lexically_normal();
    if (HasTemplates(installed)) return installed;
    looked.push_back(installed);
  }
#ifdef SLIPWAY_SOURCE_TEMPLATES
  fs::path source = SLIPWAY_SOURCE_TEMPLATES;
  if (HasTemplates(source)) return source;
  looked.push_back(source);
#endif
  std::string where;
  for (const auto& p : looked) where += (where.empty() ? "" : ", ") + p.string();
  return Fail(std::string("report templates not found (looked in ") + (where.empty() ? "nowhere" : where) +
              "); set SLIPWAY_TEMPLATES to the directory holding " + kHtmlTemplate);
}

std::string EscapeMarkdown(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (char c : s) {
    switch (c) {
      case '\r':
        break;
      case '\n':
      case '\t':
        out += ' ';
        break;
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '|':
      case '\\':
      case '`':
      case '*':
      case '_':
      case '[':
      case ']':
      case '~':
        out += '\\';
        out += c;
        break;
      default:
        out += c;
    }
  }
  return out;
}

json BuildView(const json& report, bool with_charts) {
  const bool failed = TextAt(report, "status") == "failed";
  json v = {{"title", TextAt(report, "title")},
            {"plan", TextAt(report, "plan")},
            {"plan_file", TextAt(report, "plan_file")},
            {"has_plan_file", !TextAt(report, "plan_file").empty()},
            {"run_id", TextAt(report, "run_id").empty() ? std::string(kNa) : TextAt(report, "run_id")},
            {"started", PeopleTime(TextAt(report, "started"))},
            {"finished", PeopleTime(TextAt(report, "finished"))},
            {"duration", FormatMillis(NumberAt(report, "duration_ms").value_or(0))},
            {"status", TextAt(report, "status")},
            {"status_label", failed ? "FAIL" : "PASS"},
            {"status_class", failed ? "fail" : "pass"},
            {"counts_text", CountsText(report.value("counts", json::object()))}};
  json steps = json::array();
  for (const auto& s : report.value("steps", json::array())) steps.push_back(StepView(s));
  v["step_count"] = std::to_string(steps.size());
  v["has_steps"] = !steps.empty();
  v["steps"] = steps;
  json counts = json::array();
  for (const auto& [name, n] : OrderedCounts(report.value("counts", json::object())))
    counts.push_back({{"name", name}, {"n", std::to_string(n)}, {"color", StatusColor(name)}});
  v["counts"] = counts;
  json loadtests = json::array();
  for (const auto& lt : report.value("loadtests", json::array())) loadtests.push_back(LoadTestView(lt, with_charts));
  v["has_loadtests"] = !loadtests.empty();
  v["loadtests"] = loadtests;
  json slos = json::array();
  for (const auto& s : report.value("slos", json::array())) slos.push_back(SloView(s));
  v["has_slos"] = !slos.empty();
  v["slos"] = slos;
  if (with_charts) v["timeline_svg"] = TimelineSvg(report);
  return v;
}

Expected<std::string> RenderMarkdown(const json& report, const fs::path& templates_dir) {
  auto text = Render(templates_dir / kMarkdownTemplate, BuildView(report, false), EscapeMarkdown);
  if (!text) return text;
  // Sections that render nothing leave their line breaks behind; Markdown needs at most one blank line.
  std::string out;
  out.reserve(text->size());
  size_t newlines = 0;
  for (char c : *text) {
    newlines = c == '\n' ? newlines + 1 : 0;
    if (newlines > 2 || (c == '\n' && out.empty())) continue;
    out += c;
  }
  while (out.size() >= 2 && out.substr(out.size() - 2) == "\n\n") out.pop_back();
  return out;
}

Expected<std::string> RenderHtml(const json& report, const fs::path& templates_dir) {
  return Render(templates_dir / kHtmlTemplate, BuildView(report, true), {});
}

}  // namespace slipway::steps::report
