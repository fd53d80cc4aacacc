#include "steps/slo_config.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>

#include "pipeline/diagnostics.h"
#include "pipeline/duration.h"
#include "pipeline/template.h"

namespace slipway::steps::slo {

namespace {

using pipeline::Json;

const std::vector<std::string> kTopKeys = {"prometheus", "window", "objectives", "gate", "error_budget"};
const std::vector<std::string> kPrometheusKeys = {"url",      "bearer_token", "headers", "ca_file",
                                                  "insecure", "timeout",      "retries"};
const std::vector<std::string> kObjectiveKeys = {"name",   "ratio", "query",      "from",        "metric",
                                                 "target", "pass",  "warning",    "weight",      "key",
                                                 "on_no_data",      "min_samples", "samples"};
const std::vector<std::string> kRatioKeys = {"good", "total"};
const std::vector<std::string> kGateKeys = {"pass", "warning"};
const std::vector<std::string> kBudgetKeys = {"objective", "period", "freeze", "warn_at"};

std::string Join(const std::vector<std::string>& words, const std::string& sep) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : sep) + w;
  return s;
}

bool ValidName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

// Reads one level of the config, reporting problems against JSON pointers.
class Reader {
 public:
  Reader(const ConfigReport& report, Templates templates) : report_(report), templates_(templates) {}

  bool Failed() const { return failed_; }

  void Error(const std::string& pointer, const std::string& message, const std::string& hint = {}) {
    failed_ = true;
    report_(pointer, message, hint);
  }

  /// A value that is still a template at load time: accepted as is.
  bool Templated(const Json& v) const {
    return templates_ == Templates::kAllowed && v.is_string() && pipeline::HasTemplate(v.get_ref<const std::string&>());
  }

  /// Unknown keys of `obj` (at `pointer`, named `where` in messages), with a suggestion.
  void Keys(const Json& obj, const std::string& pointer, const std::string& where,
            const std::vector<std::string>& allowed) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      bool ok = false;
      for (const auto& a : allowed) ok |= a == it.key();
      if (ok) continue;
      std::string near = pipeline::ClosestMatch(it.key(), allowed);
      Error(pointer + "/" + pipeline::PointerEscape(it.key()), "unknown key '" + it.key() + "' in '" + where + "' of slo",
            near.empty() ? "expected one of: " + Join(allowed, ", ") : "did you mean '" + near + "'?");
    }
  }

  /// A mapping, or an error.
  bool Object(const Json& v, const std::string& pointer, const std::string& what) {
    if (v.is_object()) return true;
    Error(pointer, "expected '" + what + "' to be a mapping");
    return false;
  }

  /// A non-empty string; nullopt (with an error) otherwise.
  std::optional<std::string> String(const Json& obj, const std::string& key, const std::string& pointer,
                                    const std::string& what) {
    auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (it->is_string() && !it->get_ref<const std::string&>().empty()) return it->get<std::string>();
    if (it->is_number()) return pipeline::ValueText(*it);
    Error(pointer + "/" + key, "expected '" + what + "' to be a non-empty string");
    return std::nullopt;
  }

  /// A number (or numeric string: templating turns numbers into text). Templates yield `fallback`.
  std::optional<double> Number(const Json& obj, const std::string& key, const std::string& pointer,
                               const std::string& what, double fallback) {
    auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (Templated(*it)) return fallback;
    if (it->is_number()) return it->get<double>();
    if (it->is_string()) {
      const std::string& s = it->get_ref<const std::string&>();
      char* end = nullptr;
      double v = std::strtod(s.c_str(), &end);
      if (!s.empty() && end && *end == '\0' && std::isfinite(v)) return v;
    }
    Error(pointer + "/" + key, "expected '" + what + "' to be a number, got " + pipeline::ValueText(*it));
    return std::nullopt;
  }

  std::optional<bool> Bool(const Json& obj, const std::string& key, const std::string& pointer,
                           const std::string& what) {
    auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (Templated(*it)) return false;
    if (it->is_boolean()) return it->get<bool>();
    if (it->is_string()) {
      const std::string& s = it->get_ref<const std::string&>();
      if (s == "true" || s == "yes") return true;
      if (s == "false" || s == "no") return false;
    }
    Error(pointer + "/" + key, "expected '" + what + "' to be true or false, got " + pipeline::ValueText(*it));
    return std::nullopt;
  }

  /// A positive duration ("30s", "30d", or a number of seconds).
  std::optional<std::chrono::milliseconds> Duration(const Json& obj, const std::string& key,
                                                    const std::string& pointer, const std::string& what,
                                                    std::chrono::milliseconds fallback) {
    auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (Templated(*it)) return fallback;
    std::optional<std::chrono::milliseconds> d;
    std::string error;
    if (it->is_number()) {
      d = std::chrono::milliseconds(static_cast<long long>(std::llround(it->get<double>() * 1000)));
    } else if (it->is_string()) {
      auto parsed = pipeline::ParseDuration(it->get_ref<const std::string&>());
      if (parsed) d = *parsed;
      else error = parsed.error().message;
    } else {
      error = "expected a duration such as 30s, 5m or 30d";
    }
    if (d && d->count() <= 0) error = "must be longer than zero";
    if (!error.empty()) {
      // ParseDuration's message lists ms, s, m, h; days are accepted too and matter for budgets.
      if (error.find("(e.g.") != std::string::npos) error = "invalid duration '" + pipeline::ValueText(*it) +
                                                            "'; expected a number with a unit: ms, s, m, h, d "
                                                            "(e.g. 30s, 5m, 30d)";
      Error(pointer + "/" + key, "'" + what + "': " + error);
      return std::nullopt;
    }
    return d;
  }

 private:
  const ConfigReport& report_;
  Templates templates_;
  bool failed_ = false;
};

// Converts a comparison's number to the unit of the measured value, or says why its unit does not fit.
std::string ApplyUnit(Comparison& c, const Objective& o, const LoadTestMetric* metric) {
  switch (o.source) {
    case Source::kRatio:
      if (c.unit == Unit::kMillis || c.unit == Unit::kSeconds)
        return "a ratio is a percentage; a time unit makes no sense here";
      c.limit = c.number;  // "99.9" and "99.9%" both mean percent
      return "";
    case Source::kQuery:
      if (c.unit == Unit::kPercent)
        return "'%' is ambiguous for a query (0.99 or 99?); write the number the query returns";
      // Prometheus' base unit of time is the second (http_request_duration_seconds).
      c.limit = c.unit == Unit::kMillis ? c.number / 1000 : c.number;
      return "";
    case Source::kLoadTest:
      if (!metric) return "";
      if (metric->latency) {
        if (c.unit == Unit::kPercent) return "'" + metric->name + "' is a latency; use ms or s";
        c.limit = c.unit == Unit::kSeconds ? c.number * 1000 : c.number;
        return "";
      }
      if (metric->fraction) {
        if (c.unit == Unit::kMillis || c.unit == Unit::kSeconds)
          return "'" + metric->name + "' is a fraction (0.01 = 1 %); a time unit makes no sense here";
        c.limit = c.unit == Unit::kPercent ? c.number / 100 : c.number;
        return "";
      }
      if (c.unit != Unit::kNone) return "'" + metric->name + "' takes a plain number, without a unit";
      c.limit = c.number;
      return "";
  }
  return "";
}

}  // namespace

const Objective* SloConfig::Find(const std::string& name) const {
  for (const auto& o : objectives)
    if (o.name == name) return &o;
  return nullptr;
}

bool SloConfig::NeedsPrometheus() const {
  for (const auto& o : objectives)
    if (o.source != Source::kLoadTest) return true;
  return budget.has_value();
}

std::optional<SloConfig> ParseSloConfig(const Json& with, const ConfigReport& report, Templates templates) {
  Reader r(report, templates);
  SloConfig cfg;
  if (!with.is_object()) {
    r.Error("/with", "slo needs 'with:' giving objectives");
    return std::nullopt;
  }
  r.Keys(with, "/with", "with", kTopKeys);

  // prometheus
  if (auto it = with.find("prometheus"); it != with.end()) {
    const std::string p = "/with/prometheus";
    if (r.Object(*it, p, "with.prometheus")) {
      const Json& pj = *it;
      r.Keys(pj, p, "with.prometheus", kPrometheusKeys);
      PrometheusConfig pc;
      if (auto url = r.String(pj, "url", p, "prometheus.url")) {
        pc.url = *url;
        if (!r.Templated(pj["url"]) && pc.url.rfind("http://", 0) != 0 && pc.url.rfind("https://", 0) != 0)
          r.Error(p + "/url", "expected 'prometheus.url' to start with http:// or https://, got '" + pc.url + "'");
      } else if (!pj.contains("url")) {
        r.Error(p, "'with.prometheus' needs 'url'");
      }
      if (auto t = r.String(pj, "bearer_token", p, "prometheus.bearer_token")) pc.bearer_token = *t;
      if (auto c = r.String(pj, "ca_file", p, "prometheus.ca_file")) pc.ca_file = *c;
      if (auto b = r.Bool(pj, "insecure", p, "prometheus.insecure")) pc.insecure = *b;
      if (auto d = r.Duration(pj, "timeout", p, "prometheus.timeout", pc.timeout)) pc.timeout = *d;
      if (auto n = r.Number(pj, "retries", p, "prometheus.retries", pc.retries)) {
        if (*n < 0 || *n > 10 || *n != std::floor(*n))
          r.Error(p + "/retries", "expected 'prometheus.retries' to be a whole number from 0 to 10");
        else
          pc.retries = static_cast<int>(*n);
      }
      if (auto h = pj.find("headers"); h != pj.end()) {
        if (!h->is_object()) {
          r.Error(p + "/headers", "expected 'prometheus.headers' to be a mapping of header names to values");
        } else {
          for (auto kv = h->begin(); kv != h->end(); ++kv) {
            if (kv.value().is_object() || kv.value().is_array() || kv.value().is_null())
              r.Error(p + "/headers/" + pipeline::PointerEscape(kv.key()),
                      "expected header '" + kv.key() + "' to have a single value");
            else
              pc.headers.emplace_back(kv.key(), pipeline::ValueText(kv.value()));
          }
        }
      }
      cfg.prometheus = pc;
    }
  }

  if (auto d = r.Duration(with, "window", "/with", "window", cfg.window)) cfg.window = *d;

  // objectives
  auto objs = with.find("objectives");
  if (objs == with.end()) {
    r.Error("/with", "slo needs 'with.objectives' (a list of objectives)");
  } else if (!objs->is_array() || objs->empty()) {
    r.Error("/with/objectives", "expected 'with.objectives' to be a non-empty list of objectives");
  } else {
    std::set<std::string> names;
    for (size_t i = 0; i < objs->size(); ++i) {
      const Json& oj = (*objs)[i];
      const std::string p = "/with/objectives/" + std::to_string(i);
      const std::string where = "objectives[" + std::to_string(i) + "]";
      if (!r.Object(oj, p, where)) continue;
      r.Keys(oj, p, where, kObjectiveKeys);
      Objective o;
      bool name_templated = oj.contains("name") && r.Templated(oj["name"]);
      if (auto name = r.String(oj, "name", p, where + ".name")) {
        o.name = *name;
        if (!name_templated && !ValidName(o.name))
          r.Error(p + "/name", "objective name '" + o.name + "' may hold only letters, digits, '-' and '_'",
                  "it names the step's outputs <name>.value and <name>.result");
        else if (!name_templated && !names.insert(o.name).second)
          r.Error(p + "/name", "duplicate objective name '" + o.name + "'");
      } else if (!oj.contains("name")) {
        r.Error(p, where + " needs a 'name'");
      }
      const std::string label = o.name.empty() ? where : "objective '" + o.name + "'";

      // source: exactly one of ratio, query, from + metric
      std::vector<std::string> sources;
      for (const char* k : {"ratio", "query", "from"})
        if (oj.contains(k)) sources.push_back(k);
      if (oj.contains("metric") && !oj.contains("from"))
        r.Error(p + "/metric", label + " has 'metric' but no 'from' (the id of a loadtest step)");
      if (sources.empty()) {
        r.Error(p, label + " needs exactly one source: 'ratio: {good, total}', 'query' or 'from' + 'metric'");
      } else if (sources.size() > 1) {
        r.Error(p + "/" + sources[1],
                label + " has both '" + sources[0] + "' and '" + sources[1] + "'; give exactly one source");
      }
      const LoadTestMetric* metric = nullptr;
      bool source_ok = sources.size() == 1;
      if (source_ok && sources[0] == "ratio") {
        o.source = Source::kRatio;
        o.unit = "%";
        const Json& rj = oj["ratio"];
        if (!r.Object(rj, p + "/ratio", where + ".ratio")) {
          source_ok = false;
        } else {
          r.Keys(rj, p + "/ratio", where + ".ratio", kRatioKeys);
          auto good = r.String(rj, "good", p + "/ratio", where + ".ratio.good");
          auto total = r.String(rj, "total", p + "/ratio", where + ".ratio.total");
          for (const char* k : {"good", "total"})
            if (!rj.contains(k)) r.Error(p + "/ratio", label + ": 'ratio' needs '" + std::string(k) + "' (a PromQL query)");
          if (good) o.good = *good;
          if (total) o.total = *total;
        }
      } else if (source_ok && sources[0] == "query") {
        o.source = Source::kQuery;
        if (auto q = r.String(oj, "query", p, where + ".query")) o.query = *q;
      } else if (source_ok && sources[0] == "from") {
        o.source = Source::kLoadTest;
        if (auto f = r.String(oj, "from", p, where + ".from")) o.from = *f;
        if (!oj.contains("metric")) {
          r.Error(p + "/from", label + " reads step '" + o.from + "' but names no 'metric'",
                  "e.g. metric: \"p(95)\"; one of: " + [] {
                    std::vector<std::string> names;
                    for (const auto& m : LoadTestMetrics()) names.push_back(m.name);
                    return Join(names, ", ");
                  }());
        } else if (auto m = r.String(oj, "metric", p, where + ".metric")) {
          o.metric = *m;
          metric = FindLoadTestMetric(o.metric);
          if (!metric && !r.Templated(oj["metric"])) {
            std::vector<std::string> names;
            for (const auto& lm : LoadTestMetrics()) names.push_back(lm.name);
            std::string near = pipeline::ClosestMatch(o.metric, names);
            r.Error(p + "/metric", "unknown load-test metric '" + o.metric + "'",
                    near.empty() ? "expected one of: " + Join(names, ", ") : "did you mean '" + near + "'?");
          }
          if (metric) o.unit = metric->unit;
        }
        if (oj.contains("samples"))
          r.Error(p + "/samples", label + ": a load-test objective counts its samples from the load test's 'requests'",
                  "remove 'samples'; min_samples alone is enough");
      }

      // pass / target / warning
      if (oj.contains("pass") && oj.contains("target"))
        r.Error(p + "/target", label + " has both 'pass' and 'target'; they mean the same, give one");
      const char* pass_key = oj.contains("pass") ? "pass" : "target";
      auto comparison = [&](const char* key) -> std::optional<Comparison> {
        const Json& v = oj[key];
        const std::string vp = p + "/" + key;
        if (r.Templated(v)) {
          Comparison c;
          c.op = Op::kGreaterEqual;
          c.text = v.get<std::string>();
          return c;
        }
        std::string text;
        if (v.is_number()) {
          text = pipeline::ValueText(v);
        } else if (v.is_string()) {
          text = v.get<std::string>();
        } else {
          r.Error(vp, "expected '" + where + "." + key + "' to be a comparison such as \"< 0.2\"");
          return std::nullopt;
        }
        // A ratio's bare number ("target: 99.9") means "at least": more good requests is better.
        const bool ratio = oj.contains("ratio");
        auto c = ParseComparison(text, ratio ? std::optional<Op>(Op::kGreaterEqual) : std::nullopt);
        if (!c) {
          size_t lead = text.find_first_not_of(" \t");
          bool has_op = lead != std::string::npos && std::string("<>=!").find(text[lead]) != std::string::npos;
          std::string hint;
          if (!has_op && !ratio)
            hint = "a bare number does not say which way is good; write e.g. \"< " + text + "\" or \"> " + text + "\"";
          r.Error(vp, "invalid comparison '" + text + "' in '" + where + "." + key + "': " + c.error().message, hint);
          return std::nullopt;
        }
        if (source_ok) {
          std::string unit_error = ApplyUnit(*c, o, metric);
          if (!unit_error.empty()) {
            r.Error(vp, "'" + where + "." + key + ": " + pipeline::ValueText(v) + "': " + unit_error);
            return std::nullopt;
          }
        }
        return *c;
      };
      bool pass_templated = oj.contains(pass_key) && r.Templated(oj[pass_key]);
      if (!oj.contains("pass") && !oj.contains("target")) {
        r.Error(p, label + " needs 'pass' (a comparison such as \"< 0.2\") or 'target'");
      } else if (auto c = comparison(pass_key)) {
        o.pass = *c;
      }
      if (oj.contains("warning")) {
        bool warning_templated = r.Templated(oj["warning"]);
        if (auto w = comparison("warning")) {
          o.warning = *w;
          if (!pass_templated && !warning_templated && oj.contains(pass_key) && !o.pass.text.empty()) {
            if (w->LowerIsBetter() != o.pass.LowerIsBetter())
              r.Error(p + "/warning", label + ": warning '" + w->text + "' compares the other way than " + pass_key +
                                          " '" + o.pass.text + "'");
            else if (w->LowerIsBetter() ? w->limit < o.pass.limit : w->limit > o.pass.limit)
              r.Error(p + "/warning", label + ": warning '" + w->text + "' is stricter than " + pass_key + " '" +
                                          o.pass.text + "'",
                      "the warning band must be looser than pass, e.g. pass \"< 0.2\", warning \"< 0.25\"");
          }
        }
      }

      if (auto w = r.Number(oj, "weight", p, where + ".weight", 1)) {
        if (*w < 0) r.Error(p + "/weight", "expected '" + where + ".weight' to be zero or more");
        o.weight = *w;
      }
      if (auto k = r.Bool(oj, "key", p, where + ".key")) o.key = *k;
      if (auto it = oj.find("on_no_data"); it != oj.end() && !r.Templated(*it)) {
        std::string text = pipeline::ValueText(*it);
        if (auto policy = ParseNoDataPolicy(text)) {
          o.on_no_data = *policy;
        } else {
          std::string near = pipeline::ClosestMatch(text, {"fail", "warn", "pass"});
          r.Error(p + "/on_no_data", "unknown on_no_data '" + text + "'",
                  near.empty() ? "expected fail, warn or pass" : "did you mean '" + near + "'?");
        }
      }
      if (auto n = r.Number(oj, "min_samples", p, where + ".min_samples", 1)) {
        if (*n < 1) r.Error(p + "/min_samples", "expected '" + where + ".min_samples' to be 1 or more");
        o.min_samples = *n;
        if (source_ok && o.source != Source::kLoadTest && !oj.contains("samples"))
          r.Error(p + "/min_samples", label + " has min_samples but no 'samples' query to count them",
                  "e.g. samples: 'sum(increase(http_requests_total[$window]))'");
      }
      if (source_ok && o.source != Source::kLoadTest)
        if (auto s = r.String(oj, "samples", p, where + ".samples")) o.samples = *s;
      if (o.source == Source::kQuery && source_ok && !o.pass.text.empty() &&
          (o.pass.unit == Unit::kMillis || o.pass.unit == Unit::kSeconds))
        o.unit = "s";
      cfg.objectives.push_back(std::move(o));
    }
  }

  // gate
  if (auto it = with.find("gate"); it != with.end()) {
    if (r.Object(*it, "/with/gate", "with.gate")) {
      r.Keys(*it, "/with/gate", "with.gate", kGateKeys);
      for (const char* k : {"pass", "warning"}) {
        double fallback = std::string(k) == "pass" ? cfg.gate.pass : cfg.gate.warning;
        if (auto n = r.Number(*it, k, "/with/gate", std::string("gate.") + k, fallback)) {
          if (*n < 0 || *n > 100)
            r.Error("/with/gate/" + std::string(k), "expected 'gate." + std::string(k) + "' to be a percentage from 0 to 100");
          (std::string(k) == "pass" ? cfg.gate.pass : cfg.gate.warning) = *n;
        }
      }
      if (cfg.gate.warning > cfg.gate.pass)
        r.Error("/with/gate/warning", "gate.warning (" + FormatNumber(cfg.gate.warning) + ") is above gate.pass (" +
                                          FormatNumber(cfg.gate.pass) + ")",
                "scores from warning up to pass are a warning; warning must not exceed pass");
    }
  }

  // error budget
  if (auto it = with.find("error_budget"); it != with.end()) {
    const std::string p = "/with/error_budget";
    if (r.Object(*it, p, "with.error_budget")) {
      r.Keys(*it, p, "with.error_budget", kBudgetKeys);
      BudgetPolicy b;
      if (auto name = r.String(*it, "objective", p, "error_budget.objective")) {
        b.objective = *name;
        const Objective* o = cfg.Find(b.objective);
        if (r.Templated((*it)["objective"])) {
          // checked at run time
        } else if (!o) {
          std::vector<std::string> names;
          for (const auto& x : cfg.objectives) names.push_back(x.name);
          std::string near = pipeline::ClosestMatch(b.objective, names);
          r.Error(p + "/objective", "error_budget.objective '" + b.objective + "' names no objective",
                  near.empty() ? "objectives: " + Join(names, ", ") : "did you mean '" + near + "'?");
        } else if (o->source != Source::kRatio) {
          r.Error(p + "/objective", "error_budget.objective '" + b.objective +
                                        "' must be a ratio objective (good/total in percent), not a " +
                                        SourceText(o->source) + " objective");
        } else if (!o->pass.text.empty() && !pipeline::HasTemplate(o->pass.text) &&
                   (o->pass.LowerIsBetter() || o->pass.limit >= 100 || o->pass.limit <= 0)) {
          r.Error(p + "/objective", "the error budget of '" + b.objective + "' needs a target such as 99.9 " +
                                        "(at least, below 100 %); its target is '" + o->pass.text + "'");
        }
      } else if (!it->contains("objective")) {
        r.Error(p, "'with.error_budget' needs 'objective' (the name of a ratio objective)");
      }
      if (auto d = r.Duration(*it, "period", p, "error_budget.period", std::chrono::hours(24 * 30))) b.period = *d;
      else if (!it->contains("period")) r.Error(p, "'with.error_budget' needs 'period' (e.g. 30d)");
      if (auto f = r.Bool(*it, "freeze", p, "error_budget.freeze")) b.freeze = *f;
      if (auto n = r.Number(*it, "warn_at", p, "error_budget.warn_at", b.warn_at)) {
        if (*n <= 0) r.Error(p + "/warn_at", "expected 'error_budget.warn_at' to be a percentage above 0");
        b.warn_at = *n;
      }
      cfg.budget = b;
    }
  }

  if (cfg.NeedsPrometheus() && !cfg.prometheus && !with.contains("prometheus")) {
    for (size_t i = 0; i < cfg.objectives.size(); ++i) {
      if (cfg.objectives[i].source != Source::kLoadTest) {
        r.Error("/with/objectives/" + std::to_string(i), "objective '" + cfg.objectives[i].name +
                                                             "' queries Prometheus but 'with.prometheus' is missing",
                "add prometheus: {url: \"http://127.0.0.1:9090\"}");
        break;
      }
    }
  }
  if (r.Failed()) return std::nullopt;
  return cfg;
}

}  // namespace slipway::steps::slo
