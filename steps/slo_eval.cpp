#include "steps/slo_eval.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

namespace slipway::steps::slo {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }
bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
std::string At(size_t i) { return "at character " + std::to_string(i + 1); }

std::string ValueWithUnit(double v, const std::string& unit) {
  return unit.empty() ? FormatNumber(v) : FormatNumber(v) + " " + unit;
}

std::string PolicyText(NoDataPolicy p) {
  switch (p) {
    case NoDataPolicy::kFail: return "fail";
    case NoDataPolicy::kWarn: return "warn";
    case NoDataPolicy::kPass: return "pass";
  }
  return "fail";
}

Outcome PolicyOutcome(NoDataPolicy p) {
  switch (p) {
    case NoDataPolicy::kFail: return Outcome::kFail;
    case NoDataPolicy::kWarn: return Outcome::kWarning;
    case NoDataPolicy::kPass: return Outcome::kPass;
  }
  return Outcome::kFail;
}

// A finite number from an output string, else nullopt ("", "n/a", "nan" are not numbers).
std::optional<double> ParseFinite(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0' || !std::isfinite(v)) return std::nullopt;
  return v;
}

// A finite number at `path` inside summary_json, else nullopt.
std::optional<double> SummaryNumber(const nlohmann::json& summary, const std::vector<std::string>& path) {
  const nlohmann::json* node = &summary;
  for (const auto& part : path) {
    if (!node->is_object()) return std::nullopt;
    auto it = node->find(part);
    if (it == node->end()) return std::nullopt;
    node = &*it;
  }
  if (!node->is_number()) return std::nullopt;
  double v = node->get<double>();
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

std::string PathText(const std::vector<std::string>& path) {
  std::string s;
  for (const auto& p : path) s += "." + p;
  return s;
}

}  // namespace

bool Comparison::Holds(double value) const {
  if (std::isnan(value)) return false;
  switch (op) {
    case Op::kLess: return value < limit;
    case Op::kLessEqual: return value <= limit;
    case Op::kGreater: return value > limit;
    case Op::kGreaterEqual: return value >= limit;
  }
  return false;
}

std::string OpText(Op op) {
  switch (op) {
    case Op::kLess: return "<";
    case Op::kLessEqual: return "<=";
    case Op::kGreater: return ">";
    case Op::kGreaterEqual: return ">=";
  }
  return "?";
}

Expected<Comparison> ParseComparison(std::string_view text, std::optional<Op> implicit) {
  const size_t n = text.size();
  size_t i = 0;
  while (i < n && IsSpace(text[i])) ++i;
  if (i == n) return Fail("empty comparison; expected an operator and a number, e.g. \"< 0.2\"");
  size_t first = i;
  Comparison c;
  if (text[i] == '<' || text[i] == '>') {
    bool less = text[i] == '<';
    ++i;
    bool equal = i < n && text[i] == '=';
    if (equal) ++i;
    c.op = less ? (equal ? Op::kLessEqual : Op::kLess) : (equal ? Op::kGreaterEqual : Op::kGreater);
    if (i < n && (text[i] == '<' || text[i] == '>' || text[i] == '='))
      return Fail("unexpected '" + std::string(1, text[i]) + "' " + At(i) + "; expected a number");
  } else if (text[i] == '=' || text[i] == '!') {
    size_t len = (i + 1 < n && text[i + 1] == '=') ? 2 : 1;
    return Fail("'" + std::string(text.substr(i, len)) + "' " + At(i) +
                " is not supported; use <, <=, > or >= (measurements are never exactly equal)");
  } else if (implicit) {
    c.op = *implicit;
  } else {
    return Fail("expected <, <=, > or >= " + At(i) + ", e.g. \"< 0.2\"");
  }
  while (i < n && IsSpace(text[i])) ++i;
  // [+-]? digits [. digits] [e [+-] digits], checked by hand: strtod would also take "inf" and hex.
  size_t num_start = i;
  if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
  size_t digits = 0;
  while (i < n && IsDigit(text[i])) ++i, ++digits;
  if (i < n && text[i] == '.') {
    ++i;
    while (i < n && IsDigit(text[i])) ++i, ++digits;
  }
  if (digits == 0) return Fail("expected a number " + At(num_start));
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    size_t e = i++;
    if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < n && IsDigit(text[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return Fail("malformed exponent " + At(e));
  }
  c.number = std::strtod(std::string(text.substr(num_start, i - num_start)).c_str(), nullptr);
  if (!std::isfinite(c.number)) return Fail("number out of range " + At(num_start));
  size_t last = i;  // end of the text worth keeping: the number, or its unit
  while (i < n && IsSpace(text[i])) ++i;
  size_t unit_start = i;
  while (i < n && !IsSpace(text[i])) ++i;
  std::string_view unit = text.substr(unit_start, i - unit_start);
  if (unit.empty()) {
    c.unit = Unit::kNone;
  } else if (unit == "ms") {
    c.unit = Unit::kMillis;
  } else if (unit == "s") {
    c.unit = Unit::kSeconds;
  } else if (unit == "%") {
    c.unit = Unit::kPercent;
  } else {
    return Fail("unknown unit '" + std::string(unit) + "' " + At(unit_start) + "; expected ms, s or %");
  }
  if (!unit.empty()) last = i;
  while (i < n && IsSpace(text[i])) ++i;
  if (i < n) return Fail("unexpected '" + std::string(text.substr(i)) + "' " + At(i));
  c.text = std::string(text.substr(first, last - first));
  if (implicit && text[first] != '<' && text[first] != '>') c.text = OpText(c.op) + " " + c.text;
  c.limit = c.number;
  return c;
}

std::string OutcomeText(Outcome o) {
  switch (o) {
    case Outcome::kPass: return "pass";
    case Outcome::kWarning: return "warning";
    case Outcome::kFail: return "fail";
  }
  return "fail";
}

std::optional<NoDataPolicy> ParseNoDataPolicy(std::string_view text) {
  if (text == "fail") return NoDataPolicy::kFail;
  if (text == "warn") return NoDataPolicy::kWarn;
  if (text == "pass") return NoDataPolicy::kPass;
  return std::nullopt;
}

std::string SourceText(Source s) {
  switch (s) {
    case Source::kRatio: return "ratio";
    case Source::kQuery: return "query";
    case Source::kLoadTest: return "loadtest";
  }
  return "query";
}

ObjectiveVerdict Judge(const Objective& o, const Measurement& m) {
  ObjectiveVerdict v;
  v.name = o.name;
  v.value = m.value;
  if (!m.error.empty()) {
    v.outcome = Outcome::kFail;
    v.message = "query failed: " + m.error;
    return v;
  }
  auto no_data = [&](const std::string& why) {
    v.no_data = true;
    v.outcome = PolicyOutcome(o.on_no_data);
    v.message = "no data: " + why + (m.query.empty() ? "" : " (query: " + m.query + ")") + "; counted as " +
                OutcomeText(v.outcome) + " (on_no_data: " + PolicyText(o.on_no_data) + ")";
    return v;
  };
  if (o.min_samples) {
    if (!m.samples) return no_data(m.samples_no_data.empty() ? "the number of samples is unknown" : m.samples_no_data);
    if (*m.samples < *o.min_samples)
      return no_data("only " + FormatNumber(*m.samples) + " samples, min_samples is " + FormatNumber(*o.min_samples) +
                     (m.value ? " (value " + ValueWithUnit(*m.value, o.unit) + " not trusted)" : ""));
  }
  if (!m.value || std::isnan(*m.value)) {
    v.value.reset();
    return no_data(m.no_data.empty() ? "the query returned NaN" : m.no_data);
  }
  const double value = *m.value;
  std::string measured = "measured " + ValueWithUnit(value, o.unit) + ", target " + o.pass.text;
  if (o.pass.Holds(value)) {
    v.outcome = Outcome::kPass;
    v.message = measured;
  } else if (o.warning && o.warning->Holds(value)) {
    v.outcome = Outcome::kWarning;
    v.message = measured + "; within warning " + o.warning->text;
  } else {
    v.outcome = Outcome::kFail;
    v.message = measured + (o.warning ? " (warning " + o.warning->text + ")" : "");
  }
  if (!m.detail.empty()) v.message += "; " + m.detail;
  return v;
}

GateVerdict ScoreGate(const std::vector<Objective>& objectives, const std::vector<ObjectiveVerdict>& verdicts,
                      const Gate& gate) {
  GateVerdict g;
  double total = 0, earned = 0;
  for (size_t i = 0; i < objectives.size() && i < verdicts.size(); ++i) {
    const double w = objectives[i].weight;
    total += w;
    if (verdicts[i].outcome == Outcome::kPass) earned += w;
    if (verdicts[i].outcome == Outcome::kWarning) earned += w / 2;
  }
  // earned * 100 / total rather than earned / total * 100: 7/10 * 100 is 70.00000000000001.
  g.score = total > 0 ? earned * 100 / total : 0;
  if (g.score >= gate.pass) {
    g.outcome = Outcome::kPass;
  } else if (g.score >= gate.warning) {
    g.outcome = Outcome::kWarning;
    g.reasons.push_back("score " + FormatNumber(g.score) + " % is below the pass threshold " + FormatNumber(gate.pass) +
                        " %");
  } else {
    g.outcome = Outcome::kFail;
    g.reasons.push_back("score " + FormatNumber(g.score) + " % is below the warning threshold " +
                        FormatNumber(gate.warning) + " %");
  }
  for (size_t i = 0; i < objectives.size() && i < verdicts.size(); ++i) {
    if (objectives[i].key && verdicts[i].outcome == Outcome::kFail) {
      g.outcome = Outcome::kFail;
      g.reasons.push_back("key objective '" + objectives[i].name + "' failed");
    }
  }
  return g;
}

BudgetNumbers ComputeBudget(double target, double period_value, std::optional<double> window_value) {
  BudgetNumbers b;
  b.allowed_error = 100 - target;
  b.consumed = (100 - period_value) / b.allowed_error * 100;
  b.remaining = 100 - b.consumed;
  if (window_value) b.burn_rate = (100 - *window_value) / b.allowed_error;
  return b;
}

std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    if (std::string(buf) == "-0") return "0";
  } else {
    std::snprintf(buf, sizeof buf, "%.8g", v);  // 8 digits: 99.99995 must not print as 100
  }
  return buf;
}

std::string PromDuration(std::chrono::milliseconds d) {
  const long long ms = d.count();
  if (ms == 0) return "0s";
  struct UnitMs {
    long long ms;
    const char* suffix;
  };
  for (UnitMs u : {UnitMs{86'400'000, "d"}, UnitMs{3'600'000, "h"}, UnitMs{60'000, "m"}, UnitMs{1000, "s"}})
    if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.suffix;
  return std::to_string(ms) + "ms";
}

std::string SubstituteWindow(const std::string& query, const std::string& window) {
  static const std::string kToken = "$window";
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t hit = query.find(kToken, pos);
    if (hit == std::string::npos) break;
    size_t after = hit + kToken.size();
    bool whole = after >= query.size() ||
                 !(std::isalnum(static_cast<unsigned char>(query[after])) || query[after] == '_');
    out += query.substr(pos, hit - pos);
    out += whole ? window : kToken;
    pos = after;
  }
  out += query.substr(pos);
  return out;
}

const std::vector<LoadTestMetric>& LoadTestMetrics() {
  static const std::vector<LoadTestMetric> kMetrics = {
      {"p(50)", "p50_ms", {"latency_ms", "p50"}, true, false, "ms"},
      {"p(90)", "p90_ms", {"latency_ms", "p90"}, true, false, "ms"},
      {"p(95)", "p95_ms", {"latency_ms", "p95"}, true, false, "ms"},
      {"p(99)", "p99_ms", {"latency_ms", "p99"}, true, false, "ms"},
      {"p(99.9)", "p999_ms", {"latency_ms", "p999"}, true, false, "ms"},
      {"max", "max_ms", {"latency_ms", "max"}, true, false, "ms"},
      {"mean", "mean_ms", {"latency_ms", "mean"}, true, false, "ms"},
      {"min", "min_ms", {"latency_ms", "min"}, true, false, "ms"},
      {"rps", "rps", {"rps"}, false, false, "req/s"},
      {"error_rate", "error_rate", {"error_rate"}, false, true, ""},
      {"requests", "requests", {"requests"}, false, false, ""},
      {"dropped", "dropped", {"dropped"}, false, false, ""},
  };
  return kMetrics;
}

const LoadTestMetric* FindLoadTestMetric(const std::string& name) {
  for (const auto& m : LoadTestMetrics())
    if (m.name == name) return &m;
  return nullptr;
}

Measurement ReadLoadTestMetric(const LoadTestMetric& metric, const std::map<std::string, std::string>& outputs) {
  Measurement m;
  nlohmann::json summary;  // parsed once, only when a flat key is missing
  bool summary_parsed = false;
  bool summary_ok = false;
  auto from_summary = [&](const std::vector<std::string>& path) -> std::optional<double> {
    if (!summary_parsed) {
      summary_parsed = true;
      auto it = outputs.find("summary_json");
      if (it != outputs.end()) {
        summary = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
        summary_ok = !summary.is_discarded() && summary.is_object();
      }
    }
    return summary_ok ? SummaryNumber(summary, path) : std::nullopt;
  };
  auto read = [&](const std::string& flat, const std::vector<std::string>& path) -> std::optional<double> {
    auto it = outputs.find(flat);
    if (it != outputs.end())
      if (auto v = ParseFinite(it->second)) return v;
    return from_summary(path);
  };
  m.value = read(metric.flat_key, metric.summary_path);
  if (!m.value) {
    m.no_data = "the load test published neither output '" + metric.flat_key + "' nor summary_json" +
                PathText(metric.summary_path) + " as a number";
    if (outputs.empty()) m.no_data = "the load-test step has no outputs";
  }
  m.samples = read("requests", {"requests"});
  if (!m.samples) m.samples_no_data = "the load test published no 'requests' count";
  return m;
}

}  // namespace slipway::steps::slo
