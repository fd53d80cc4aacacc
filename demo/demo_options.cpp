#include "demo/demo_options.h"

#include <charconv>
#include <cmath>
#include <system_error>

namespace slipway::demo {
namespace {

constexpr int kMaxThreads = 256;
// Latencies beyond an hour are a typo, and keep the microsecond arithmetic far from overflow.
constexpr double kMaxDurationUs = 3600.0 * 1e6;

CliExit UsageError(const std::string& message) {
  return CliExit{2, "slipway-demo-service: " + message + "\n(see --help)\n"};
}

std::optional<double> ParseNumber(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> ParseUnsigned(std::string_view text) {
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::optional<std::chrono::microseconds> MillisecondsToMicros(std::string_view text) {
  auto ms = ParseNumber(text);
  if (!ms || *ms < 0 || *ms * 1000.0 > kMaxDurationUs) return std::nullopt;
  return std::chrono::microseconds(static_cast<std::int64_t>(std::llround(*ms * 1000.0)));
}

}  // namespace

std::optional<std::chrono::microseconds> ParseDuration(std::string_view text) {
  if (text == "0") return std::chrono::microseconds(0);
  struct Unit {
    std::string_view suffix;
    double micros;
  };
  // "ms" before "s" and "m": the longest suffix must win.
  static constexpr Unit kUnits[] = {{"us", 1.0}, {"ms", 1e3}, {"s", 1e6}, {"m", 60e6}, {"h", 3600e6}};
  for (const Unit& unit : kUnits) {
    if (text.size() <= unit.suffix.size() || !text.ends_with(unit.suffix)) continue;
    auto number = ParseNumber(text.substr(0, text.size() - unit.suffix.size()));
    if (!number || *number < 0) return std::nullopt;
    double micros = *number * unit.micros;
    if (micros > kMaxDurationUs) return std::nullopt;
    return std::chrono::microseconds(static_cast<std::int64_t>(std::llround(micros)));
  }
  return std::nullopt;
}

std::string DemoUsage() {
  return "usage: slipway-demo-service [flags]\n"
         "\n"
         "A small HTTP/1.1 service for slipway's no-cluster demo: GET /, GET /health,\n"
         "GET|POST /api/items, GET /metrics (Prometheus text format 0.0.4).\n"
         "\n"
         "  --listen ADDR       numeric address to bind (default 127.0.0.1)\n"
         "  --port N            port, 0 = pick a free one (default 8080)\n"
         "  --port-file F       write the bound port to F\n"
         "  --threads N         event-loop threads (default 2)\n"
         "  --latency-ms X      latency added to / and /api/items (default 0)\n"
         "  --jitter-ms X       extra latency, uniform in [0, X] (default 0)\n"
         "  --error-rate P      fraction 0..1 of / and /api/items answered 500 (default 0)\n"
         "  --seed N            seed of the error/jitter PRNG (default 1)\n"
         "  --stall-every D     every D (e.g. 10s) the whole service stops answering ...\n"
         "  --stall-for D       ... for D; held requests are answered when the stall ends\n"
         "  --version           print the version and exit\n"
         "  -h, --help          print this help and exit\n"
         "\n"
         "/health is exempt from --latency-ms, --jitter-ms and --error-rate but not from stalls.\n"
         "SIGTERM or SIGINT: stop accepting, answer requests in flight, exit 0.\n";
}

std::variant<DemoOptions, CliExit> ParseDemoArgs(const std::vector<std::string>& args) {
  DemoOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    if (flag == "-h" || flag == "--help") return CliExit{0, DemoUsage()};
    if (flag == "--version") return CliExit{0, "slipway-demo-service " + std::string(kDemoVersion) + "\n"};
    if (!flag.starts_with("--")) return UsageError("unexpected argument '" + flag + "'");

    std::optional<std::string> inline_value;
    if (auto eq = flag.find('='); eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    auto take_value = [&]() -> std::optional<std::string> {
      if (inline_value) return inline_value;
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    auto value = take_value();
    if (!value) return UsageError(flag + " needs a value");
    const std::string& v = *value;

    if (flag == "--listen") {
      if (v.empty()) return UsageError("--listen needs a numeric address, got ''");
      options.listen = v;
    } else if (flag == "--port") {
      auto port = ParseUnsigned(v);
      if (!port || *port > 65535) return UsageError("--port expects 0..65535, got '" + v + "'");
      options.port = static_cast<int>(*port);
    } else if (flag == "--port-file") {
      if (v.empty()) return UsageError("--port-file needs a path");
      options.port_file = v;
    } else if (flag == "--threads") {
      auto threads = ParseUnsigned(v);
      if (!threads || *threads < 1 || *threads > kMaxThreads) {
        return UsageError("--threads expects 1.." + std::to_string(kMaxThreads) + ", got '" + v + "'");
      }
      options.threads = static_cast<int>(*threads);
    } else if (flag == "--latency-ms" || flag == "--jitter-ms") {
      auto micros = MillisecondsToMicros(v);
      if (!micros) return UsageError(flag + " expects milliseconds >= 0, got '" + v + "'");
      (flag == "--latency-ms" ? options.latency : options.jitter) = *micros;
    } else if (flag == "--error-rate") {
      auto rate = ParseNumber(v);
      if (!rate || *rate < 0 || *rate > 1) return UsageError("--error-rate expects 0..1, got '" + v + "'");
      options.error_rate = *rate;
    } else if (flag == "--seed") {
      auto seed = ParseUnsigned(v);
      if (!seed) return UsageError("--seed expects an unsigned integer, got '" + v + "'");
      options.seed = *seed;
    } else if (flag == "--stall-every" || flag == "--stall-for") {
      auto duration = ParseDuration(v);
      if (!duration) return UsageError(flag + " expects a duration like 500ms or 10s, got '" + v + "'");
      (flag == "--stall-every" ? options.stall_every : options.stall_for) = *duration;
    } else {
      return UsageError("unknown flag '" + flag + "'");
    }
  }

  bool every = options.stall_every.count() > 0;
  bool length = options.stall_for.count() > 0;
  if (every != length) return UsageError("--stall-every and --stall-for go together");
  if (every && options.stall_for >= options.stall_every) {
    return UsageError("--stall-for must be shorter than --stall-every");
  }
  return options;
}

}  // namespace slipway::demo
