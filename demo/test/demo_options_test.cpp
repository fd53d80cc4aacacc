#include "demo/demo_options.h"

#include <chrono>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

namespace slipway::demo {
namespace {

using std::chrono::microseconds;

class DemoOptionsTest : public ::testing::Test {
 protected:
  // The usage error text for `args`, or "" when they parse.
  std::string ErrorOf(const std::vector<std::string>& args) {
    auto parsed = ParseDemoArgs(args);
    auto* exit = std::get_if<CliExit>(&parsed);
    if (exit == nullptr) return "";
    EXPECT_EQ(exit->exit_code, 2);
    return exit->text;
  }
};

TEST_F(DemoOptionsTest, DefaultsListenOnLoopback8080WithTwoThreads) {
  auto parsed = ParseDemoArgs({});
  ASSERT_TRUE(std::holds_alternative<DemoOptions>(parsed));
  const auto& o = std::get<DemoOptions>(parsed);
  EXPECT_EQ(o.listen, "127.0.0.1");
  EXPECT_EQ(o.port, 8080);
  EXPECT_EQ(o.threads, 2);
  EXPECT_EQ(o.latency, microseconds(0));
  EXPECT_EQ(o.error_rate, 0.0);
  EXPECT_EQ(o.seed, 1u);
  EXPECT_EQ(o.stall_every, microseconds(0));
}

TEST_F(DemoOptionsTest, ParsesEveryFlagInBothSpellings) {
  auto parsed = ParseDemoArgs({"--listen", "::1", "--port=0", "--port-file", "/tmp/p", "--threads=4",
                               "--latency-ms", "12.5", "--jitter-ms=3", "--error-rate", "0.25", "--seed=42",
                               "--stall-every", "10s", "--stall-for=1500ms"});
  ASSERT_TRUE(std::holds_alternative<DemoOptions>(parsed)) << std::get<CliExit>(parsed).text;
  const auto& o = std::get<DemoOptions>(parsed);
  EXPECT_EQ(o.listen, "::1");
  EXPECT_EQ(o.port, 0);
  EXPECT_EQ(o.port_file, "/tmp/p");
  EXPECT_EQ(o.threads, 4);
  EXPECT_EQ(o.latency, microseconds(12500));
  EXPECT_EQ(o.jitter, microseconds(3000));
  EXPECT_EQ(o.error_rate, 0.25);
  EXPECT_EQ(o.seed, 42u);
  EXPECT_EQ(o.stall_every, microseconds(10'000'000));
  EXPECT_EQ(o.stall_for, microseconds(1'500'000));
}

TEST_F(DemoOptionsTest, VersionAndHelpExitZero) {
  auto version = ParseDemoArgs({"--version"});
  ASSERT_TRUE(std::holds_alternative<CliExit>(version));
  EXPECT_EQ(std::get<CliExit>(version).exit_code, 0);
  EXPECT_EQ(std::get<CliExit>(version).text, "slipway-demo-service " + std::string(kDemoVersion) + "\n");
  auto help = ParseDemoArgs({"--port", "1", "-h"});
  ASSERT_TRUE(std::holds_alternative<CliExit>(help));
  EXPECT_EQ(std::get<CliExit>(help).exit_code, 0);
  EXPECT_EQ(std::get<CliExit>(help).text, DemoUsage());
}

TEST_F(DemoOptionsTest, RejectsBadValuesNamingTheFlag) {
  EXPECT_EQ(ErrorOf({"--error-rate", "1.5"}), "slipway-demo-service: --error-rate expects 0..1, got '1.5'\n(see --help)\n");
  EXPECT_EQ(ErrorOf({"--port", "70000"}), "slipway-demo-service: --port expects 0..65535, got '70000'\n(see --help)\n");
  EXPECT_EQ(ErrorOf({"--threads", "0"}), "slipway-demo-service: --threads expects 1..256, got '0'\n(see --help)\n");
  EXPECT_EQ(ErrorOf({"--latency-ms", "-1"}),
            "slipway-demo-service: --latency-ms expects milliseconds >= 0, got '-1'\n(see --help)\n");
  EXPECT_EQ(ErrorOf({"--seed", "x"}), "slipway-demo-service: --seed expects an unsigned integer, got 'x'\n(see --help)\n");
  EXPECT_EQ(ErrorOf({"--port"}), "slipway-demo-service: --port needs a value\n(see --help)\n");
  EXPECT_EQ(ErrorOf({"extra"}), "slipway-demo-service: unexpected argument 'extra'\n(see --help)\n");
}

TEST_F(DemoOptionsTest, StallFlagsMustComeTogetherAndFitTheirPeriod) {
  EXPECT_EQ(ErrorOf({"--stall-every", "1s"}),
            "slipway-demo-service: --stall-every and --stall-for go together\n(see --help)\n");
  EXPECT_EQ(ErrorOf({"--stall-every", "1s", "--stall-for", "1s"}),
            "slipway-demo-service: --stall-for must be shorter than --stall-every\n(see --help)\n");
  EXPECT_EQ(ErrorOf({"--stall-every", "10", "--stall-for", "1s"}),
            "slipway-demo-service: --stall-every expects a duration like 500ms or 10s, got '10'\n(see --help)\n");
}

TEST_F(DemoOptionsTest, DurationsNeedAUnit) {
  EXPECT_EQ(ParseDuration("250ms"), microseconds(250'000));
  EXPECT_EQ(ParseDuration("1.5s"), microseconds(1'500'000));
  EXPECT_EQ(ParseDuration("2m"), microseconds(120'000'000));
  EXPECT_EQ(ParseDuration("1h"), microseconds(3'600'000'000));
  EXPECT_EQ(ParseDuration("40us"), microseconds(40));
  EXPECT_EQ(ParseDuration("0"), microseconds(0));
  EXPECT_EQ(ParseDuration("5"), std::nullopt);
  EXPECT_EQ(ParseDuration("ms"), std::nullopt);
  EXPECT_EQ(ParseDuration("-1s"), std::nullopt);
  EXPECT_EQ(ParseDuration("2h"), std::nullopt);  // beyond the one-hour cap
  EXPECT_EQ(ParseDuration("1sx"), std::nullopt);
}

}  // namespace
}  // namespace slipway::demo
