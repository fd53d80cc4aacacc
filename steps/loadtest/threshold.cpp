#include "steps/loadtest/threshold.h"

#include <cmath>
#include <cstdlib>

#include "steps/loadtest/result.h"

namespace slipway::steps::loadtest {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool ParseNumber(std::string_view s, double& out, std::string_view& rest) {
  std::string buf(s);
  char* end = nullptr;
  out = std::strtod(buf.c_str(), &end);
  if (end == buf.c_str()) return false;
  rest = s.substr(static_cast<std::size_t>(end - buf.c_str()));
  return std::isfinite(out);
}

const char* MetricName(Metric m) {
  switch (m) {
    case Metric::kHttpReqDuration: return "http_req_duration";
    case Metric::kHttpReqFailed: return "http_req_failed";
    case Metric::kHttpReqs: return "http_reqs";
    case Metric::kDroppedIterations: return "dropped_iterations";
  }
  return "?";
}

}  // namespace

Expected<MetricKey> ParseMetricKey(std::string_view text) {
  std::string_view s = Trim(text);
  std::string_view name = s;
  std::string tag;
  std::size_t brace = s.find('{');
  if (brace != std::string_view::npos) {
    if (s.back() != '}') return Fail("malformed metric '" + std::string(text) + "' (expected metric{name:NAME})");
    name = Trim(s.substr(0, brace));
    std::string_view inner = Trim(s.substr(brace + 1, s.size() - brace - 2));
    std::size_t colon = inner.find(':');
    if (colon == std::string_view::npos || Trim(inner.substr(0, colon)) != "name")
      return Fail("unsupported tag in '" + std::string(text) + "' (only {name:NAME} is supported)");
    tag = std::string(Trim(inner.substr(colon + 1)));
    if (tag.size() >= 2 && (tag.front() == '"' || tag.front() == '\'') && tag.back() == tag.front())
      tag = tag.substr(1, tag.size() - 2);
    if (tag.empty()) return Fail("empty request name in '" + std::string(text) + "'");
  }
  MetricKey key;
  if (name == "http_req_duration") key.metric = Metric::kHttpReqDuration;
  else if (name == "http_req_failed") key.metric = Metric::kHttpReqFailed;
  else if (name == "http_reqs") key.metric = Metric::kHttpReqs;
  else if (name == "dropped_iterations") key.metric = Metric::kDroppedIterations;
  else
    return Fail("unknown metric '" + std::string(name) +
                "' (known: http_req_duration, http_req_failed, http_reqs, dropped_iterations)");
  if (!tag.empty() && key.metric == Metric::kDroppedIterations)
    return Fail("dropped_iterations has no per-request breakdown");
  key.request_name = tag;
  key.text = std::string(name) + (tag.empty() ? "" : "{name:" + tag + "}");
  return key;
}

Expected<ThresholdExpr> ParseThresholdExpr(std::string_view text, Metric metric) {
  ThresholdExpr e;
  e.text = std::string(Trim(text));
  std::string_view s = Trim(text);
  auto bad = [&](const std::string& why) {
    return Fail("invalid threshold '" + std::string(text) + "': " + why);
  };
  // Aggregation.
  if (s.substr(0, 2) == "p(") {
    std::size_t close = s.find(')');
    if (close == std::string_view::npos) return bad("missing ')'");
    double p = 0;
    std::string_view rest;
    if (!ParseNumber(s.substr(2, close - 2), p, rest) || !Trim(rest).empty() || p <= 0 || p > 100)
      return bad("percentile must be a number in (0, 100]");
    e.agg = ThresholdExpr::Agg::kPercentile;
    e.percentile = p;
    s.remove_prefix(close + 1);
  } else {
    struct Named {
      std::string_view name;
      ThresholdExpr::Agg agg;
    };
    static constexpr Named kNames[] = {{"avg", ThresholdExpr::Agg::kAvg},   {"min", ThresholdExpr::Agg::kMin},
                                       {"max", ThresholdExpr::Agg::kMax},   {"med", ThresholdExpr::Agg::kMed},
                                       {"rate", ThresholdExpr::Agg::kRate}, {"count", ThresholdExpr::Agg::kCount}};
    bool found = false;
    for (const auto& n : kNames) {
      if (s.substr(0, n.name.size()) == n.name) {
        e.agg = n.agg;
        s.remove_prefix(n.name.size());
        found = true;
        break;
      }
    }
    if (!found) return bad("expected an aggregation: p(N), avg, min, max, med, rate or count");
  }
  bool duration = metric == Metric::kHttpReqDuration;
  bool ok_for_metric = false;
  switch (metric) {
    case Metric::kHttpReqDuration:
      ok_for_metric = e.agg != ThresholdExpr::Agg::kRate && e.agg != ThresholdExpr::Agg::kCount;
      break;
    case Metric::kHttpReqFailed:
      ok_for_metric = e.agg == ThresholdExpr::Agg::kRate;
      break;
    case Metric::kHttpReqs:
    case Metric::kDroppedIterations:
      ok_for_metric = e.agg == ThresholdExpr::Agg::kRate || e.agg == ThresholdExpr::Agg::kCount;
      break;
  }
  if (!ok_for_metric) {
    const char* allowed = duration ? "p(N), avg, min, max or med"
                          : metric == Metric::kHttpReqFailed ? "rate"
                                                             : "count or rate";
    return bad(std::string("not an aggregation of ") + MetricName(metric) + " (use " + allowed + ")");
  }
  // Operator.
  s = Trim(s);
  if (s.substr(0, 2) == "<=") e.op = ThresholdExpr::Op::kLe, s.remove_prefix(2);
  else if (s.substr(0, 2) == ">=") e.op = ThresholdExpr::Op::kGe, s.remove_prefix(2);
  else if (s.substr(0, 2) == "==") e.op = ThresholdExpr::Op::kEq, s.remove_prefix(2);
  else if (s.substr(0, 2) == "!=") e.op = ThresholdExpr::Op::kNe, s.remove_prefix(2);
  else if (s.substr(0, 1) == "<") e.op = ThresholdExpr::Op::kLt, s.remove_prefix(1);
  else if (s.substr(0, 1) == ">") e.op = ThresholdExpr::Op::kGt, s.remove_prefix(1);
  else if (s.substr(0, 1) == "=") e.op = ThresholdExpr::Op::kEq, s.remove_prefix(1);
  else return bad("expected an operator: <, <=, >, >=, == or !=");
  // Limit, with an optional unit.
  s = Trim(s);
  std::string_view unit;
  if (!ParseNumber(s, e.limit, unit)) return bad("expected a number after the operator");
  unit = Trim(unit);
  if (!unit.empty()) {
    if (duration) {
      if (unit == "ms") {
      } else if (unit == "s") e.limit *= 1000.0;
      else if (unit == "us" || unit == "\xC2\xB5s") e.limit /= 1000.0;
      else if (unit == "m") e.limit *= 60000.0;
      else return bad("unknown unit '" + std::string(unit) + "' (use ms, s, us or m)");
    } else if (metric == Metric::kHttpReqFailed && unit == "%") {
      e.limit /= 100.0;
    } else {
      return bad("unexpected '" + std::string(unit) + "' after the number");
    }
  }
  return e;
}

bool Holds(double measured, ThresholdExpr::Op op, double limit) {
  switch (op) {
    case ThresholdExpr::Op::kLt: return measured < limit;
    case ThresholdExpr::Op::kLe: return measured <= limit;
    case ThresholdExpr::Op::kGt: return measured > limit;
    case ThresholdExpr::Op::kGe: return measured >= limit;
    case ThresholdExpr::Op::kEq: return measured == limit;
    case ThresholdExpr::Op::kNe: return measured != limit;
  }
  return false;
}

double Measure(const MetricKey& key, const ThresholdExpr& expr, const Result& result) {
  static const Stats kEmpty;
  const Stats* stats = &result.total;
  if (!key.request_name.empty()) {
    auto it = result.by_request.find(key.request_name);
    stats = it == result.by_request.end() ? &kEmpty : &it->second;
  }
  constexpr double kMs = 1e6;
  switch (key.metric) {
    case Metric::kHttpReqDuration:
      switch (expr.agg) {
        case ThresholdExpr::Agg::kPercentile: return static_cast<double>(stats->latency.Percentile(expr.percentile)) / kMs;
        case ThresholdExpr::Agg::kMed: return static_cast<double>(stats->latency.Percentile(50)) / kMs;
        case ThresholdExpr::Agg::kAvg: return stats->latency.Mean() / kMs;
        case ThresholdExpr::Agg::kMin: return static_cast<double>(stats->latency.Min()) / kMs;
        case ThresholdExpr::Agg::kMax: return static_cast<double>(stats->latency.Max()) / kMs;
        default: return 0;
      }
    case Metric::kHttpReqFailed:
      return stats->ErrorRate();
    case Metric::kHttpReqs:
      if (expr.agg == ThresholdExpr::Agg::kCount) return static_cast<double>(stats->requests);
      return result.duration_s > 0 ? static_cast<double>(stats->requests) / result.duration_s : 0.0;
    case Metric::kDroppedIterations:
      if (expr.agg == ThresholdExpr::Agg::kCount) return static_cast<double>(result.dropped);
      return result.duration_s > 0 ? static_cast<double>(result.dropped) / result.duration_s : 0.0;
  }
  return 0;
}

std::vector<ThresholdResult> EvaluateThresholds(const std::vector<ThresholdSpec>& specs, const Result& result) {
  std::vector<ThresholdResult> out;
  out.reserve(specs.size());
  for (const auto& spec : specs) {
    ThresholdResult r;
    r.metric = spec.key.text;
    r.expr = spec.expr.text;
    r.measured = Measure(spec.key, spec.expr, result);
    r.limit = spec.expr.limit;
    r.ok = Holds(r.measured, spec.expr.op, r.limit);
    r.abort_on_fail = spec.abort_on_fail;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace slipway::steps::loadtest
