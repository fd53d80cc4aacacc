// The README's local demo (plans/local-demo.yaml) end to end through the built binary: slipway's demo
// service and a real Prometheus started as services on free ports, a health check, a load test, an
// SLO gate fed by the load test and by Prometheus, the report and the teardown. Three runs in one
// state: the first passes with a report; the second finds the rendered configs unchanged; the third,
// with --set error_rate=0.05, fails the gate, rolls back, exits 1 and its report says why.
// Needs /usr/bin/prometheus (Debian's package); skipped, saying so, without it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include <nlohmann/json.hpp>

#include "support/e2e_harness.h"

namespace slipway::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path SourceRoot() { return fs::path(__FILE__).parent_path().parent_path().parent_path(); }

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// True when something accepts connections on 127.0.0.1:port.
bool Listening(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

json ReadJson(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in, nullptr, false);
}

class LocalDemoTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    app_port_ = FreePort();
    do prometheus_port_ = FreePort();
    while (prometheus_port_ == app_port_);
  }
  void TearDown() override {
    // Never leave the demo service or Prometheus behind, even when an assertion failed: kill the
    // process group of every service this test's state recorded that is still ours.
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(Path(".slipway/services"), ec)) {
      auto info = ReadJson(e.path());
      pid_t pid = info.is_object() ? info.value("pid", 0) : 0;
      if (pid <= 0) continue;
      std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
      std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
      if (args.find(std::to_string(app_port_)) != std::string::npos ||
          args.find(std::to_string(prometheus_port_)) != std::string::npos)
        ::kill(-pid, SIGKILL);
    }
    TempDirTest::TearDown();
  }
  CliResult Demo(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"apply",
                                     (SourceRoot() / "plans/local-demo.yaml").string(),
                                     "--set",
                                     std::string("demo_bin=") + SLIPWAY_DEMO_SERVICE,
                                     "--set",
                                     "app_port=" + std::to_string(app_port_),
                                     "--set",
                                     "prometheus_port=" + std::to_string(prometheus_port_),
                                     "--set",
                                     "rate=100"};  // the default 8s duration stays: Prometheus needs ~6s for data
    args.insert(args.end(), extra.begin(), extra.end());
    return Slipway(args, {}, std::chrono::seconds(90));
  }
  /// The report directory the run printed ("report: …/report.html").
  fs::path ReportDir(const std::string& out) {
    std::smatch m;
    if (!std::regex_search(out, m, std::regex("\nreport: (\\S+)/report\\.html\n"))) return {};
    return fs::path(m[1].str());
  }
  void ExpectServicesStopped() {
    EXPECT_FALSE(Listening(app_port_)) << "the demo service still listens on " << app_port_;
    EXPECT_FALSE(Listening(prometheus_port_)) << "Prometheus still listens on " << prometheus_port_;
  }
  int app_port_ = 0, prometheus_port_ = 0;
};

TEST_F(LocalDemoTest, PassesThenIsUnchangedThenFailsTheGateAndRollsBackOnErrors) {
  if (!fs::exists("/usr/bin/prometheus"))
    GTEST_SKIP() << "/usr/bin/prometheus is not installed (Debian package 'prometheus'); the local demo needs it";
  if (!fs::exists("/usr/bin/curl")) GTEST_SKIP() << "/usr/bin/curl is not installed; the demo's prereq step needs it";
  const fs::path reports = fs::canonical(dir_) / "reports";

  // 1. A clean run: every step, the gate passes, a report, and the teardown stops both services.
  auto first = Demo();
  ASSERT_EQ(first.exit_code, 0) << first.all();
  const fs::path dir1 = ReportDir(first.out);
  ASSERT_FALSE(dir1.empty()) << first.out;
  EXPECT_EQ(dir1.parent_path(), reports);
  EXPECT_TRUE(fs::exists(dir1 / "report.html"));
  EXPECT_TRUE(fs::exists(dir1 / "junit.xml"));
  auto r1 = ReadJson(dir1 / "report.json");
  ASSERT_TRUE(r1.is_object());
  EXPECT_EQ(r1["status"], "succeeded");
  ASSERT_EQ(r1["loadtests"].size(), 1u);
  EXPECT_GT(r1["loadtests"][0].value("requests", 0), 500);
  ASSERT_EQ(r1["slos"].size(), 1u);
  const auto& slo = r1["slos"][0];
  EXPECT_NE(slo["result"], "fail") << slo.dump(2);
  ASSERT_EQ(slo["objectives"].size(), 3u);
  EXPECT_EQ(slo["objectives"][0]["name"], "availability");
  EXPECT_EQ(slo["objectives"][0]["source"], "ratio");  // good/total, both queried from Prometheus
  EXPECT_NE(slo["objectives"][0].value("query", "").find("http_requests_total"), std::string::npos);
  EXPECT_TRUE(slo["objectives"][0]["value"].is_number()) << "Prometheus gave no data: " << slo.dump(2);
  EXPECT_EQ(slo["objectives"][0]["result"], "pass");
  EXPECT_EQ(slo["objectives"][2]["name"], "client-errors");
  EXPECT_EQ(slo["objectives"][2]["result"], "pass");
  EXPECT_NE(first.out.find("[teardown-app] succeeded"), std::string::npos) << first.out;
  ExpectServicesStopped();

  // 2. The same inputs again: the rendered configs are unchanged; the torn-down services start again.
  auto second = Demo();
  ASSERT_EQ(second.exit_code, 0) << second.all();
  for (const char* step : {"prereqs", "prometheus-config", "slo-rules"})
    EXPECT_TRUE(std::regex_search(second.out, std::regex("\n" + std::string(step) + " +unchanged ")))
        << step << "\n" << second.out;
  EXPECT_TRUE(std::regex_search(second.out, std::regex("prometheus\\.yml is up to date"))) << second.out;
  EXPECT_NE(second.out.find("\n8 succeeded, 3 unchanged\n"), std::string::npos) << second.out;
  ExpectServicesStopped();

  // 3. 5 % errors: the gate fails, what this run started is rolled back, exit 1, and the report says why.
  auto third = Demo({"--set", "error_rate=0.05"});
  ASSERT_EQ(third.exit_code, 1) << third.all();
  EXPECT_NE(third.out.find("[slo-gate] client-errors: fail"), std::string::npos) << third.out;
  EXPECT_NE(third.out.find("a step failed; rolled back"), std::string::npos) << third.out;
  EXPECT_NE(third.out.find("[app] rolled back"), std::string::npos) << third.out;
  EXPECT_NE(third.out.find("[prometheus] rolled back"), std::string::npos) << third.out;
  ExpectServicesStopped();
  const fs::path dir3 = ReportDir(third.out);
  ASSERT_FALSE(dir3.empty()) << third.out;
  EXPECT_NE(dir3, dir1);
  EXPECT_EQ(fs::read_symlink(reports / "latest"), dir3.filename());
  auto r3 = ReadJson(dir3 / "report.json");
  ASSERT_TRUE(r3.is_object());
  EXPECT_EQ(r3["status"], "failed");
  std::string gate_reason;
  for (const auto& s : r3["steps"])
    if (s["id"] == "slo-gate") {
      EXPECT_EQ(s["status"], "failed");
      gate_reason = s.value("reason", "");
    }
  EXPECT_NE(gate_reason.find("key objective 'client-errors' failed"), std::string::npos) << gate_reason;
  std::ifstream md_in(dir3 / "report.md");
  std::string md((std::istreambuf_iterator<char>(md_in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(md.rfind("## slipway local demo: FAIL\n", 0), 0u) << md;
  EXPECT_NE(md.find("key objective 'client-errors' failed"), std::string::npos) << md;
  if (fs::exists("/usr/bin/xmllint")) {
    pipeline::ProcessSpec spec;
    spec.argv = {"/usr/bin/xmllint", "--noout", "--nonet", "--schema",
                 (SourceRoot() / "test/report/junit.xsd").string(), (dir3 / "junit.xml").string()};
    spec.timeout = std::chrono::seconds(20);
    auto lint = pipeline::RunProcess(spec);
    ASSERT_TRUE(lint.has_value());
    EXPECT_EQ(lint->exit_code, 0) << lint->out << lint->err;
  }
  std::ifstream junit_in(dir3 / "junit.xml");
  std::string junit((std::istreambuf_iterator<char>(junit_in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(std::regex_search(junit, std::regex("<testcase name=\"slo-gate\" [^>]*>\\s*<failure ")));
}

}  // namespace
}  // namespace slipway::test
