#include "steps/slo.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>

#include "pipeline/atomic_file.h"
#include "pipeline/duration.h"
#include "pipeline/template.h"
#include "steps/slo_config.h"
#include "steps/slo_eval.h"
#include "steps/slo_prometheus.h"

// Format of report_json (schema "slipway.slo/v1"), the verdict handed to the report kind:
// {
//   "schema": "slipway.slo/v1", "step": "gate", "evaluated_at": "2024-05-01T12:00:00Z",
//   "window": "5m", "prometheus": "http://127.0.0.1:9090" | null,
//   "objectives": [{"name", "source": "ratio|query|loadtest", "query", "good", "total", "from", "metric",
//                   "value": 99.95 | null, "unit": "%", "target": ">= 99.9", "warning": ">= 99.5" | null,
//                   "result": "pass|warning|fail", "weight": 1, "key": true, "no_data": false,
//                   "samples": 1234 | null, "message": "measured 99.95 %, target >= 99.9",
//                   "series": [[unix_s, value], ...]}],      // over the window; Prometheus objectives only
//   "score": 87.5,
//   "gate": {"pass": 90, "warning": 75, "result": "warning", "reasons": ["..."]},
//   "error_budget": null | {"objective", "period": "30d", "target": 99.9, "allowed_error_percent": 0.1,
//                   "measured_percent": 99.95 | null, "consumed_percent": 50 | null,
//                   "remaining_percent": 50 | null, "burn_rate": 0.5 | null, "warn_at": 90, "freeze": true,
//                   "state": "ok|warn|spent|unknown", "message": "..."},
//   "result": "pass|warning|fail"
// }

namespace slipway::steps {

namespace {

using pipeline::Json;
using slo::Measurement;
using slo::Objective;
using slo::Outcome;
using slo::Source;

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string IsoTime(double unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The URL without user:password@, for reports.
std::string RedactUrl(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t at = url.find('@', scheme + 3);
  size_t slash = url.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && at > slash)) return url;
  return url.substr(0, scheme + 3) + "***@" + url.substr(at + 1);
}

Json NumberOrNull(std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return nullptr;
  return *v;
}

// 100 * good / total, rounded to 1e-9 %: two sums over the same requests may differ in the last
// bit, and 99.99999999999999 % must not read as an error rate (nor as a burn rate of 1.4e-13).
double Percent(double good, double total) { return std::round(100 * good / total * 1e9) / 1e9; }

std::string RatioQuery(const std::string& good, const std::string& total) {
  return "100 * (" + good + ") / (" + total + ")";
}

// A hard failure: the whole evaluation stops (Prometheus unreachable, credentials refused).
struct Abort {
  std::string message;
};

// Measures objectives for one Apply call.
class Evaluator {
 public:
  Evaluator(const pipeline::StepContext& ctx, const slo::SloConfig& cfg)
      : ctx_(ctx), cfg_(cfg), now_(NowSeconds()) {
    if (cfg.prometheus) {
      slo::PrometheusConfig pc = *cfg.prometheus;
      pc.cancel = ctx.cancel;
      client_.emplace(std::move(pc));
    }
  }

  double Now() const { return now_; }

  /// Measures `o` with $window = `window`.
  tl::expected<Measurement, Abort> Measure(const Objective& o, const std::string& window) {
    switch (o.source) {
      case Source::kRatio: return MeasureRatio(o, window);
      case Source::kQuery: return MeasureQuery(o, window);
      case Source::kLoadTest: return MeasureLoadTest(o);
    }
    return Measurement{};
  }

  /// The objective over its window as points, for the report's chart; null when unavailable.
  Json Series(const Objective& o) {
    if (!client_ || o.source == Source::kLoadTest) return nullptr;
    const std::string window = cfg_.WindowText();
    std::string q = o.source == Source::kRatio
                        ? RatioQuery(slo::SubstituteWindow(o.good, window), slo::SubstituteWindow(o.total, window))
                        : slo::SubstituteWindow(o.query, window);
    const double span = static_cast<double>(cfg_.window.count()) / 1000.0;
    const double step = std::max(1.0, std::round(span / 60));
    auto r = client_->QueryRange(q, now_ - span, now_, step);
    if (!r) {
      ctx_.Log("no series for the report of '" + o.name + "': " + r.error().message, pipeline::Level::kDebug);
      return nullptr;
    }
    if (r->size() != 1) return nullptr;
    Json points = Json::array();
    for (const auto& [t, v] : r->front().points)
      if (std::isfinite(v))
        points.push_back(Json::array({t, o.source == Source::kRatio ? std::round(v * 1e9) / 1e9 : v}));
    return points;
  }

 private:
  using Result = tl::expected<Measurement, Abort>;

  // One value from an instant query: nullopt with `why` set when there is none, or `error` set
  // when the query failed. Hard failures become an Abort.
  struct Single {
    std::optional<double> value;
    std::string why;
    std::string error;
    std::string detail;
  };

  tl::expected<Single, Abort> Instant(const std::string& q, const char* what, bool pick_worst, bool lower_is_better,
                                      bool sum_series) {
    Single s;
    auto r = client_->Query(q, now_);
    if (!r) {
      if (r.error().kind != slo::QueryFailure::Kind::kQuery) return tl::unexpected<Abort>(Abort{r.error().message});
      s.error = r.error().message + " (" + what + ": " + q + ")";
      return s;
    }
    const auto& samples = *r;
    if (samples.empty()) {
      s.why = std::string("the ") + what + " returned no data";
      return s;
    }
    if (samples.size() == 1) {
      if (std::isnan(samples[0].value)) s.why = std::string("the ") + what + " returned NaN";
      else s.value = samples[0].value;
      return s;
    }
    if (sum_series) {
      double sum = 0;
      for (const auto& x : samples) sum += x.value;
      if (std::isnan(sum)) s.why = std::string("the ") + what + " returned NaN";
      else s.value = sum;
      return s;
    }
    if (!pick_worst) {
      s.error = "the " + std::string(what) + " returned " + std::to_string(samples.size()) +
                " series; aggregate it to one, e.g. sum(...) (" + what + ": " + q + ")";
      return s;
    }
    const slo::Sample* worst = nullptr;
    size_t nan = 0;
    for (const auto& x : samples) {
      if (std::isnan(x.value)) {
        ++nan;
        continue;
      }
      if (!worst || (lower_is_better ? x.value > worst->value : x.value < worst->value)) worst = &x;
    }
    if (!worst) {
      s.why = "all " + std::to_string(samples.size()) + " series of the " + what + " are NaN";
      return s;
    }
    s.value = worst->value;
    s.detail = "worst of " + std::to_string(samples.size()) + " series: " + slo::LabelsText(worst->labels) +
               (nan ? " (" + std::to_string(nan) + " NaN ignored)" : "");
    return s;
  }

  // Fills samples when the objective counts them; a failed samples query only matters with min_samples.
  std::optional<Abort> Samples(const Objective& o, const std::string& window, Measurement& m) {
    if (o.samples.empty()) return std::nullopt;
    const std::string q = slo::SubstituteWindow(o.samples, window);
    auto s = Instant(q, "samples query", false, false, /*sum_series=*/true);
    if (!s) return s.error();
    if (!s->error.empty()) {
      if (o.min_samples) m.error = s->error;
    } else if (!s->value) {
      m.samples_no_data = s->why + " (samples query: " + q + ")";
    } else {
      m.samples = s->value;
    }
    return std::nullopt;
  }

  Result MeasureRatio(const Objective& o, const std::string& window) {
    Measurement m;
    const std::string good = slo::SubstituteWindow(o.good, window);
    const std::string total = slo::SubstituteWindow(o.total, window);
    m.query = RatioQuery(good, total);
    auto t = Instant(total, "total query", false, false, false);
    if (!t) return tl::unexpected<Abort>(t.error());
    if (!t->error.empty()) {
      m.error = t->error;
      return m;
    }
    if (!t->value) {
      m.no_data = t->why;
    } else if (*t->value == 0) {
      m.no_data = "the total query is 0 (no requests in " + window + ")";
    } else {
      auto g = Instant(good, "good query", false, false, false);
      if (!g) return tl::unexpected<Abort>(g.error());
      if (!g->error.empty()) {
        m.error = g->error;
        return m;
      }
      if (!g->value && g->why.find("no data") != std::string::npos) {
        // sum() over no series is empty, not 0: no request was good (say so; it is not hidden).
        m.value = 0;
        m.detail = "the good query returned no series, counted as 0";
      } else if (!g->value) {
        m.no_data = g->why;
      } else {
        m.value = Percent(*g->value, *t->value);
      }
    }
    if (auto abort = Samples(o, window, m)) return tl::unexpected<Abort>(*abort);
    return m;
  }

  Result MeasureQuery(const Objective& o, const std::string& window) {
    Measurement m;
    m.query = slo::SubstituteWindow(o.query, window);
    auto s = Instant(m.query, "query", true, o.pass.LowerIsBetter(), false);
    if (!s) return tl::unexpected<Abort>(s.error());
    m.value = s->value;
    m.no_data = s->why;
    m.error = s->error;
    m.detail = s->detail;
    if (auto abort = Samples(o, window, m)) return tl::unexpected<Abort>(*abort);
    return m;
  }

  Result MeasureLoadTest(const Objective& o) {
    Measurement m;
    m.query = o.metric + " of step '" + o.from + "'";
    const slo::LoadTestMetric* metric = slo::FindLoadTestMetric(o.metric);
    if (!metric) {
      m.error = "unknown load-test metric '" + o.metric + "'";
      return m;
    }
    if (!ctx_.run || !ctx_.run->steps) {
      m.no_data = "no run to read step '" + o.from + "' from";
      return m;
    }
    for (const auto& snap : ctx_.run->steps()) {
      if (snap.id != o.from) continue;
      if (snap.outputs.empty()) {
        m.no_data = "step '" + o.from + "' has no outputs (status: " + (snap.status.empty() ? "unknown" : snap.status) +
                    ")" + (snap.status == "pending" || snap.status == "running" ? "; add it to this step's needs" : "");
        return m;
      }
      Measurement read = slo::ReadLoadTestMetric(*metric, snap.outputs);
      read.query = m.query;
      return read;
    }
    m.error = "there is no step '" + o.from + "' in this run (from: names the id of a loadtest step)";
    return m;
  }

  const pipeline::StepContext& ctx_;
  const slo::SloConfig& cfg_;
  double now_;
  std::optional<slo::PrometheusClient> client_;
};

std::string Pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::vector<std::string> DescribeConfig(const pipeline::StepContext& ctx);

}  // namespace

void SloStep::Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const {
  auto with = step.body.find("with");
  if (with == step.body.end()) {
    diag.Error(step.kind_loc, "step '" + step.id + "' (slo) needs 'with:' giving objectives");
    return;
  }
  slo::ParseSloConfig(
      *with,
      [&](const std::string& pointer, const std::string& message, const std::string& hint) {
        diag.Error(step.LocOf(pointer), message, hint);
      },
      slo::Templates::kAllowed);
}

std::optional<std::vector<std::string>> SloStep::Outputs(const pipeline::StepSpec& step) const {
  std::vector<std::string> out = {"result", "score", "report_json"};
  const Json with = step.body.value("with", Json::object());
  if (!with.is_object()) return out;
  auto objs = with.find("objectives");
  if (objs != with.end() && objs->is_array()) {
    for (const auto& o : *objs) {
      if (!o.is_object() || !o.contains("name")) continue;
      std::string name = pipeline::ValueText(o["name"]);
      if (pipeline::HasTemplate(name)) return std::nullopt;  // only known once rendered
      out.push_back(name + ".value");
      out.push_back(name + ".result");
    }
  }
  if (with.contains("error_budget")) {
    out.push_back("budget_remaining");
    out.push_back("burn_rate");
  }
  return out;
}

std::vector<std::string> SloStep::Describe(const pipeline::StepContext& ctx) const {
  try {
    return DescribeConfig(ctx);
  } catch (const std::exception& e) {
    return {std::string("slo: internal error: ") + e.what()};
  }
}

namespace {

std::vector<std::string> DescribeConfig(const pipeline::StepContext& ctx) {
  std::vector<std::string> errors;
  auto cfg = slo::ParseSloConfig(
      ctx.With(),
      [&](const std::string& pointer, const std::string& message, const std::string&) {
        errors.push_back(pointer + ": " + message);
      },
      slo::Templates::kRendered);
  if (!cfg) {
    std::vector<std::string> lines;
    for (const auto& e : errors) lines.push_back("invalid: " + e);
    return lines;
  }
  std::vector<std::string> lines;
  const std::string window = cfg->WindowText();
  if (cfg->prometheus)
    lines.push_back("query Prometheus at " + RedactUrl(cfg->prometheus->url) + " (window " + window + ", timeout " +
                    pipeline::FormatDuration(cfg->prometheus->timeout) + ", " +
                    (cfg->prometheus->retries == 1 ? std::string("1 retry")
                                                   : std::to_string(cfg->prometheus->retries) + " retries") +
                    ")");
  for (const auto& o : cfg->objectives) {
    std::string head = "objective " + o.name + " [" + (o.key ? "key, " : "") + "weight " + slo::FormatNumber(o.weight) +
                       "]: ";
    std::string cmp = o.pass.text + (o.warning ? " (warning " + o.warning->text + ")" : "");
    std::string tail = "; no data => " + std::string(o.on_no_data == slo::NoDataPolicy::kFail   ? "fail"
                                                     : o.on_no_data == slo::NoDataPolicy::kWarn ? "warning"
                                                                                                 : "pass");
    if (o.min_samples) tail += "; min_samples " + slo::FormatNumber(*o.min_samples);
    switch (o.source) {
      case Source::kRatio:
        lines.push_back(head + "100 * good / total (in %) " + cmp + tail);
        lines.push_back("  good:  " + slo::SubstituteWindow(o.good, window));
        lines.push_back("  total: " + slo::SubstituteWindow(o.total, window));
        break;
      case Source::kQuery:
        lines.push_back(head + "query value " + cmp + tail);
        lines.push_back("  query: " + slo::SubstituteWindow(o.query, window));
        break;
      case Source::kLoadTest:
        lines.push_back(head + o.metric + " of step '" + o.from + "' " + cmp + tail);
        break;
    }
    if (!o.samples.empty()) lines.push_back("  samples: " + slo::SubstituteWindow(o.samples, window));
  }
  lines.push_back("gate: pass at score >= " + slo::FormatNumber(cfg->gate.pass) + " %, warning at >= " +
                  slo::FormatNumber(cfg->gate.warning) + " %; a failing key objective fails the gate");
  if (cfg->budget) {
    const Objective* o = cfg->Find(cfg->budget->objective);
    std::string allowed = o ? slo::FormatNumber(100 - o->pass.limit) + " %" : "?";
    lines.push_back("error budget: '" + cfg->budget->objective + "' over " + slo::PromDuration(cfg->budget->period) +
                    " (allowed error " + allowed + "), warn at " + slo::FormatNumber(cfg->budget->warn_at) +
                    " % consumed" + (cfg->budget->freeze ? ", freeze (fail before anything else) when spent" : ""));
  }
  return lines;
}

}  // namespace

Expected<pipeline::ApplyResult> SloStep::Apply(const pipeline::StepContext& ctx) const {
  try {
    std::vector<std::string> errors;
    auto parsed = slo::ParseSloConfig(
        ctx.With(),
        [&](const std::string& pointer, const std::string& message, const std::string& hint) {
          errors.push_back(pointer + ": " + message + (hint.empty() ? "" : " (" + hint + ")"));
        },
        slo::Templates::kRendered);
    if (!parsed) {
      std::string msg = "invalid slo settings: ";
      for (size_t i = 0; i < errors.size(); ++i) msg += (i ? "; " : "") + errors[i];
      return Fail(msg);
    }
    const slo::SloConfig& cfg = *parsed;
    Evaluator eval(ctx, cfg);
    const std::string window = cfg.WindowText();
    const std::string step_id = ctx.spec ? ctx.spec->id : "slo";

    // 1. The error budget first: a spent budget with freeze blocks the deploy whatever else holds.
    Json budget_json = nullptr;
    std::optional<slo::BudgetNumbers> budget;
    const Objective* budget_objective = cfg.budget ? cfg.Find(cfg.budget->objective) : nullptr;
    std::string budget_unknown;  // why the budget could not be measured
    if (cfg.budget && !budget_objective)
      return Fail("error_budget.objective '" + cfg.budget->objective + "' names no objective");
    if (cfg.budget) {
      const std::string period = slo::PromDuration(cfg.budget->period);
      auto m = eval.Measure(*budget_objective, period);
      if (!m) return Fail(m.error().message);
      slo::ObjectiveVerdict v = slo::Judge(*budget_objective, *m);
      const double target = budget_objective->pass.limit;
      budget_json = {{"objective", budget_objective->name}, {"period", period}, {"target", target},
                     {"allowed_error_percent", 100 - target}, {"measured_percent", nullptr},
                     {"consumed_percent", nullptr}, {"remaining_percent", nullptr}, {"burn_rate", nullptr},
                     {"warn_at", cfg.budget->warn_at}, {"freeze", cfg.budget->freeze}};
      if (v.no_data || !m->error.empty() || !m->value) {
        budget_unknown = "cannot measure the error budget of '" + budget_objective->name + "' over " + period + ": " +
                         v.message;
        budget_json["state"] = "unknown";
        budget_json["message"] = budget_unknown;
        if (cfg.budget->freeze && v.outcome == Outcome::kFail) return Fail("deployment freeze check failed: " + budget_unknown);
      } else {
        budget = slo::ComputeBudget(target, *m->value, std::nullopt);
        budget_json["measured_percent"] = *m->value;
        budget_json["consumed_percent"] = budget->consumed;
        budget_json["remaining_percent"] = budget->remaining;
        const std::string spent = "the error budget of '" + budget_objective->name + "' is spent (consumed " +
                                  Pct(budget->consumed) + " % of " + slo::FormatNumber(budget->allowed_error) +
                                  " % over " + period + ")";
        if (cfg.budget->freeze && budget->consumed >= 100) return Fail("deployment freeze: " + spent);
        std::string state = budget->consumed >= 100 ? "spent" : budget->consumed >= cfg.budget->warn_at ? "warn" : "ok";
        budget_json["state"] = state;
        budget_json["message"] = state == "spent" ? spent
                                                  : "consumed " + Pct(budget->consumed) + " % of " +
                                                        slo::FormatNumber(budget->allowed_error) + " % over " + period +
                                                        ", " + Pct(budget->remaining) + " % remaining";
      }
    }

    // 2. Every objective over the window.
    std::vector<slo::ObjectiveVerdict> verdicts;
    std::vector<Measurement> measurements;
    for (const auto& o : cfg.objectives) {
      if (ctx.Cancelled()) return Fail("cancelled while evaluating objective '" + o.name + "'");
      auto m = eval.Measure(o, window);
      if (!m) return Fail(m.error().message);
      verdicts.push_back(slo::Judge(o, *m));
      measurements.push_back(*m);
    }

    // 3. Burn rate over the window, then the gate.
    if (budget && budget_objective) {
      for (size_t i = 0; i < cfg.objectives.size(); ++i) {
        if (&cfg.objectives[i] != budget_objective) continue;
        if (verdicts[i].value && !verdicts[i].no_data) {
          budget->burn_rate = (100 - *verdicts[i].value) / budget->allowed_error;
          budget_json["burn_rate"] = NumberOrNull(budget->burn_rate);
        }
      }
    }
    slo::GateVerdict gate = slo::ScoreGate(cfg.objectives, verdicts, cfg.gate);
    auto at_most_warning = [&](const std::string& reason) {
      if (gate.outcome == Outcome::kPass) gate.outcome = Outcome::kWarning;
      gate.reasons.push_back(reason);
    };
    if (budget && budget->consumed >= cfg.budget->warn_at)
      at_most_warning("error budget of '" + budget_objective->name + "' is " + Pct(budget->consumed) +
                      " % consumed (warn at " + slo::FormatNumber(cfg.budget->warn_at) + " %)");
    if (!budget_unknown.empty() && budget_objective->on_no_data != slo::NoDataPolicy::kPass)
      at_most_warning(budget_unknown);

    // 4. Outputs and the verdict.
    pipeline::ApplyResult result;
    Json objectives = Json::array();
    size_t passed = 0;
    for (size_t i = 0; i < cfg.objectives.size(); ++i) {
      const Objective& o = cfg.objectives[i];
      const auto& v = verdicts[i];
      const auto& m = measurements[i];
      if (v.outcome == Outcome::kPass) ++passed;
      const bool shown = v.value && !v.no_data;
      result.outputs[o.name + ".value"] = shown ? slo::FormatNumber(*v.value) : "";
      result.outputs[o.name + ".result"] = slo::OutcomeText(v.outcome);
      Json j = {{"name", o.name},
                {"source", slo::SourceText(o.source)},
                {"query", m.query},
                {"value", shown ? NumberOrNull(v.value) : Json(nullptr)},
                {"unit", o.unit},
                {"target", o.pass.text},
                {"warning", o.warning ? Json(o.warning->text) : Json(nullptr)},
                {"result", slo::OutcomeText(v.outcome)},
                {"weight", o.weight},
                {"key", o.key},
                {"no_data", v.no_data},
                {"samples", NumberOrNull(m.samples)},
                {"message", v.message}};
      if (o.source == Source::kRatio) {
        j["good"] = slo::SubstituteWindow(o.good, window);
        j["total"] = slo::SubstituteWindow(o.total, window);
      }
      if (o.source == Source::kLoadTest) {
        j["from"] = o.from;
        j["metric"] = o.metric;
      }
      if (shown && o.source != Source::kLoadTest) {
        Json series = eval.Series(o);
        if (!series.is_null()) j["series"] = series;
      }
      objectives.push_back(j);
      ctx.Log(o.name + ": " + slo::OutcomeText(v.outcome) + " - " + v.message,
              v.outcome == Outcome::kFail ? pipeline::Level::kWarn : pipeline::Level::kInfo);
    }
    result.outputs["result"] = slo::OutcomeText(gate.outcome);
    result.outputs["score"] = slo::FormatNumber(gate.score);
    if (cfg.budget) {
      result.outputs["budget_remaining"] = budget ? slo::FormatNumber(budget->remaining) : "";
      result.outputs["burn_rate"] = budget && budget->burn_rate ? slo::FormatNumber(*budget->burn_rate) : "";
    }
    Json report = {{"schema", "slipway.slo/v1"},
                   {"step", step_id},
                   {"evaluated_at", IsoTime(eval.Now())},
                   {"window", window},
                   {"prometheus", cfg.prometheus ? Json(RedactUrl(cfg.prometheus->url)) : Json(nullptr)},
                   {"objectives", objectives},
                   {"score", gate.score},
                   {"gate", {{"pass", cfg.gate.pass},
                             {"warning", cfg.gate.warning},
                             {"result", slo::OutcomeText(gate.outcome)},
                             {"reasons", gate.reasons}}},
                   {"error_budget", budget_json},
                   {"result", slo::OutcomeText(gate.outcome)}};
    result.outputs["report_json"] = report.dump(-1, ' ', false, Json::error_handler_t::replace);

    // The verdict also lands in the state dir: a failed gate returns no outputs, and the report
    // kind still wants to show why.
    if (!ctx.state_dir.empty()) {
      std::error_code ec;
      std::filesystem::path dir = ctx.state_dir / "slo" / (ctx.plan ? ctx.plan->name : std::string("plan"));
      std::filesystem::create_directories(dir, ec);
      auto written = pipeline::WriteFileAtomically(dir / (step_id + ".json"), report.dump(2, ' ', false,
                                                                                          Json::error_handler_t::replace) +
                                                                                  "\n",
                                                   0644);
      if (!written) ctx.Log("cannot save the SLO verdict: " + written.error().message, pipeline::Level::kWarn);
    }

    std::string score = "score " + slo::FormatNumber(gate.score) + " %";
    std::string reasons;
    for (const auto& r : gate.reasons) reasons += "; " + r;
    if (gate.outcome == Outcome::kFail) {
      std::string list;
      for (int pass = 0; pass < 2 && list.empty(); ++pass) {
        // The failing objectives; when none failed (a score made of warnings), the warning ones.
        const Outcome wanted = pass == 0 ? Outcome::kFail : Outcome::kWarning;
        for (size_t i = 0; i < verdicts.size(); ++i)
          if (verdicts[i].outcome == wanted)
            list += (list.empty() ? "" : "; ") + verdicts[i].name + (cfg.objectives[i].key ? " [key]" : "") + ": " +
                    verdicts[i].message;
        if (!list.empty() && pass == 1) list = "warnings: " + list;
      }
      // "score 50 % is below ..." already says the score; otherwise lead with it.
      std::string why = !gate.reasons.empty() && gate.reasons.front().rfind("score ", 0) == 0 ? reasons.substr(2)
                                                                                               : score + reasons;
      ctx.partial_outputs = result.outputs;  // the report shows the failed gate's table too
      return Fail("SLO gate failed (" + why + "): " + list);
    }
    result.summary = "SLO gate " + slo::OutcomeText(gate.outcome) + ": " + score + ", " + std::to_string(passed) + "/" +
                     std::to_string(cfg.objectives.size()) + " objectives pass";
    if (budget) result.summary += ", error budget " + Pct(budget->remaining) + " % remaining";
    if (gate.outcome == Outcome::kWarning) ctx.Log(result.summary + reasons, pipeline::Level::kWarn);
    return result;
  } catch (const std::exception& e) {
    // Nothing above should throw; if a library does, it is a step failure, never a crash.
    return Fail(std::string("slo: internal error: ") + e.what());
  }
}

}  // namespace slipway::steps
