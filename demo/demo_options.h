#pragma once
// Command line of slipway-demo-service. Parsed by hand: the demo service depends on nothing
// but the C++ standard library and POSIX, so it can run on any machine slipway runs on.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace slipway::demo {

/// Version printed by --version; set by CMake from the project version.
inline constexpr std::string_view kDemoVersion = SLIPWAY_DEMO_VERSION;

/// Settings of one demo service process.
struct DemoOptions {
  std::string listen = "127.0.0.1";  ///< numeric IPv4 or IPv6 address
  int port = 8080;                   ///< 0 = let the kernel pick a free port
  std::string port_file;             ///< when set, the chosen port is written here (atomically)
  std::chrono::microseconds latency{0};      ///< added to every application response
  std::chrono::microseconds jitter{0};       ///< uniform extra latency in [0, jitter]
  double error_rate = 0.0;                   ///< fraction of application requests answered 500
  std::uint64_t seed = 1;                    ///< seeds the per-connection PRNGs
  std::chrono::microseconds stall_every{0};  ///< 0 = never stall
  std::chrono::microseconds stall_for{0};    ///< length of each stall, < stall_every
  int threads = 2;                           ///< event-loop threads
};

/// The command line asked for something other than running the service: --help or --version
/// (exit_code 0, text for stdout) or a usage error (exit_code 2, text for stderr).
struct CliExit {
  int exit_code = 0;
  std::string text;
};

/// Parses argv (without argv[0]). Accepts `--flag value` and `--flag=value`; every error
/// names the flag and what was expected.
std::variant<DemoOptions, CliExit> ParseDemoArgs(const std::vector<std::string>& args);

/// Parses a duration such as "250ms", "2s", "1.5s", "1m" or "0" (a unit is required for any
/// other value); nullopt on bad syntax, a negative value or overflow.
std::optional<std::chrono::microseconds> ParseDuration(std::string_view text);

/// The --help text.
std::string DemoUsage();

}  // namespace slipway::demo
