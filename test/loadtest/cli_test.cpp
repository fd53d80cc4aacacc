// `slipway loadtest` as users run it (the loadtest_cli binary: cmd/loadtest_command.cpp + a main).
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "steps/loadtest/process.h"
#include "test/support/loadtest/test_http_server.h"

namespace slipway::steps::loadtest {
namespace {

using slipway::test::loadtest::TestHttpServer;
using slipway::test::loadtest::TestRequest;
using slipway::test::loadtest::TestResponse;

// Runs `slipway loadtest ARGS`, under `wrapper` (a program that execs its arguments) when one is given.
internal::ProcessResult Cli(std::vector<std::string> args, const std::string& wrapper = "") {
  args.insert(args.begin(), {LOADTEST_CLI, "loadtest"});
  if (!wrapper.empty()) args.insert(args.begin(), wrapper);
  internal::ProcessOptions o;
  o.timeout = 30 * kNanosPerSecond;
  auto r = internal::RunProcess(args, o);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : internal::ProcessResult{};
}

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

class CliTest : public ::testing::Test {};

TEST_F(CliTest, BadUsageExitsTwoAndNamesTheFlag) {
  auto r = Cli({"http://127.0.0.1:1", "--vus", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "slipway loadtest: --vus: expected a positive integer\n");
  r = Cli({"http://127.0.0.1:1", "--duration", "soon"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "slipway loadtest: --duration: invalid duration 'soon' (expected e.g. 30s, 5m, 200ms, 1h)\n");
  r = Cli({"http://127.0.0.1:1", "--vus", "2", "--rate", "5"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--vus and --rate exclude each other"), std::string::npos) << r.err;
  r = Cli({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "slipway loadtest: give a URL or --config FILE\n");
  r = Cli({"ftp://x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "slipway loadtest: URL: expected an http:// or https:// URL, got 'ftp://x'\n");
  std::string bad = WriteFile("bad.yaml", "target: http://127.0.0.1:1\nduration: 1s\nrequests:\n  - path: /\n    weight: -1\n");
  r = Cli({"--config", bad});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "slipway loadtest: " + bad + ": with.requests[0].weight: expected a positive integer\n");
}

TEST_F(CliTest, AUrlAndARateNeedNoPlanAndPrintJson) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{}; });
  auto r = Cli({server.Url() + "/x", "--rate", "50", "--duration", "1s", "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["executor"], "constant-arrival-rate");
  EXPECT_EQ(j["requests"], 50);
  EXPECT_EQ(j["errors"], 0);
  EXPECT_TRUE(j["latency_ms"].contains("p99"));
  EXPECT_EQ(r.err, "");  // no progress line when stderr is not a terminal
}

TEST_F(CliTest, TextOutputIsTheSummaryTable) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{}; });
  auto r = Cli({server.Url(), "--vus", "2", "--requests", "40"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("slipway loadtest: constant-vus"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("requests    40"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("latency ms"), std::string::npos) << r.out;
}

TEST_F(CliTest, AFailedThresholdExitsOneAndShowsMeasuredAndLimit) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{200, "ok", std::chrono::milliseconds(5)}; });
  std::string cfg = WriteFile("slow.yaml", "target: " + server.Url() +
                                               "\nvus: 2\nmax_requests: 20\nthresholds:\n"
                                               "  http_req_duration: [\"p(95)<1\"]\n  http_req_failed: [\"rate<0.01\"]\n");
  auto r = Cli({"--config", cfg});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.out.find("FAIL  http_req_duration  p(95)<1   measured "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pass  http_req_failed  rate<0.01   measured 0.0000 (0.00 %)   limit 0.01"), std::string::npos) << r.out;
}

TEST_F(CliTest, WorkerModePrintsOnlyTheResultJson) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{}; });
  std::string cfg = WriteFile("worker.json", "{\"target\": \"" + server.Url() +
                                                 "\", \"vus\": 2, \"max_requests\": 30, \"thresholds\": "
                                                 "{\"http_req_duration\": [\"p(95)<0.001\"]}}");
  auto r = Cli({"--config", cfg, "--worker", "--worker-index", "1", "--worker-count", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;  // thresholds are judged where results are merged
  ASSERT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["requests"], 10);  // its third of 30
  EXPECT_TRUE(j["histogram"]["buckets"].is_string());
  EXPECT_EQ(j["histogram"]["count"], 10);
}

// Where epoll_pwait2 is refused (old kernels, container seccomp profiles, valgrind) the engine waits with
// epoll_wait's milliseconds instead of spinning, and still keeps the arrival rate.
TEST_F(CliTest, PacesWithoutEpollPwait2) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{}; });
  auto r = Cli({server.Url(), "--rate", "200", "--duration", "2s", "--output", "json"}, WITHOUT_EPOLL_PWAIT2);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["requests"], 400);
  EXPECT_EQ(j["dropped"], 0);
  EXPECT_EQ(j["errors"], 0);
  EXPECT_NEAR(j["rps"].get<double>(), 200.0, 4.0);
}

TEST_F(CliTest, DryRunShowsTheKubernetesJob) {
  std::string cfg = WriteFile("k8s.yaml", "target: http://shop:8080\nrate: 100\nduration: 1m\n"
                                          "kubernetes: {replicas: 2, image: \"reg/slipway:1\", namespace: load}\n");
  auto r = Cli({"--config", cfg, "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("completionMode: Indexed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("image: \"reg/slipway:1\""), std::string::npos) << r.out;
}

}  // namespace
}  // namespace slipway::steps::loadtest
