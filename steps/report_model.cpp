#include "steps/report_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>

#include "pipeline/duration.h"

namespace slipway::steps::report {

using nlohmann::json;
using SysTime = std::chrono::system_clock::time_point;

namespace {

constexpr const char* kSummaryKey = "summary_json";  // a loadtest step's JSON summary
constexpr const char* kSloKey = "report_json";       // an slo step's verdict

/// Replaces bytes that are not valid UTF-8 with U+FFFD: step reasons can hold a command's raw output,
/// and nlohmann-json refuses to dump invalid UTF-8.
std::string ValidUtf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && len == 2) ok = c >= 0xC2;  // no overlong forms
    if (ok) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

class Cleaner {
 public:
  explicit Cleaner(const pipeline::Masker* masker) : masker_(masker) {}
  /// Masked, valid UTF-8.
  std::string Text(const std::string& s) const { return ValidUtf8(masker_ ? masker_->Mask(s) : s); }
  /// Every string and key in `j`, cleaned as Text() does.
  json Tree(const json& j) const {
    if (j.is_string()) return Text(j.get_ref<const std::string&>());
    if (j.is_array()) {
      json out = json::array();
      for (const auto& v : j) out.push_back(Tree(v));
      return out;
    }
    if (j.is_object()) {
      json out = json::object();
      for (auto it = j.begin(); it != j.end(); ++it) out[Text(it.key())] = Tree(it.value());
      return out;
    }
    return j;
  }

 private:
  const pipeline::Masker* masker_;
};

json NumOrNull(const json& j, const char* key) {
  auto v = NumberAt(j, key);
  return v ? json(*v) : json(nullptr);
}

json StrOrNull(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return nullptr;
  return TextAt(j, key);
}

json BoolOrNull(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return nullptr;
  const json& v = j[key];
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string()) return v == "true" || v == "yes" || v == "1";
  if (v.is_number()) return v.get<double>() != 0;
  return nullptr;
}

/// A scalar as given (number, string) or null: SLO targets are "< 200ms" as often as 99.9.
json ScalarOrNull(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return nullptr;
  const json& v = j[key];
  if (v.is_number() || v.is_string() || v.is_boolean()) return v;
  return nullptr;
}

json Latency(const json& src) {
  json out = json::object();
  for (const char* k : {"min", "mean", "p50", "p90", "p95", "p99", "p999", "max"}) out[k] = NumOrNull(src, k);
  return out;
}

json LatencyOf(const json& parent) {
  return Latency(parent.is_object() && parent.contains("latency_ms") ? parent["latency_ms"] : json::object());
}

json ParseProducerJson(const std::string& text, const Cleaner& clean, std::string& error) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    error = "not valid JSON";
    return json::object();
  }
  if (!j.is_object()) {
    error = "not a JSON object";
    return json::object();
  }
  return clean.Tree(j);
}

json LoadTestEntry(const pipeline::StepSnapshot& s, const std::string& text, const Cleaner& clean) {
  std::string error;
  json j = ParseProducerJson(text, clean, error);
  json e = {{"step", clean.Text(s.id)}, {"kind", clean.Text(s.kind)}, {"status", clean.Text(s.status)}};
  if (!error.empty()) e["error"] = "output summary_json: " + error;
  for (const char* k : {"requests", "rps", "errors", "error_rate", "dropped", "duration_s"}) e[k] = NumOrNull(j, k);
  e["executor"] = StrOrNull(j, "executor");
  e["latency_ms"] = LatencyOf(j);
  json thresholds = json::array();
  bool all_ok = true;
  if (j.contains("thresholds") && j["thresholds"].is_array()) {
    for (const auto& t : j["thresholds"]) {
      if (!t.is_object()) continue;
      json th = {{"metric", TextAt(t, "metric")},
                 {"expr", TextAt(t, "expr")},
                 {"measured", NumOrNull(t, "measured")},
                 {"limit", NumOrNull(t, "limit")},
                 {"ok", BoolOrNull(t, "ok")}};
      all_ok = all_ok && th["ok"] != false;
      thresholds.push_back(std::move(th));
    }
  }
  e["thresholds"] = thresholds;
  json ok = BoolOrNull(j, "thresholds_ok");
  e["thresholds_ok"] = !ok.is_null() ? ok : thresholds.empty() ? json(nullptr) : json(all_ok);
  json series = json::array();
  if (j.contains("series") && j["series"].is_array()) {
    for (const auto& p : j["series"]) {
      if (!p.is_object()) continue;
      json point = json::object();
      for (const char* k : {"t", "requests", "errors", "p50_ms", "p95_ms", "p99_ms"}) point[k] = NumOrNull(p, k);
      series.push_back(std::move(point));
    }
  }
  e["series"] = series;
  json by_request = json::object();
  if (j.contains("by_request") && j["by_request"].is_object()) {
    for (auto it = j["by_request"].begin(); it != j["by_request"].end(); ++it) {
      const json& r = it.value();
      by_request[it.key()] = {{"requests", NumOrNull(r, "requests")},
                              {"errors", NumOrNull(r, "errors")},
                              {"error_rate", NumOrNull(r, "error_rate")},
                              {"latency_ms", LatencyOf(r)}};
    }
  }
  e["by_request"] = by_request;
  return e;
}

std::string NormalizeResult(std::string r) {
  std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (r == "warn") return "warning";
  if (r == "passed" || r == "ok") return "pass";
  if (r == "failed") return "fail";
  return r;
}

json SloEntry(const pipeline::StepSnapshot& s, const std::string& text, const Cleaner& clean) {
  std::string error;
  json j = ParseProducerJson(text, clean, error);
  json e = {{"step", clean.Text(s.id)}, {"kind", clean.Text(s.kind)}, {"status", clean.Text(s.status)}};
  if (!error.empty()) e["error"] = "output report_json: " + error;
  std::string result = NormalizeResult(TextAt(j, "result"));
  e["result"] = result.empty() ? json(nullptr) : json(result);
  e["score"] = NumOrNull(j, "score");
  const json gate = j.contains("gate") ? j["gate"] : json::object();
  e["gate"] = {{"pass", NumOrNull(gate, "pass")}, {"warning", NumOrNull(gate, "warning")}};
  json objectives = json::array();
  if (j.contains("objectives") && j["objectives"].is_array()) {
    for (const auto& o : j["objectives"]) {
      if (!o.is_object()) continue;
      std::string r = NormalizeResult(TextAt(o, "result"));
      json value = NumOrNull(o, "value");
      if (value.is_null()) value = ScalarOrNull(o, "value");  // "no data" stays readable
      objectives.push_back({{"name", TextAt(o, "name")},
                            {"source", TextAt(o, "source")},
                            {"query", TextAt(o, "query")},
                            {"value", value},
                            {"unit", TextAt(o, "unit")},
                            {"target", ScalarOrNull(o, "target")},
                            {"result", r.empty() ? json(nullptr) : json(r)},
                            {"weight", NumOrNull(o, "weight")},
                            {"key", BoolOrNull(o, "key").is_boolean() ? BoolOrNull(o, "key") : json(false)},
                            {"message", TextAt(o, "message")}});
    }
  }
  e["objectives"] = objectives;
  if (j.contains("error_budget") && j["error_budget"].is_object()) {
    const json& b = j["error_budget"];
    e["error_budget"] = {{"objective", TextAt(b, "objective")},
                         {"period", TextAt(b, "period")},
                         {"consumed_percent", NumOrNull(b, "consumed_percent")},
                         {"remaining_percent", NumOrNull(b, "remaining_percent")},
                         {"burn_rate", NumOrNull(b, "burn_rate")},
                         {"freeze", BoolOrNull(b, "freeze")}};
  } else {
    e["error_budget"] = nullptr;
  }
  return e;
}

bool IsEpoch(SysTime t) { return t.time_since_epoch().count() == 0; }

double MillisBetween(SysTime a, SysTime b) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(b - a).count()) / 1000.0;
}

}  // namespace

std::string IsoTime(SysTime t) {
  if (IsEpoch(t)) return "";
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  int rest = static_cast<int>(ms % 1000);
  if (rest < 0) {
    rest += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", rest);
  return buf;
}

bool IsFailure(const std::string& status) {
  return status == "failed" || status == "rollback-failed" || status == "interrupted";
}

std::optional<double> NumberOf(const json& j) {
  if (j.is_number()) {
    double v = j.get<double>();
    return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
  }
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    if (s.empty()) return std::nullopt;
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end && *end == '\0' && std::isfinite(v)) return v;
  }
  return std::nullopt;
}

std::optional<double> NumberAt(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  return it == j.end() ? std::nullopt : NumberOf(*it);
}

std::string TextAt(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return FormatNumber(it->get<double>(), 3);
  return it->dump();
}

std::string FormatNumber(double v, int decimals) {
  if (!std::isfinite(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string FormatMs(double ms) {
  auto sig3 = [](double v) { return FormatNumber(v, v >= 100 ? 0 : v >= 10 ? 1 : 2); };
  if (ms >= 1000) return sig3(ms / 1000) + " s";
  return sig3(ms) + " ms";
}

std::string FormatRate(double ratio) {
  double pct = ratio * 100;
  if (pct == 0) return "0%";
  if (pct > 0 && pct < 0.01) return "<0.01%";
  return FormatNumber(pct, pct >= 10 ? 1 : 2) + "%";
}

std::string FormatMillis(double ms) {
  if (ms < 0) ms = 0;
  if (ms < 1) return FormatNumber(ms, 2) + "ms";
  return pipeline::FormatDuration(std::chrono::milliseconds(static_cast<long long>(std::llround(ms))));
}

std::string EscapeXml(const std::string& s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
        out += c;
    }
  }
  return out;
}

std::string CellText(const json& v) {
  if (v.is_null()) return "";
  if (v.is_number()) return FormatNumber(v.get<double>(), 3);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return v.dump();
}

json BuildReport(const ReportInput& in) {
  Cleaner clean(in.masker);
  // The timeline starts at the run's start, or earlier when a step says so (clocks, resumed runs).
  SysTime origin = in.started;
  for (const auto& s : in.steps)
    if (!IsEpoch(s.started) && (IsEpoch(origin) || s.started < origin)) origin = s.started;
  SysTime end = IsEpoch(in.finished) ? std::chrono::system_clock::now() : in.finished;

  json r;
  r["schema"] = "slipway.report/v1";
  r["title"] = clean.Text(in.title);
  r["plan"] = clean.Text(in.plan);
  r["plan_file"] = clean.Text(in.plan_file);
  r["run_id"] = clean.Text(in.run_id);
  r["started"] = IsoTime(origin);
  r["finished"] = IsoTime(end);
  r["duration_ms"] = IsEpoch(origin) ? 0.0 : std::max(0.0, MillisBetween(origin, end));

  json steps = json::array();
  json loadtests = json::array();
  json slos = json::array();
  std::map<std::string, int> counts;
  bool failed = false;
  std::optional<double> p95_ms, slo_score;
  for (const auto& s : in.steps) {
    json st;
    st["id"] = clean.Text(s.id);
    st["kind"] = clean.Text(s.kind);
    st["description"] = clean.Text(s.description);
    st["status"] = clean.Text(s.status);
    st["reason"] = clean.Text(s.reason);
    st["attempts"] = s.attempts;
    json needs = json::array(), tags = json::array();
    for (const auto& n : s.needs) needs.push_back(clean.Text(n));
    for (const auto& t : s.tags) tags.push_back(clean.Text(t));
    st["needs"] = needs;
    st["tags"] = tags;
    st["loc"] = clean.Text(s.loc.ToString());
    const bool started = !IsEpoch(s.started);
    const bool finished = started && !IsEpoch(s.finished);
    st["started"] = started ? json(IsoTime(s.started)) : json(nullptr);
    st["finished"] = finished ? json(IsoTime(s.finished)) : json(nullptr);
    st["start_offset_ms"] = started ? json(std::max(0.0, MillisBetween(origin, s.started))) : json(nullptr);
    // A step still running when the report is written (a parallel branch) is measured until now.
    st["duration_ms"] =
        started ? json(std::max(0.0, MillisBetween(s.started, finished ? s.finished : end))) : json(nullptr);
    json outputs = json::object();
    for (const auto& [k, v] : s.outputs)
      if (k != kSummaryKey && k != kSloKey) outputs[clean.Text(k)] = clean.Text(v);
    st["outputs"] = outputs;
    steps.push_back(std::move(st));

    ++counts[s.status];
    failed = failed || IsFailure(s.status);

    auto summary = s.outputs.find(kSummaryKey);
    if (summary != s.outputs.end()) loadtests.push_back(LoadTestEntry(s, summary->second, clean));
    auto verdict = s.outputs.find(kSloKey);
    if (verdict != s.outputs.end()) slos.push_back(SloEntry(s, verdict->second, clean));

    // For the GitHub Action: the last load test's p95 and the last SLO step's score (plan order).
    // A step's own p95_ms/score output wins over the one inside its JSON (they should agree).
    auto p95 = s.outputs.find("p95_ms");
    const bool is_loadtest = s.kind == "loadtest" || summary != s.outputs.end();
    if (auto v = is_loadtest && p95 != s.outputs.end() ? NumberOf(json(p95->second)) : std::nullopt) {
      p95_ms = v;
    } else if (summary != s.outputs.end()) {
      if (auto lv = NumberOf(loadtests.back()["latency_ms"]["p95"])) p95_ms = lv;
    }
    auto score = s.outputs.find("score");
    if (auto v = score != s.outputs.end() && (s.kind == "slo" || verdict != s.outputs.end())
                     ? NumberOf(json(score->second))
                     : std::nullopt) {
      slo_score = v;
    } else if (verdict != s.outputs.end()) {
      if (auto sv = NumberOf(slos.back()["score"])) slo_score = sv;
    }
  }
  r["status"] = failed ? "failed" : "succeeded";
  r["counts"] = counts;
  r["steps"] = steps;
  r["loadtests"] = loadtests;
  r["slos"] = slos;
  r["p95_ms"] = p95_ms ? json(*p95_ms) : json(nullptr);
  r["slo_score"] = slo_score ? json(*slo_score) : json(nullptr);
  return r;
}

}  // namespace slipway::steps::report
