#include "steps/loadtest/summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "steps/loadtest/threshold.h"

namespace slipway::steps::loadtest {

namespace {

using nlohmann::json;

constexpr const char* kSchema = "slipway.loadtest/v1";
constexpr double kMs = 1e6;

double Ms(std::int64_t ns) { return static_cast<double>(ns) / kMs; }

// Rounds to 3 decimals (microseconds) so the JSON reads well; percentiles are bucket midpoints anyway.
double R3(double v) { return std::round(v * 1000.0) / 1000.0; }

json LatencyJson(const Histogram& h) {
  return {{"min", R3(Ms(h.Min()))},
          {"mean", R3(h.Mean() / kMs)},
          {"p50", R3(Ms(h.Percentile(50)))},
          {"p90", R3(Ms(h.Percentile(90)))},
          {"p95", R3(Ms(h.Percentile(95)))},
          {"p99", R3(Ms(h.Percentile(99)))},
          {"p999", R3(Ms(h.Percentile(99.9)))},
          {"max", R3(Ms(h.Max()))}};
}

json CausesJson(const Stats& s) {
  json j = json::object();
  for (int c = 0; c < kCauseCount; ++c) j[CauseName(static_cast<Cause>(c))] = s.errors_by_cause[static_cast<std::size_t>(c)];
  return j;
}

json StatusJson(const std::map<int, std::uint64_t>& codes) {
  json j = json::object();
  for (const auto& [code, n] : codes) j[std::to_string(code)] = n;
  return j;
}

json StatsJson(const Stats& s) {
  return {{"requests", s.requests},           {"errors", s.errors},
          {"error_rate", s.ErrorRate()},      {"latency_ms", LatencyJson(s.latency)},
          {"errors_by_cause", CausesJson(s)}, {"status_codes", StatusJson(s.status_codes)},
          {"histogram", s.latency.ToSparse().ToJson()}};
}

template <typename T>
Expected<T> Get(const json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) return Fail(where + "." + key + ": missing");
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    return Fail(where + "." + key + ": wrong type");
  }
}

Expected<Stats> StatsFromJson(const json& j, const std::string& where) {
  Stats s;
  auto req = Get<std::uint64_t>(j, "requests", where);
  if (!req) return tl::unexpected(req.error());
  s.requests = *req;
  auto err = Get<std::uint64_t>(j, "errors", where);
  if (!err) return tl::unexpected(err.error());
  s.errors = *err;
  if (!j.contains("errors_by_cause") || !j["errors_by_cause"].is_object())
    return Fail(where + ".errors_by_cause: missing");
  for (int c = 0; c < kCauseCount; ++c) {
    auto v = Get<std::uint64_t>(j["errors_by_cause"], CauseName(static_cast<Cause>(c)), where + ".errors_by_cause");
    if (!v) return tl::unexpected(v.error());
    s.errors_by_cause[static_cast<std::size_t>(c)] = *v;
  }
  if (!j.contains("status_codes") || !j["status_codes"].is_object()) return Fail(where + ".status_codes: missing");
  for (const auto& [code, n] : j["status_codes"].items()) {
    if (!n.is_number_unsigned()) return Fail(where + ".status_codes." + code + ": expected a count");
    s.status_codes[std::atoi(code.c_str())] = n.get<std::uint64_t>();
  }
  if (!j.contains("histogram")) return Fail(where + ".histogram: missing");
  auto h = SparseHistogram::FromJson(j["histogram"]);
  if (!h) return Fail(where + "." + h.error().message);
  s.latency.Merge(*h);
  return s;
}

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// Milliseconds with 2 decimals below 100 ms and none above.
std::string MsText(std::int64_t ns) {
  double ms = Ms(ns);
  return ms < 100 ? Fmt("%.2f", ms) : Fmt("%.0f", ms);
}

std::string Pad(const std::string& s, std::size_t width, bool left = false) {
  if (s.size() >= width) return s;
  return left ? s + std::string(width - s.size(), ' ') : std::string(width - s.size(), ' ') + s;
}

std::string LatencyRow(const std::string& name, const Histogram& h, std::size_t name_width) {
  std::string row = "  " + Pad(name, name_width, true);
  for (double q : {50.0, 90.0, 95.0, 99.0, 99.9}) row += Pad(MsText(h.Percentile(q)), 9);
  row += Pad(MsText(h.Max()), 9);
  row += Pad(MsText(static_cast<std::int64_t>(h.Mean())), 9);
  return row;
}

std::string Measured(const ThresholdResult& t) {
  bool duration = t.metric.rfind("http_req_duration", 0) == 0;
  bool rate = t.metric.rfind("http_req_failed", 0) == 0;
  if (duration) return Fmt("%.2f ms", t.measured);
  if (rate) return Fmt("%.4f", t.measured) + " (" + Fmt("%.2f", t.measured * 100) + " %)";
  if (t.expr.rfind("count", 0) == 0) return Fmt("%.0f", t.measured);
  return Fmt("%.2f/s", t.measured);
}

}  // namespace

const char* CauseName(Cause c) {
  switch (c) {
    case Cause::kStatus: return "status";
    case Cause::kTimeout: return "timeout";
    case Cause::kConnect: return "connect";
    case Cause::kExpectation: return "expectation";
  }
  return "?";
}

void Stats::Merge(const Stats& other) {
  requests += other.requests;
  errors += other.errors;
  for (std::size_t c = 0; c < errors_by_cause.size(); ++c) errors_by_cause[c] += other.errors_by_cause[c];
  for (const auto& [code, n] : other.status_codes) status_codes[code] += n;
  latency.Merge(other.latency);
}

json SummaryJson(const Result& r) {
  json j;
  j["schema"] = kSchema;
  j["executor"] = r.executor;
  j["duration_s"] = r.duration_s;
  j["threads"] = r.threads;
  j["workers"] = r.workers;
  j["requests"] = r.total.requests;
  j["rps"] = R3(r.Rps());
  j["errors"] = r.total.errors;
  j["error_rate"] = r.total.ErrorRate();
  j["dropped"] = r.dropped;
  j["interrupted"] = r.interrupted;
  j["aborted"] = r.aborted;
  j["abort_reason"] = r.abort_reason;
  j["latency_ms"] = LatencyJson(r.total.latency);
  j["errors_by_cause"] = CausesJson(r.total);
  j["status_codes"] = StatusJson(r.total.status_codes);
  json protocols = json::object();
  for (const auto& [p, n] : r.protocols) protocols[p] = n;
  j["protocols"] = protocols;
  json by = json::object();
  for (const auto& [name, s] : r.by_request) by[name] = StatsJson(s);
  j["by_request"] = by;
  json th = json::array();
  for (const auto& t : r.thresholds)
    th.push_back({{"metric", t.metric}, {"expr", t.expr}, {"measured", t.measured}, {"limit", t.limit},
                  {"ok", t.ok}, {"abort_on_fail", t.abort_on_fail}});
  j["thresholds"] = th;
  j["thresholds_ok"] = r.ThresholdsOk();
  json series = json::array();
  for (const auto& p : r.series)
    series.push_back({{"t", p.t},
                      {"requests", p.requests},
                      {"errors", p.errors},
                      {"dropped", p.dropped},
                      {"p50_ms", R3(Ms(p.latency.Percentile(50)))},
                      {"p95_ms", R3(Ms(p.latency.Percentile(95)))},
                      {"p99_ms", R3(Ms(p.latency.Percentile(99)))},
                      {"histogram", p.latency.ToJson()}});
  j["series"] = series;
  j["histogram"] = r.total.latency.ToSparse().ToJson();
  return j;
}

Expected<Result> ResultFromJson(const json& j) {
  const std::string w = "summary";
  if (!j.is_object()) return Fail("summary: expected a JSON object");
  if (j.value("schema", "") != kSchema) return Fail(std::string("summary.schema: expected \"") + kSchema + "\"");
  Result r;
  auto executor = Get<std::string>(j, "executor", w);
  if (!executor) return tl::unexpected(executor.error());
  r.executor = *executor;
  auto duration = Get<double>(j, "duration_s", w);
  if (!duration) return tl::unexpected(duration.error());
  r.duration_s = *duration;
  r.threads = j.value("threads", 0);
  r.workers = j.value("workers", 1);
  auto dropped = Get<std::uint64_t>(j, "dropped", w);
  if (!dropped) return tl::unexpected(dropped.error());
  r.dropped = *dropped;
  r.interrupted = j.value("interrupted", std::uint64_t{0});
  r.aborted = j.value("aborted", false);
  r.abort_reason = j.value("abort_reason", "");
  auto total = StatsFromJson(j, w);
  if (!total) return tl::unexpected(total.error());
  r.total = std::move(*total);
  if (j.contains("protocols") && j["protocols"].is_object())
    for (const auto& [p, n] : j["protocols"].items()) r.protocols[p] = n.get<std::uint64_t>();
  if (!j.contains("by_request") || !j["by_request"].is_object()) return Fail("summary.by_request: missing");
  for (const auto& [name, s] : j["by_request"].items()) {
    auto stats = StatsFromJson(s, w + ".by_request." + name);
    if (!stats) return tl::unexpected(stats.error());
    r.by_request[name] = std::move(*stats);
  }
  if (!j.contains("series") || !j["series"].is_array()) return Fail("summary.series: missing");
  for (std::size_t i = 0; i < j["series"].size(); ++i) {
    const json& p = j["series"][i];
    std::string pw = w + ".series[" + std::to_string(i) + "]";
    SeriesPoint sp;
    auto t = Get<std::int64_t>(p, "t", pw);
    if (!t) return tl::unexpected(t.error());
    sp.t = *t;
    auto req = Get<std::uint64_t>(p, "requests", pw);
    if (!req) return tl::unexpected(req.error());
    sp.requests = *req;
    auto err = Get<std::uint64_t>(p, "errors", pw);
    if (!err) return tl::unexpected(err.error());
    sp.errors = *err;
    sp.dropped = p.value("dropped", std::uint64_t{0});
    if (!p.contains("histogram")) return Fail(pw + ".histogram: missing");
    auto h = SparseHistogram::FromJson(p["histogram"]);
    if (!h) return Fail(pw + "." + h.error().message);
    sp.latency = std::move(*h);
    r.series.push_back(std::move(sp));
  }
  if (j.contains("thresholds") && j["thresholds"].is_array()) {
    for (const auto& t : j["thresholds"]) {
      ThresholdResult tr;
      tr.metric = t.value("metric", "");
      tr.expr = t.value("expr", "");
      tr.measured = t.value("measured", 0.0);
      tr.limit = t.value("limit", 0.0);
      tr.ok = t.value("ok", true);
      tr.abort_on_fail = t.value("abort_on_fail", false);
      r.thresholds.push_back(std::move(tr));
    }
  }
  return r;
}

Result Merge(const std::vector<Result>& parts) {
  Result out;
  if (parts.empty()) return out;
  out.executor = parts.front().executor;
  out.workers = 0;
  std::map<std::int64_t, SeriesPoint> series;
  for (const Result& p : parts) {
    out.duration_s = std::max(out.duration_s, p.duration_s);
    out.threads += p.threads;
    out.workers += p.workers;
    out.dropped += p.dropped;
    out.interrupted += p.interrupted;
    out.total.Merge(p.total);
    for (const auto& [name, s] : p.by_request) out.by_request[name].Merge(s);
    for (const auto& [proto, n] : p.protocols) out.protocols[proto] += n;
    for (const auto& sp : p.series) {
      SeriesPoint& dst = series[sp.t];
      dst.t = sp.t;
      dst.requests += sp.requests;
      dst.errors += sp.errors;
      dst.dropped += sp.dropped;
      dst.latency.Merge(sp.latency);
    }
    if (p.aborted && !out.aborted) {
      out.aborted = true;
      out.abort_reason = p.abort_reason;
    }
  }
  if (!series.empty()) {
    for (std::int64_t t = 0; t <= series.rbegin()->first; ++t) {
      SeriesPoint& sp = series[t];
      sp.t = t;
      out.series.push_back(std::move(sp));
    }
  }
  // Re-judge the first part's thresholds on the merged data.
  for (const auto& t : parts.front().thresholds) {
    auto key = ParseMetricKey(t.metric);
    if (!key) continue;
    auto expr = ParseThresholdExpr(t.expr, key->metric);
    if (!expr) continue;
    ThresholdSpec spec{*key, *expr, t.abort_on_fail, 0};
    auto verdict = EvaluateThresholds({spec}, out);
    out.thresholds.push_back(verdict.front());
  }
  return out;
}

std::string SummaryTable(const Result& r) {
  std::string s;
  const Stats& t = r.total;
  s += "\n  slipway loadtest: " + r.executor + ", " + Fmt("%.1f s", r.duration_s) + ", " +
       std::to_string(r.threads) + (r.threads == 1 ? " thread" : " threads");
  if (r.workers > 1) s += " in " + std::to_string(r.workers) + " workers";
  s += "\n\n";
  s += "  requests    " + std::to_string(t.requests) + "   " + Fmt("%.1f/s", r.Rps());
  if (r.dropped) s += "   dropped " + std::to_string(r.dropped);
  if (r.interrupted) s += "   interrupted " + std::to_string(r.interrupted);
  s += "\n";
  s += "  errors      " + std::to_string(t.errors) + "   " + Fmt("%.2f %%", t.ErrorRate() * 100);
  if (t.errors) {
    std::string causes;
    for (int c = 0; c < kCauseCount; ++c) {
      auto n = t.errors_by_cause[static_cast<std::size_t>(c)];
      if (n) causes += (causes.empty() ? "" : ", ") + std::string(CauseName(static_cast<Cause>(c))) + " " + std::to_string(n);
    }
    s += "   (" + causes + ")";
  }
  s += "\n";
  if (!t.status_codes.empty()) {
    s += "  status     ";
    for (const auto& [code, n] : t.status_codes)
      s += " " + (code == 0 ? std::string("none") : std::to_string(code)) + ":" + std::to_string(n);
    s += "\n";
  }
  if (!r.protocols.empty()) {
    s += "  protocol   ";
    for (const auto& [p, n] : r.protocols) s += " HTTP/" + p + ":" + std::to_string(n);
    s += "\n";
  }
  std::size_t width = 8;
  for (const auto& [name, st] : r.by_request) width = std::max(width, name.size() + 2);
  width = std::min<std::size_t>(width, 32);
  s += "\n  " + Pad("latency ms", width, true);
  for (const char* h : {"p50", "p90", "p95", "p99", "p99.9", "max", "mean"}) s += Pad(h, 9);
  s += "\n";
  s += LatencyRow("all", t.latency, width) + "\n";
  if (r.by_request.size() > 1)
    for (const auto& [name, st] : r.by_request) s += LatencyRow(name, st.latency, width) + "\n";
  if (!r.thresholds.empty()) {
    s += "\n  thresholds\n";
    for (const auto& th : r.thresholds) {
      s += std::string("  ") + (th.ok ? "  pass" : "  FAIL") + "  " + th.metric + "  " + th.expr + "   measured " +
           Measured(th) + "   limit " + Fmt("%g", th.limit) + "\n";
    }
  }
  if (r.aborted) s += "\n  aborted: " + r.abort_reason + "\n";
  return s;
}

}  // namespace slipway::steps::loadtest
