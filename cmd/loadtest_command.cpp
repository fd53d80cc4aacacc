// `slipway loadtest`: the load-test engine on its own.
//   slipway loadtest URL [--vus N | --rate R] [--duration D] [--requests N] [--threads T] [--output text|json] [--insecure]
//   slipway loadtest --config F [--worker]     (F: YAML or JSON with the keys of a loadtest step's `with:`)
// Exit codes: 0 every threshold passed · 1 a threshold failed or the test could not run · 2 bad usage ·
// 130 interrupted. With --worker only the result JSON (with histogram buckets) goes to stdout, and the
// exit code is 0 whenever a result was produced: thresholds are judged where the results are merged.
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "steps/loadtest/loadtest.h"

namespace slipway::cmd {

namespace {

namespace lt = slipway::steps::loadtest;

struct LoadtestOptions {
  std::string url;
  int vus = 0;
  double rate = 0;
  std::string duration;
  long long requests = 0;
  int threads = 0;
  std::string output = "text";
  bool insecure = false;
  std::string config;
  bool worker = false;
  int worker_index = -1;
  int worker_count = 1;
  bool progress_json = false;
  bool dry_run = false;
  CLI::App* sub = nullptr;
};

std::atomic<bool> g_cancel{false};
void OnInterrupt(int) { g_cancel.store(true); }

// Plain YAML scalars become booleans, numbers or null as in YAML 1.2's core schema; quoted ones stay strings.
nlohmann::json YamlToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& item : n) a.push_back(YamlToJson(item));
      return a;
    }
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = YamlToJson(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
      if (s == "null" || s == "Null" || s == "NULL" || s == "~") return nullptr;
      if (!s.empty()) {
        char* end = nullptr;
        long long i = std::strtoll(s.c_str(), &end, 10);
        if (*end == '\0') return i;
        double d = std::strtod(s.c_str(), &end);
        if (*end == '\0' && s.find_first_of("0123456789") != std::string::npos) return d;
      }
      return s;
    }
    default:
      return nullptr;
  }
}

Expected<nlohmann::json> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(path + ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::size_t first = text.find_first_not_of(" \t\r\n");
  bool json = path.size() > 5 && path.substr(path.size() - 5) == ".json";
  if (json || (first != std::string::npos && text[first] == '{')) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return Fail(path + ": not valid JSON");
    return j;
  }
  try {
    return YamlToJson(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    return Fail(path + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

int Usage(const std::string& message) {
  std::cerr << "slipway loadtest: " << message << "\n";
  return 2;
}

// Builds the `with:` of a URL run from the flags.
Expected<nlohmann::json> WithFromFlags(const LoadtestOptions& o) {
  nlohmann::json w;
  if (o.url.rfind("http://", 0) != 0 && o.url.rfind("https://", 0) != 0)
    return Fail("URL: expected an http:// or https:// URL, got '" + o.url + "'");
  w["target"] = o.url;
  if (o.sub->count("--rate")) {
    if (!(o.rate > 0)) return Fail("--rate: expected a positive number of requests per second");
    w["executor"] = "constant-arrival-rate";
    w["rate"] = o.rate;
  } else {
    if (o.sub->count("--vus") && o.vus < 1) return Fail("--vus: expected a positive integer");
    w["executor"] = "constant-vus";
    w["vus"] = o.sub->count("--vus") ? o.vus : 10;
  }
  if (!o.duration.empty()) {
    auto d = lt::ParseDuration(o.duration);
    if (!d) return Fail("--duration: " + d.error().message);
    if (*d <= 0) return Fail("--duration: expected a positive duration");
    w["duration"] = o.duration;
  } else if (!o.sub->count("--requests")) {
    w["duration"] = "10s";
  }
  if (o.sub->count("--requests")) {
    if (o.requests < 1) return Fail("--requests: expected a positive integer");
    w["max_requests"] = o.requests;
  }
  if (o.insecure) w["insecure"] = true;
  return w;
}

int RunLoadtest(const LoadtestOptions& o) {
  const bool has_url = !o.url.empty();
  const bool has_config = !o.config.empty();
  if (!has_url && !has_config) return Usage("give a URL or --config FILE");
  if (has_url && has_config) return Usage("give either a URL or --config FILE, not both");
  if (o.sub->count("--vus") && o.sub->count("--rate"))
    return Usage("--vus and --rate exclude each other (closed model with N users, or open model at R requests/s)");
  if (o.worker && !has_config) return Usage("--worker needs --config FILE");
  if (o.sub->count("--threads") && o.threads < 1) return Usage("--threads: expected a positive integer");
  nlohmann::json with;
  if (has_config) {
    for (const char* flag : {"--vus", "--rate", "--duration", "--requests"})
      if (o.sub->count(flag)) return Usage(std::string(flag) + " applies to a URL run; with --config put it in the file");
    auto loaded = LoadConfigFile(o.config);
    if (!loaded) return Usage(loaded.error().message);
    with = std::move(*loaded);
    if (o.insecure && with.is_object()) with["insecure"] = true;
  } else {
    auto w = WithFromFlags(o);
    if (!w) return Usage(w.error().message);
    with = std::move(*w);
  }
  if (o.threads > 0 && with.is_object()) with["threads"] = o.threads;
  auto cfg = lt::ParseConfig(with);
  if (!cfg) return Usage((has_config ? o.config + ": " : "") + cfg.error().message);

  if (o.worker) {
    int index = o.worker_index;
    if (index < 0) {
      const char* env = std::getenv("JOB_COMPLETION_INDEX");  // set in each pod of an Indexed Job
      index = env ? std::atoi(env) : 0;
    }
    if (o.worker_count < 1) return Usage("--worker-count: expected a positive integer");
    if (index < 0 || index >= o.worker_count)
      return Usage("--worker-index: " + std::to_string(index) + " is not below --worker-count " +
                   std::to_string(o.worker_count));
    cfg->worker_index = index;
    cfg->worker_count = o.worker_count;
  }

  if (o.dry_run) {
    nlohmann::json plan = {{"executor", lt::ExecutorName(cfg->executor)},
                           {"planned_duration", lt::FormatDuration(cfg->PlannedDuration())},
                           {"requests", nlohmann::json::array()}};
    for (const auto& r : cfg->requests) plan["requests"].push_back({{"name", r.name}, {"method", r.method}, {"url", r.url.Text()}, {"weight", r.weight}});
    std::cout << plan.dump(2) << "\n";
    if (cfg->kubernetes) std::cout << lt::RenderKubernetesJob(*cfg);
    return 0;
  }

  struct sigaction sa {}, old_int {}, old_term {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  g_cancel.store(false);

  lt::Hooks hooks;
  hooks.cancel = &g_cancel;
  const bool tty = !o.worker && isatty(STDERR_FILENO);
  if (o.progress_json) {
    hooks.on_progress = [](const lt::Progress& p) { std::cerr << lt::ProgressJsonLine(p) << std::endl; };
  } else if (tty) {
    hooks.on_progress = [](const lt::Progress& p) { std::cerr << "\r" << lt::ProgressLine(p) << "\x1b[K" << std::flush; };
  }
  auto result = lt::Run(*cfg, hooks);
  if (tty) std::cerr << "\r\x1b[K" << std::flush;
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (!result) {
    std::cerr << "slipway loadtest: " << result.error().message << "\n";
    return g_cancel.load() ? 130 : 1;
  }
  if (o.worker) {
    std::cout << lt::SummaryJson(*result).dump() << std::endl;
    return 0;
  }
  if (o.output == "json") std::cout << lt::SummaryJson(*result).dump(2) << "\n";
  else std::cout << lt::SummaryTable(*result) << std::flush;
  if (g_cancel.load()) return 130;
  return result->ThresholdsOk() ? 0 : 1;
}

}  // namespace

void AddLoadtestCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<LoadtestOptions>();
  CLI::App* sub = app.add_subcommand("loadtest", "Load-test a URL, or run a loadtest config (YAML/JSON of a step's with:)");
  o->sub = sub;
  sub->add_option("url", o->url, "Target URL (http:// or https://)");
  sub->add_option("--vus", o->vus, "Virtual users, closed model (default 10)");
  sub->add_option("--rate", o->rate, "Requests per second, open model (constant-arrival-rate)");
  sub->add_option("--duration", o->duration, "How long: 30s, 5m, 1h (default 10s unless --requests)");
  sub->add_option("--requests", o->requests, "Stop after this many requests");
  sub->add_option("--threads", o->threads, "Engine threads (default: from the load and the CPUs)");
  sub->add_option("--output", o->output, "Output format: text or json")->check(CLI::IsMember({"text", "json"}));
  sub->add_flag("--insecure", o->insecure, "Do not verify TLS certificates");
  sub->add_option("--config", o->config, "A loadtest config: YAML or JSON with the keys of a loadtest step's with:")
      ->type_name("FILE");
  sub->add_flag("--worker", o->worker, "Run one worker's share and print only its result JSON (used by scale-out)");
  sub->add_option("--worker-index", o->worker_index, "This worker's index (default: $JOB_COMPLETION_INDEX or 0)")
      ->group("");
  sub->add_option("--worker-count", o->worker_count, "How many workers share the test")->group("");
  sub->add_flag("--progress-json", o->progress_json, "Print progress as JSON lines on stderr")->group("");
  sub->add_flag("--dry-run", o->dry_run, "Show the parsed test (and the Kubernetes Job) without running it");
  sub->callback([o, exit_code] { *exit_code = RunLoadtest(*o); });
}

}  // namespace slipway::cmd
