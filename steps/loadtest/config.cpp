#include "steps/loadtest/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace slipway::steps::loadtest {

namespace {

using nlohmann::json;

tl::unexpected<Error> At(const std::string& path, const std::string& what) { return Fail(path + ": " + what); }

std::string TypeWord(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "a list";
    case json::value_t::object: return "a mapping";
    default: return "a number";
  }
}

// Rejects keys outside `known`, naming the first unknown one and listing the known ones.
Expected<void> CheckKeys(const json& obj, const std::string& path, std::initializer_list<const char*> known) {
  for (const auto& [k, v] : obj.items()) {
    bool ok = false;
    for (const char* name : known) ok = ok || k == name;
    if (!ok) {
      std::string list;
      for (const char* name : known) list += (list.empty() ? "" : ", ") + std::string(name);
      return At(path + "." + k, "unknown key (known: " + list + ")");
    }
  }
  return {};
}

Expected<std::string> String(const json& j, const std::string& path) {
  if (!j.is_string()) return At(path, "expected a string, got " + TypeWord(j));
  return j.get<std::string>();
}

Expected<bool> Bool(const json& j, const std::string& path) {
  if (!j.is_boolean()) return At(path, "expected true or false, got " + TypeWord(j));
  return j.get<bool>();
}

// Integers may arrive as numbers or numeric strings (YAML users quote things).
Expected<std::int64_t> Integer(const json& j, const std::string& path, std::int64_t min, const char* what) {
  std::int64_t v = 0;
  if (j.is_number_integer()) {
    v = j.get<std::int64_t>();
  } else if (j.is_number_float() && std::floor(j.get<double>()) == j.get<double>()) {
    v = static_cast<std::int64_t>(j.get<double>());
  } else if (j.is_string()) {
    const std::string s = j.get<std::string>();
    char* end = nullptr;
    long long parsed = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0') return At(path, std::string("expected ") + what);
    v = parsed;
  } else {
    return At(path, std::string("expected ") + what);
  }
  if (v < min) return At(path, std::string("expected ") + what);
  return v;
}

Expected<double> Number(const json& j, const std::string& path, bool allow_zero, const char* what) {
  double v = 0;
  if (j.is_number()) {
    v = j.get<double>();
  } else if (j.is_string()) {
    const std::string s = j.get<std::string>();
    char* end = nullptr;
    v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0') return At(path, std::string("expected ") + what);
  } else {
    return At(path, std::string("expected ") + what);
  }
  if (!std::isfinite(v) || v < 0 || (!allow_zero && v == 0)) return At(path, std::string("expected ") + what);
  return v;
}

Expected<Nanos> Duration(const json& j, const std::string& path, bool allow_zero) {
  if (!j.is_string())
    return At(path, "expected a duration with a unit, like \"30s\", \"5m\" or \"200ms\", got " + TypeWord(j));
  auto d = ParseDuration(j.get<std::string>());
  if (!d) return At(path, d.error().message);
  if (*d < 0 || (!allow_zero && *d == 0)) return At(path, "expected a positive duration");
  return *d;
}

Expected<Template> TemplateAt(const std::string& text, const std::string& path) {
  auto t = Template::Parse(text);
  if (!t) return At(path, t.error().message);
  return t;
}

Expected<std::vector<Stage>> Stages(const json& j, const std::string& path, bool rate) {
  if (!j.is_array() || j.empty()) return At(path, "expected a non-empty list of {duration, target}");
  std::vector<Stage> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    std::string p = path + "[" + std::to_string(i) + "]";
    if (!j[i].is_object()) return At(p, "expected a mapping {duration, target}");
    if (auto ok = CheckKeys(j[i], p, {"duration", "target"}); !ok) return tl::unexpected(ok.error());
    if (!j[i].contains("duration")) return At(p + ".duration", "required");
    if (!j[i].contains("target")) return At(p + ".target", "required");
    Stage s;
    auto d = Duration(j[i]["duration"], p + ".duration", true);
    if (!d) return tl::unexpected(d.error());
    s.duration = *d;
    if (rate) {
      auto t = Number(j[i]["target"], p + ".target", true, "a rate >= 0");
      if (!t) return tl::unexpected(t.error());
      s.target = *t;
    } else {
      auto t = Integer(j[i]["target"], p + ".target", 0, "a VU count >= 0");
      if (!t) return tl::unexpected(t.error());
      s.target = static_cast<double>(*t);
    }
    out.push_back(s);
  }
  return out;
}

// Joins a request path onto the base target ("http://h:1/api" + "/x" -> "http://h:1/api/x").
std::string JoinUrl(const std::string& base, const std::string& path) {
  if (path.empty()) return base;
  std::string b = base;
  if (!b.empty() && b.back() == '/' && path.front() == '/') b.pop_back();
  if (!b.empty() && b.back() != '/' && path.front() != '/' && path.front() != '?') b += '/';
  return b + path;
}

bool IsHttpUrl(const std::string& u) { return u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0; }

Expected<RequestSpec> Request(const json& j, const std::string& path, const std::string& target, std::size_t index) {
  if (!j.is_object()) return At(path, "expected a mapping {name, method, url|path, headers, body, weight, expect}");
  if (auto ok = CheckKeys(j, path, {"name", "method", "url", "path", "headers", "body", "body_file", "weight", "expect"});
      !ok)
    return tl::unexpected(ok.error());
  RequestSpec r;
  if (j.contains("method")) {
    auto m = String(j["method"], path + ".method");
    if (!m) return tl::unexpected(m.error());
    std::string up = *m;
    std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
    static const std::set<std::string> kMethods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    if (!kMethods.count(up)) return At(path + ".method", "unknown method '" + *m + "' (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)");
    r.method = up;
  }
  if (j.contains("url") && j.contains("path")) return At(path, "give either url or path, not both");
  std::string url;
  std::string shown;
  if (j.contains("url")) {
    auto u = String(j["url"], path + ".url");
    if (!u) return tl::unexpected(u.error());
    if (!IsHttpUrl(*u)) return At(path + ".url", "expected an http:// or https:// URL");
    url = *u;
    shown = *u;
  } else if (j.contains("path")) {
    auto p = String(j["path"], path + ".path");
    if (!p) return tl::unexpected(p.error());
    if (target.empty()) return At(path + ".path", "a path needs with.target (or give an absolute url)");
    url = JoinUrl(target, *p);
    shown = *p;
  } else {
    if (target.empty()) return At(path, "needs url or path (there is no with.target)");
    url = target;
    shown = "/";
  }
  auto tmpl = TemplateAt(url, path + (j.contains("url") ? ".url" : ".path"));
  if (!tmpl) return tl::unexpected(tmpl.error());
  r.url = std::move(*tmpl);
  if (j.contains("name")) {
    auto n = String(j["name"], path + ".name");
    if (!n) return tl::unexpected(n.error());
    if (n->empty()) return At(path + ".name", "must not be empty");
    r.name = *n;
  } else {
    r.name = shown.empty() ? "request-" + std::to_string(index) : shown;
  }
  bool has_content_type = false;
  if (j.contains("headers")) {
    const json& h = j["headers"];
    if (!h.is_object()) return At(path + ".headers", "expected a mapping of header name to value");
    for (const auto& [k, v] : h.items()) {
      std::string hp = path + ".headers." + k;
      if (k.empty() || k.find_first_of(":\r\n ") != std::string::npos) return At(hp, "invalid header name");
      std::string value;
      if (v.is_string()) value = v.get<std::string>();
      else if (v.is_number() || v.is_boolean()) value = v.dump();
      else return At(hp, "expected a string value");
      if (value.find_first_of("\r\n") != std::string::npos) return At(hp, "header values must be one line");
      auto t = TemplateAt(k + ": " + value, hp);
      if (!t) return tl::unexpected(t.error());
      std::string lower = k;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      has_content_type = has_content_type || lower == "content-type";
      r.headers.emplace_back(k, std::move(*t));
    }
  }
  if (j.contains("body") && j.contains("body_file")) return At(path, "give either body or body_file, not both");
  if (j.contains("body")) {
    const json& b = j["body"];
    std::string text;
    if (b.is_string()) {
      text = b.get<std::string>();
    } else if (b.is_object() || b.is_array()) {
      text = b.dump();
      if (!has_content_type) {
        auto ct = Template::Parse("Content-Type: application/json");
        r.headers.emplace_back("Content-Type", std::move(*ct));
      }
    } else {
      return At(path + ".body", "expected a string (or a mapping/list sent as JSON)");
    }
    auto t = TemplateAt(text, path + ".body");
    if (!t) return tl::unexpected(t.error());
    r.body = std::move(*t);
    r.has_body = true;
  }
  if (j.contains("body_file")) {
    auto f = String(j["body_file"], path + ".body_file");
    if (!f) return tl::unexpected(f.error());
    if (f->empty()) return At(path + ".body_file", "must not be empty");
    r.body_file = *f;
    r.has_body = true;
  }
  if (r.has_body && (r.method == "GET" || r.method == "HEAD") && !j.contains("method")) r.method = "POST";
  if (r.has_body && r.method == "HEAD") return At(path + ".body", "a HEAD request cannot have a body");
  if (j.contains("weight")) {
    auto w = Integer(j["weight"], path + ".weight", 1, "a positive integer");
    if (!w) return tl::unexpected(w.error());
    if (*w > 1'000'000) return At(path + ".weight", "expected a positive integer up to 1000000");
    r.weight = static_cast<std::uint32_t>(*w);
  }
  if (j.contains("expect")) {
    const json& e = j["expect"];
    std::string ep = path + ".expect";
    if (!e.is_object()) return At(ep, "expected a mapping {status, body_contains, max_latency}");
    if (auto ok = CheckKeys(e, ep, {"status", "body_contains", "max_latency"}); !ok) return tl::unexpected(ok.error());
    if (e.contains("status")) {
      const json& s = e["status"];
      std::vector<json> items = s.is_array() ? std::vector<json>(s.begin(), s.end()) : std::vector<json>{s};
      if (items.empty()) return At(ep + ".status", "expected a status code or a list of them");
      for (std::size_t i = 0; i < items.size(); ++i) {
        std::string sp = ep + ".status" + (s.is_array() ? "[" + std::to_string(i) + "]" : "");
        auto code = Integer(items[i], sp, 100, "an HTTP status code (100-599)");
        if (!code) return tl::unexpected(code.error());
        if (*code > 599) return At(sp, "expected an HTTP status code (100-599)");
        r.expect.statuses.push_back(static_cast<int>(*code));
      }
    }
    if (e.contains("body_contains")) {
      auto b = String(e["body_contains"], ep + ".body_contains");
      if (!b) return tl::unexpected(b.error());
      if (b->empty()) return At(ep + ".body_contains", "must not be empty");
      r.expect.body_contains = *b;
    }
    if (e.contains("max_latency")) {
      auto d = Duration(e["max_latency"], ep + ".max_latency", false);
      if (!d) return tl::unexpected(d.error());
      r.expect.max_latency = *d;
    }
  }
  return r;
}

Expected<void> Thresholds(const json& j, Config& cfg) {
  const std::string path = "with.thresholds";
  if (!j.is_object()) return At(path, "expected a mapping of metric to a list of expressions");
  for (const auto& [metric, list] : j.items()) {
    std::string mp = path + "." + metric;
    auto key = ParseMetricKey(metric);
    if (!key) return At(mp, key.error().message);
    if (!key->request_name.empty()) {
      bool known = false;
      for (const auto& r : cfg.requests) known = known || r.name == key->request_name;
      if (!known) return At(mp, "no request is named '" + key->request_name + "'");
    }
    std::vector<json> items = list.is_array() ? std::vector<json>(list.begin(), list.end()) : std::vector<json>{list};
    if (items.empty()) return At(mp, "expected at least one threshold");
    for (std::size_t i = 0; i < items.size(); ++i) {
      std::string ip = mp + (list.is_array() ? "[" + std::to_string(i) + "]" : "");
      ThresholdSpec spec;
      spec.key = *key;
      std::string text;
      if (items[i].is_string()) {
        text = items[i].get<std::string>();
      } else if (items[i].is_object()) {
        const json& o = items[i];
        if (auto ok = CheckKeys(o, ip, {"threshold", "abort_on_fail", "delay_abort_eval"}); !ok)
          return tl::unexpected(ok.error());
        if (!o.contains("threshold")) return At(ip + ".threshold", "required");
        auto t = String(o["threshold"], ip + ".threshold");
        if (!t) return tl::unexpected(t.error());
        text = *t;
        ip += ".threshold";
        if (o.contains("abort_on_fail")) {
          auto b = Bool(o["abort_on_fail"], mp + ".abort_on_fail");
          if (!b) return tl::unexpected(b.error());
          spec.abort_on_fail = *b;
        }
        if (o.contains("delay_abort_eval")) {
          auto d = Duration(o["delay_abort_eval"], mp + ".delay_abort_eval", true);
          if (!d) return tl::unexpected(d.error());
          spec.delay_abort_eval = *d;
        }
      } else {
        return At(ip, "expected an expression like \"p(95)<200\" or {threshold, abort_on_fail, delay_abort_eval}");
      }
      auto expr = ParseThresholdExpr(text, key->metric);
      if (!expr) return At(ip, expr.error().message);
      spec.expr = *expr;
      cfg.thresholds.push_back(std::move(spec));
    }
  }
  return {};
}

Expected<KubernetesSpec> Kubernetes(const json& j) {
  const std::string path = "with.kubernetes";
  if (!j.is_object()) return At(path, "expected a mapping {replicas, image, namespace}");
  if (auto ok = CheckKeys(j, path, {"replicas", "image", "namespace", "name", "command", "context", "kubeconfig",
                                    "service_account", "cpu", "memory"});
      !ok)
    return tl::unexpected(ok.error());
  KubernetesSpec k;
  if (j.contains("replicas")) {
    auto r = Integer(j["replicas"], path + ".replicas", 1, "a positive integer");
    if (!r) return tl::unexpected(r.error());
    if (*r > 10000) return At(path + ".replicas", "expected at most 10000");
    k.replicas = static_cast<int>(*r);
  }
  auto str = [&](const char* key, std::string& out) -> Expected<void> {
    if (!j.contains(key)) return {};
    auto s = String(j[key], path + "." + key);
    if (!s) return tl::unexpected(s.error());
    if (s->empty()) return At(path + "." + key, "must not be empty");
    out = *s;
    return {};
  };
  for (auto [key, out] : {std::pair<const char*, std::string*>{"image", &k.image}, {"namespace", &k.namespace_name},
                          {"name", &k.job_name}, {"context", &k.context}, {"kubeconfig", &k.kubeconfig},
                          {"service_account", &k.service_account}, {"cpu", &k.cpu}, {"memory", &k.memory}}) {
    if (auto ok = str(key, *out); !ok) return tl::unexpected(ok.error());
  }
  // A DNS-1123 label: what Kubernetes accepts as a Job name (leaving room for pod suffixes).
  bool valid = !k.job_name.empty() && k.job_name.size() <= 52 && std::isalnum(static_cast<unsigned char>(k.job_name.front())) &&
               std::isalnum(static_cast<unsigned char>(k.job_name.back()));
  for (char c : k.job_name) valid = valid && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!valid) return At(path + ".name", "expected a lowercase DNS label of at most 52 characters");
  if (j.contains("command")) {
    const json& c = j["command"];
    if (!c.is_array() || c.empty()) return At(path + ".command", "expected a non-empty list of strings");
    k.command.clear();
    for (const auto& s : c) {
      if (!s.is_string()) return At(path + ".command", "expected a non-empty list of strings");
      k.command.push_back(s.get<std::string>());
    }
  }
  return k;
}

}  // namespace

const char* ExecutorName(Executor e) {
  switch (e) {
    case Executor::kConstantArrivalRate: return "constant-arrival-rate";
    case Executor::kRampingArrivalRate: return "ramping-arrival-rate";
    case Executor::kConstantVus: return "constant-vus";
    case Executor::kRampingVus: return "ramping-vus";
  }
  return "?";
}

Nanos Config::PlannedDuration() const {
  if (executor == Executor::kRampingArrivalRate || executor == Executor::kRampingVus) {
    Nanos sum = 0;
    for (const auto& s : stages) sum += s.duration;
    return sum;
  }
  return duration;
}

double Config::PeakRatePerSecond() const {
  double per_unit = rate;
  if (executor == Executor::kRampingArrivalRate) {
    per_unit = start_rate;
    for (const auto& s : stages) per_unit = std::max(per_unit, s.target);
  }
  return per_unit * static_cast<double>(kNanosPerSecond) / static_cast<double>(time_unit);
}

int Config::PeakVus() const {
  if (executor == Executor::kRampingVus) {
    double peak = start_vus;
    for (const auto& s : stages) peak = std::max(peak, s.target);
    return static_cast<int>(peak);
  }
  return vus;
}

Expected<Config> ParseConfig(const json& with) {
  const std::string root = "with";
  if (!with.is_object()) return At(root, "expected a mapping");
  if (auto ok = CheckKeys(with, root,
                          {"target", "executor", "rate", "start_rate", "time_unit", "duration", "vus", "start_vus",
                           "stages", "max_in_flight", "preallocated_vus", "max_vus", "max_requests", "threads",
                           "insecure", "http2", "ca_file", "timeout", "graceful_stop", "requests", "thresholds",
                           "workers", "kubernetes", "seed"});
      !ok)
    return tl::unexpected(ok.error());
  Config cfg;
  cfg.source = with;
  auto has = [&](const char* k) { return with.contains(k); };

  if (has("target")) {
    auto t = String(with["target"], "with.target");
    if (!t) return tl::unexpected(t.error());
    if (!IsHttpUrl(*t)) return At("with.target", "expected an http:// or https:// URL, got '" + *t + "'");
    cfg.target = *t;
  }
  if (has("executor")) {
    auto e = String(with["executor"], "with.executor");
    if (!e) return tl::unexpected(e.error());
    if (*e == "constant-arrival-rate") cfg.executor = Executor::kConstantArrivalRate;
    else if (*e == "ramping-arrival-rate") cfg.executor = Executor::kRampingArrivalRate;
    else if (*e == "constant-vus") cfg.executor = Executor::kConstantVus;
    else if (*e == "ramping-vus") cfg.executor = Executor::kRampingVus;
    else
      return At("with.executor", "unknown executor '" + *e +
                                     "' (constant-arrival-rate, ramping-arrival-rate, constant-vus, ramping-vus)");
  } else if (has("rate")) {
    cfg.executor = Executor::kConstantArrivalRate;
  } else if (has("stages")) {
    cfg.executor = has("start_rate") ? Executor::kRampingArrivalRate : Executor::kRampingVus;
  } else {
    cfg.executor = Executor::kConstantVus;
  }
  const bool arrival = IsArrivalRate(cfg.executor);
  const bool ramping = cfg.executor == Executor::kRampingArrivalRate || cfg.executor == Executor::kRampingVus;
  const char* exec_name = ExecutorName(cfg.executor);
  auto not_for = [&](const char* key) {
    return At(std::string("with.") + key, std::string("not used by executor ") + exec_name);
  };

  if (has("rate")) {
    if (cfg.executor != Executor::kConstantArrivalRate) return not_for("rate");
    auto r = Number(with["rate"], "with.rate", false, "a positive number of requests per time_unit");
    if (!r) return tl::unexpected(r.error());
    cfg.rate = *r;
  } else if (cfg.executor == Executor::kConstantArrivalRate) {
    return At("with.rate", "required by executor constant-arrival-rate");
  }
  if (has("start_rate")) {
    if (cfg.executor != Executor::kRampingArrivalRate) return not_for("start_rate");
    auto r = Number(with["start_rate"], "with.start_rate", true, "a rate >= 0");
    if (!r) return tl::unexpected(r.error());
    cfg.start_rate = *r;
  }
  if (has("time_unit")) {
    if (!arrival) return not_for("time_unit");
    auto d = Duration(with["time_unit"], "with.time_unit", false);
    if (!d) return tl::unexpected(d.error());
    cfg.time_unit = *d;
  }
  if (has("stages")) {
    if (!ramping) return not_for("stages");
    auto s = Stages(with["stages"], "with.stages", cfg.executor == Executor::kRampingArrivalRate);
    if (!s) return tl::unexpected(s.error());
    cfg.stages = std::move(*s);
  } else if (ramping) {
    return At("with.stages", std::string("required by executor ") + exec_name);
  }
  if (has("duration")) {
    if (ramping) return At("with.duration", std::string("not used by executor ") + exec_name + " (the stages set the length)");
    auto d = Duration(with["duration"], "with.duration", false);
    if (!d) return tl::unexpected(d.error());
    cfg.duration = *d;
  }
  if (has("vus")) {
    if (cfg.executor != Executor::kConstantVus) return not_for("vus");
    auto v = Integer(with["vus"], "with.vus", 1, "a positive integer");
    if (!v) return tl::unexpected(v.error());
    if (*v > 100000) return At("with.vus", "expected at most 100000");
    cfg.vus = static_cast<int>(*v);
  } else if (cfg.executor == Executor::kConstantVus) {
    cfg.vus = 1;
  }
  if (has("start_vus")) {
    if (cfg.executor != Executor::kRampingVus) return not_for("start_vus");
    auto v = Integer(with["start_vus"], "with.start_vus", 0, "an integer >= 0");
    if (!v) return tl::unexpected(v.error());
    cfg.start_vus = static_cast<int>(*v);
  }
  for (const char* key : {"max_in_flight", "preallocated_vus", "max_vus"}) {
    if (!has(key)) continue;
    if (!arrival) return not_for(key);
    auto v = Integer(with[key], std::string("with.") + key, 1, "a positive integer");
    if (!v) return tl::unexpected(v.error());
    if (*v > 100000) return At(std::string("with.") + key, "expected at most 100000");
    cfg.max_in_flight = std::max(cfg.max_in_flight, static_cast<int>(*v));
  }
  if (has("max_requests")) {
    auto v = Integer(with["max_requests"], "with.max_requests", 1, "a positive integer");
    if (!v) return tl::unexpected(v.error());
    cfg.max_requests = static_cast<std::uint64_t>(*v);
  }
  if (!ramping && cfg.duration == 0 && cfg.max_requests == 0)
    return At("with.duration", std::string("required by executor ") + exec_name + " (or set max_requests)");
  if (has("threads")) {
    auto v = Integer(with["threads"], "with.threads", 1, "a positive integer");
    if (!v) return tl::unexpected(v.error());
    if (*v > 256) return At("with.threads", "expected at most 256");
    cfg.threads = static_cast<int>(*v);
  }
  if (has("insecure")) {
    auto b = Bool(with["insecure"], "with.insecure");
    if (!b) return tl::unexpected(b.error());
    cfg.insecure = *b;
  }
  if (has("http2")) {
    const json& h = with["http2"];
    if (h.is_boolean()) cfg.http2 = h.get<bool>() ? Http2::kAllow : Http2::kOff;
    else if (h.is_string() && h.get<std::string>() == "prior-knowledge") cfg.http2 = Http2::kPriorKnowledge;
    else return At("with.http2", "expected true, false or \"prior-knowledge\"");
  }
  if (has("ca_file")) {
    auto s = String(with["ca_file"], "with.ca_file");
    if (!s) return tl::unexpected(s.error());
    cfg.ca_file = *s;
  }
  if (has("timeout")) {
    auto d = Duration(with["timeout"], "with.timeout", false);
    if (!d) return tl::unexpected(d.error());
    cfg.timeout = *d;
  }
  if (has("graceful_stop")) {
    auto d = Duration(with["graceful_stop"], "with.graceful_stop", true);
    if (!d) return tl::unexpected(d.error());
    cfg.graceful_stop = *d;
  }
  if (has("seed")) {
    auto v = Integer(with["seed"], "with.seed", 0, "an integer >= 0");
    if (!v) return tl::unexpected(v.error());
    cfg.seed = static_cast<std::uint64_t>(*v);
  }
  if (has("requests")) {
    const json& rs = with["requests"];
    if (!rs.is_array() || rs.empty()) return At("with.requests", "expected a non-empty list of requests");
    std::set<std::string> names;
    for (std::size_t i = 0; i < rs.size(); ++i) {
      std::string p = "with.requests[" + std::to_string(i) + "]";
      auto r = Request(rs[i], p, cfg.target, i);
      if (!r) return tl::unexpected(r.error());
      if (!names.insert(r->name).second)
        return At(p + ".name", "duplicate request name '" + r->name + "' (give each request a distinct name)");
      cfg.requests.push_back(std::move(*r));
    }
  } else {
    if (cfg.target.empty()) return At("with.target", "required when there are no requests");
    auto r = Request(json::object(), "with.requests[0]", cfg.target, 0);
    if (!r) return tl::unexpected(r.error());
    r->name = "default";
    cfg.requests.push_back(std::move(*r));
  }
  if (has("thresholds")) {
    if (auto ok = Thresholds(with["thresholds"], cfg); !ok) return tl::unexpected(ok.error());
  }
  if (has("workers")) {
    auto v = Integer(with["workers"], "with.workers", 1, "a positive integer");
    if (!v) return tl::unexpected(v.error());
    if (*v > 256) return At("with.workers", "expected at most 256");
    cfg.workers = static_cast<int>(*v);
  }
  if (has("kubernetes")) {
    if (cfg.workers > 1) return At("with.kubernetes", "give either workers or kubernetes, not both");
    auto k = Kubernetes(with["kubernetes"]);
    if (!k) return tl::unexpected(k.error());
    cfg.kubernetes = std::move(*k);
  }
  if (arrival && cfg.max_in_flight == 0) {
    // Enough slots to ride out a one-second stall at the peak rate.
    double peak = cfg.PeakRatePerSecond();
    cfg.max_in_flight = static_cast<int>(std::clamp(std::ceil(peak), 100.0, 10000.0));
  }
  if (arrival && cfg.PeakRatePerSecond() <= 0) return At("with.stages", "the rate never rises above 0");
  return cfg;
}

Expected<json> WorkerWith(const Config& cfg, BodyFiles files) {
  json w = cfg.source;
  w.erase("workers");
  w.erase("kubernetes");
  if (files == BodyFiles::kInline && w.contains("requests")) {
    for (std::size_t i = 0; i < w["requests"].size(); ++i) {
      json& r = w["requests"][i];
      if (!r.is_object() || !r.contains("body_file")) continue;
      std::string file = r["body_file"].get<std::string>();
      std::ifstream in(file, std::ios::binary);
      if (!in) return Fail("with.requests[" + std::to_string(i) + "].body_file: cannot read '" + file + "'");
      std::ostringstream ss;
      ss << in.rdbuf();
      r.erase("body_file");
      r["body"] = ss.str();
    }
  }
  return w;
}

}  // namespace slipway::steps::loadtest
