// The `report` kind: where the files go and the `latest` link, the JSON schema, the JUnit structure
// and counts, the Markdown tables, masking of secrets, escaping of user text, tolerance of partial
// producer data, validation and dry-run text, a run through the real executor, and (when chromium is
// installed) that the HTML page renders to a non-trivial screenshot.

#include "steps/report.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include "pipeline/executor.h"
#include "pipeline/loader.h"
#include "pipeline/validate.h"
#include "steps/registry.h"
#include "steps/report_model.h"
#include "steps/report_render.h"
#include "test/pipeline/testing.h"

extern char** environ;

namespace slipway::steps {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using pipeline::StepSnapshot;
using slipway::testing::ReadFile;
using slipway::testing::ScopedEnv;
using slipway::testing::TempDir;

constexpr const char* kRunId = "20240501T120000Z-ab12";
constexpr const char* kSecret = "hunter2-Zq9";

/// A load-test summary as steps/loadtest/summary.h writes it (trimmed: no histograms).
std::string LoadTestSummary() {
  json series = json::array();
  for (int t = 0; t < 6; ++t)
    series.push_back({{"t", t},
                      {"requests", 200 - (t == 3 ? 40 : 0)},
                      {"errors", t == 3 ? 2 : 0},
                      {"dropped", 0},
                      {"p50_ms", 3.1 + t * 0.1},
                      {"p95_ms", t == 3 ? 48.0 : 11.5 + t},
                      {"p99_ms", t == 3 ? 90.0 : 20.0 + t}});
  json summary = {
      {"schema", "slipway.loadtest/v1"},
      {"executor", "constant-arrival-rate"},
      {"duration_s", 6.001},
      {"requests", 1160},
      {"rps", 193.3},
      {"errors", 2},
      {"error_rate", 0.001724},
      {"dropped", 0},
      {"latency_ms",
       {{"min", 0.8},
        {"mean", 6.2},
        {"p50", 3.3},
        {"p90", 12.1},
        {"p95", 14.31},
        {"p99", 41.0},
        {"p999", 88.0},
        {"max", 97.5}}},
      {"thresholds",
       json::array(
           {{{"metric", "http_req_duration"}, {"expr", "p(95)<200"}, {"measured", 14.31}, {"limit", 200}, {"ok", true}},
            {{"metric", "http_req_duration"}, {"expr", "p(99)<30"}, {"measured", 41.0}, {"limit", 30}, {"ok", false}},
            {{"metric", "http_req_failed"},
             {"expr", "rate<0.01"},
             {"measured", 0.001724},
             {"limit", 0.01},
             {"ok", true}}})},
      {"thresholds_ok", false},
      {"series", series},
      {"by_request",
       {{"home",
         {{"requests", 870},
          {"errors", 0},
          {"error_rate", 0},
          {"latency_ms", {{"p50", 3.0}, {"p95", 12.0}, {"p99", 30.0}, {"max", 60.0}}}}},
        {"api",
         {{"requests", 290},
          {"errors", 2},
          {"error_rate", 0.0069},
          {"latency_ms", {{"p50", 4.0}, {"p95", 20.0}, {"p99", 70.0}, {"max", 97.5}}}}}}}};
  return summary.dump();
}

/// An SLO verdict as the slo kind's report_json gives it; one objective's message holds the secret.
std::string SloReport() {
  json report = {{"result", "warning"},
                 {"score", 83.3},
                 {"gate", {{"pass", 90}, {"warning", 75}}},
                 {"objectives", json::array({{{"name", "availability"},
                                              {"source", "prometheus"},
                                              {"query", "sum(rate(ok[5m])) / sum(rate(all[5m]))"},
                                              {"value", 99.95},
                                              {"unit", "%"},
                                              {"target", 99.9},
                                              {"result", "pass"},
                                              {"weight", 1},
                                              {"key", true},
                                              {"message", ""}},
                                             {{"name", "p95-latency"},
                                              {"source", "prometheus"},
                                              {"query", "histogram_quantile(0.95, ...)"},
                                              {"value", 0.231},
                                              {"unit", "s"},
                                              {"target", "< 0.2"},
                                              {"result", "warning"},
                                              {"weight", 2},
                                              {"key", false},
                                              {"message", std::string("within warning (< 0.25); token ") + kSecret}},
                                             {{"name", "client-p95"},
                                              {"source", "load-test"},
                                              {"query", "p(95)"},
                                              {"value", 14.31},
                                              {"unit", "ms"},
                                              {"target", "< 10ms"},
                                              {"result", "fail"},
                                              {"weight", 1},
                                              {"key", false},
                                              {"message", "14.31ms >= 10ms"}}})},
                 {"error_budget",
                  {{"objective", "availability"},
                   {"period", "30d"},
                   {"consumed_percent", 37.5},
                   {"remaining_percent", 62.5},
                   {"burn_rate", 0.8},
                   {"freeze", false}}}};
  return report.dump();
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    masker_.Add(kSecret);
    // Whole seconds 10 s ago: the report is written "now", so the timeline spans about 10 s.
    t0_ = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) - 10s;
    steps_ = {
        Snap("prereqs", "prereq", "succeeded", 0, 120),
        Snap("namespace", "k8s.namespace", "unchanged", 130, 150),
        Snap("app", "k8s.apply", "succeeded", 150, 2200),
        Snap("smoke", "run", "failed", 2200, 2600),
        Snap("load-test", "loadtest", "succeeded", 2250, 8300),
        Snap("gate", "slo", "succeeded", 8310, 8900),
        Snap("notify", "notify", "skipped", -1, -1),
        Snap("report", "report", "running", 8950, -1),
    };
    steps_[2].attempts = 2;
    steps_[2].description = "the shop <frontend> & api";
    steps_[2].outputs = {{"revision", "7"}, {"token", kSecret}};
    steps_[3].reason = std::string("exit status 22: curl: (22) 503 <b>from</b> \"upstream\" | token=") + kSecret;
    steps_[4].tags = {"test"};
    steps_[4].needs = {"app"};
    steps_[4].outputs = {{"summary_json", LoadTestSummary()}, {"p95_ms", "14.31"}, {"rps", "193.3"}};
    steps_[5].outputs = {{"report_json", SloReport()}, {"score", "83.3"}, {"result", "warning"}};
    steps_[6].reason = "needs 'smoke', which failed";
    run_.plan_name = "shop";
    run_.plan_file = "plans/shop.yaml";
    run_.run_id = kRunId;
    run_.started = t0_;
    run_.steps = [this] { return steps_; };
    spec_.id = "report";
    spec_.kind = "report";
  }

  StepSnapshot Snap(const std::string& id, const std::string& kind, const std::string& status, int start_ms,
                    int end_ms) {
    StepSnapshot s;
    s.id = id;
    s.kind = kind;
    s.status = status;
    s.attempts = start_ms >= 0 ? 1 : 0;
    if (start_ms >= 0) s.started = t0_ + std::chrono::milliseconds(start_ms);
    if (end_ms >= 0) s.finished = t0_ + std::chrono::milliseconds(end_ms);
    s.loc = SourceLoc{"plans/shop.yaml", 10, 7};
    return s;
  }

  pipeline::StepContext Context(const json& with) {
    pipeline::StepContext ctx;
    ctx.spec = &spec_;
    ctx.body = {{"with", with}};
    ctx.plan_dir = tmp_.Path();
    ctx.masker = &masker_;
    ctx.run = &run_;
    return ctx;
  }

  Expected<pipeline::ApplyResult> Apply(const json& with = json::object()) {
    ScopedEnv templates("SLIPWAY_TEMPLATES", SLIPWAY_TEST_TEMPLATES);
    return step_.Apply(Context(with));
  }

  fs::path RunDir() const { return tmp_.Path() / "reports" / (std::string("shop-") + kRunId); }
  std::string Read(const std::string& name) const { return ReadFile((RunDir() / name).string()); }

  ReportStep step_;
  pipeline::Masker masker_;
  pipeline::RunView run_;
  pipeline::StepSpec spec_;
  std::vector<StepSnapshot> steps_;
  std::chrono::system_clock::time_point t0_;
  TempDir tmp_;
};

/// Occurrences of `needle` in `text`.
size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = 0; (pos = text.find(needle, pos)) != std::string::npos; pos += needle.size()) ++n;
  return n;
}

/// The attributes of the n-th start tag `<tag ...>` in `xml` (a minimal reader for our own output).
std::map<std::string, std::string> Attrs(const std::string& xml, const std::string& tag, size_t n = 0) {
  size_t pos = 0;
  for (size_t i = 0;; ++i) {
    pos = xml.find("<" + tag + " ", pos);
    if (pos == std::string::npos) return {};
    if (i == n) break;
    pos += tag.size() + 1;
  }
  std::string element = xml.substr(pos, xml.find('>', pos) - pos);
  std::map<std::string, std::string> out;
  static const std::regex kAttr(R"re(([a-z-]+)="([^"]*)")re");
  for (std::sregex_iterator it(element.begin(), element.end(), kAttr), end; it != end; ++it) out[(*it)[1]] = (*it)[2];
  return out;
}

/// Runs argv with a timeout in its own process group, killed as a group when it overstays.
/// Returns the exit code, or -1 when it was killed or could not start.
int RunWithTimeout(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&files, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &files, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(50ms);
  }
  ::kill(-pid, SIGKILL);  // chromium's helpers may outlive the browser process
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(ReportFormatTest, TimesAreUtcWithMilliseconds) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1714564800));  // 2024-05-01T12:00:00Z
  EXPECT_EQ(report::IsoTime(t), "2024-05-01T12:00:00.000Z");
  EXPECT_EQ(report::IsoTime(t + 2200ms), "2024-05-01T12:00:02.200Z");
  EXPECT_EQ(report::IsoTime({}), "");
  EXPECT_EQ(report::FormatMs(0.843), "0.84 ms");
  EXPECT_EQ(report::FormatMs(123.4), "123 ms");
  EXPECT_EQ(report::FormatMs(1240), "1.24 s");
  EXPECT_EQ(report::FormatRate(0.0008), "0.08%");
  EXPECT_EQ(report::FormatRate(0), "0%");
  EXPECT_EQ(report::EscapeMarkdown("a|b_c\\n<x>\nz"), "a\\|b\\_c\\\\n&lt;x&gt; z");
}

TEST_F(ReportTest, WritesEveryFormatIntoThePlanRunDirectoryAndPointsLatestThere) {
  auto r = Apply();
  ASSERT_TRUE(r.has_value()) << r.error().message;
  const fs::path dir = RunDir();
  for (const char* f : {"report.md", "report.json", "junit.xml", "report.html"})
    EXPECT_TRUE(fs::is_regular_file(dir / f)) << f;
  const fs::path latest = tmp_.Path() / "reports" / "latest";
  ASSERT_TRUE(fs::is_symlink(latest));
  EXPECT_EQ(fs::read_symlink(latest), fs::path(std::string("shop-") + kRunId));
  EXPECT_TRUE(fs::equivalent(latest, dir));
  EXPECT_EQ(r->outputs.at("dir"), dir.string());
  EXPECT_EQ(r->outputs.at("markdown"), (dir / "report.md").string());
  EXPECT_EQ(r->outputs.at("json"), (dir / "report.json").string());
  EXPECT_EQ(r->outputs.at("junit"), (dir / "junit.xml").string());
  EXPECT_EQ(r->outputs.at("html"), (dir / "report.html").string());
  EXPECT_EQ(r->outputs.at("status"), "failed");
  EXPECT_EQ(r->outputs.at("p95_ms"), "14.31");
  EXPECT_EQ(r->outputs.at("slo_score"), "83.3");
  EXPECT_EQ(r->summary, "FAIL: wrote markdown, json, junit, html to " + dir.string());
}

TEST_F(ReportTest, LaterRunRepointsLatestAndLeavesNoTempLinks) {
  ASSERT_TRUE(Apply().has_value());
  run_.run_id = "second-run";
  auto r = Apply({{"formats", {"json"}}});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  const fs::path reports = tmp_.Path() / "reports";
  EXPECT_EQ(fs::read_symlink(reports / "latest"), fs::path("shop-second-run"));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(reports)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"latest", std::string("shop-") + kRunId, "shop-second-run"}));
  EXPECT_TRUE(fs::exists(reports / "shop-second-run" / "report.json"));
  EXPECT_FALSE(fs::exists(reports / "shop-second-run" / "report.html"));
  EXPECT_EQ(r->outputs.at("html"), "");
}

TEST_F(ReportTest, JsonFollowsTheDocumentedSchema) {
  ASSERT_TRUE(Apply().has_value());
  json j = json::parse(Read("report.json"));
  EXPECT_EQ(j["schema"], "slipway.report/v1");
  EXPECT_EQ(j["plan"], "shop");
  EXPECT_EQ(j["plan_file"], "plans/shop.yaml");
  EXPECT_EQ(j["run_id"], kRunId);
  EXPECT_EQ(j["status"], "failed");
  EXPECT_EQ(j["title"], "slipway report: shop");
  EXPECT_EQ(j["started"], report::IsoTime(t0_));
  EXPECT_TRUE(
      std::regex_match(j["finished"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  EXPECT_EQ(j["counts"], json({{"succeeded", 4}, {"unchanged", 1}, {"failed", 1}, {"skipped", 1}}));
  ASSERT_EQ(j["steps"].size(), 7u);  // the report step itself is left out
  const json& smoke = j["steps"][3];
  EXPECT_EQ(smoke["id"], "smoke");
  EXPECT_EQ(smoke["kind"], "run");
  EXPECT_EQ(smoke["status"], "failed");
  EXPECT_EQ(smoke["attempts"], 1);
  EXPECT_EQ(smoke["started"], report::IsoTime(t0_ + 2200ms));
  EXPECT_EQ(smoke["finished"], report::IsoTime(t0_ + 2600ms));
  EXPECT_EQ(smoke["start_offset_ms"], 2200.0);
  EXPECT_EQ(smoke["duration_ms"], 400.0);
  EXPECT_EQ(smoke["loc"], "plans/shop.yaml:10:7");
  EXPECT_EQ(j["steps"][2]["attempts"], 2);
  EXPECT_EQ(j["steps"][2]["outputs"], json({{"revision", "7"}, {"token", "***"}}));
  EXPECT_EQ(j["steps"][4]["outputs"], json({{"p95_ms", "14.31"}, {"rps", "193.3"}}));  // summary_json lifted out
  EXPECT_EQ(j["steps"][4]["needs"], json({"app"}));
  EXPECT_EQ(j["steps"][4]["tags"], json({"test"}));
  const json& notify = j["steps"][6];
  EXPECT_TRUE(notify["started"].is_null());
  EXPECT_TRUE(notify["duration_ms"].is_null());
  EXPECT_EQ(notify["reason"], "needs 'smoke', which failed");

  ASSERT_EQ(j["loadtests"].size(), 1u);
  const json& lt = j["loadtests"][0];
  EXPECT_EQ(lt["step"], "load-test");
  EXPECT_EQ(lt["requests"], 1160.0);
  EXPECT_EQ(lt["rps"], 193.3);
  EXPECT_EQ(lt["error_rate"], 0.001724);
  EXPECT_EQ(lt["latency_ms"]["p95"], 14.31);
  EXPECT_EQ(lt["latency_ms"]["p999"], 88.0);
  ASSERT_EQ(lt["thresholds"].size(), 3u);
  EXPECT_EQ(
      lt["thresholds"][1],
      json(
          {{"metric", "http_req_duration"}, {"expr", "p(99)<30"}, {"measured", 41.0}, {"limit", 30.0}, {"ok", false}}));
  EXPECT_EQ(lt["thresholds_ok"], false);
  ASSERT_EQ(lt["series"].size(), 6u);
  EXPECT_EQ(lt["series"][3]["p95_ms"], 48.0);
  EXPECT_EQ(lt["by_request"]["api"]["errors"], 2.0);
  EXPECT_FALSE(lt.contains("error"));

  ASSERT_EQ(j["slos"].size(), 1u);
  const json& slo = j["slos"][0];
  EXPECT_EQ(slo["step"], "gate");
  EXPECT_EQ(slo["result"], "warning");
  EXPECT_EQ(slo["score"], 83.3);
  EXPECT_EQ(slo["gate"], json({{"pass", 90.0}, {"warning", 75.0}}));
  ASSERT_EQ(slo["objectives"].size(), 3u);
  EXPECT_EQ(slo["objectives"][0]["key"], true);
  EXPECT_EQ(slo["objectives"][1]["target"], "< 0.2");
  EXPECT_EQ(slo["objectives"][1]["message"], "within warning (< 0.25); token ***");
  EXPECT_EQ(slo["error_budget"], json({{"objective", "availability"},
                                       {"period", "30d"},
                                       {"consumed_percent", 37.5},
                                       {"remaining_percent", 62.5},
                                       {"burn_rate", 0.8},
                                       {"freeze", false}}));
  EXPECT_EQ(j["p95_ms"], 14.31);
  EXPECT_EQ(j["slo_score"], 83.3);
}

TEST_F(ReportTest, JunitHasTheRequiredElementsAndMatchingCounts) {
  ASSERT_TRUE(Apply().has_value());
  const std::string xml = Read("junit.xml");
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites ", 0), 0u) << xml;
  // 7 steps + 3 thresholds + 3 objectives; failures: smoke, p(99)<30, client-p95; skipped: notify.
  auto root = Attrs(xml, "testsuites");
  EXPECT_EQ(root["tests"], "13");
  EXPECT_EQ(root["failures"], "3");
  EXPECT_EQ(root["errors"], "0");
  EXPECT_EQ(root["skipped"], "1");
  const double wall = std::stod(root["time"]);  // the run's wall time: t0 was 10 s before the report
  EXPECT_GE(wall, 10.0);
  EXPECT_LT(wall, 30.0);
  const std::vector<std::vector<std::string>> want = {
      {"steps", "7", "1", "0", "1"}, {"thresholds", "3", "1", "0", "0"}, {"objectives", "3", "1", "0", "0"}};
  for (size_t i = 0; i < want.size(); ++i) {
    auto s = Attrs(xml, "testsuite", i);
    EXPECT_EQ(s["name"], want[i][0]);
    EXPECT_EQ(s["tests"], want[i][1]) << want[i][0];
    EXPECT_EQ(s["failures"], want[i][2]) << want[i][0];
    EXPECT_EQ(s["errors"], want[i][3]) << want[i][0];
    EXPECT_EQ(s["skipped"], want[i][4]) << want[i][0];
    EXPECT_FALSE(s["time"].empty());
  }
  EXPECT_EQ(Count(xml, "<testsuite "), 3u);
  EXPECT_EQ(Count(xml, "<testcase "), 13u);
  EXPECT_EQ(Count(xml, "<failure "), 3u);
  EXPECT_EQ(Count(xml, "<skipped "), 1u);
  for (size_t i = 0; i < 13; ++i) {
    auto c = Attrs(xml, "testcase", i);
    EXPECT_FALSE(c["name"].empty()) << i;
    EXPECT_FALSE(c["classname"].empty()) << i;
    EXPECT_FALSE(c["time"].empty()) << i;
  }
  auto smoke = Attrs(xml, "testcase", 3);
  EXPECT_EQ(smoke["name"], "smoke");
  EXPECT_EQ(smoke["classname"], "shop.run");
  EXPECT_EQ(smoke["time"], "0.4");
  auto failure = Attrs(xml, "failure", 0);
  EXPECT_EQ(failure["type"], "failed");
  EXPECT_EQ(failure["message"],
            "exit status 22: curl: (22) 503 &lt;b&gt;from&lt;/b&gt; &quot;upstream&quot; | token=***");
  EXPECT_EQ(Attrs(xml, "failure", 1)["message"], "p(99)&lt;30 not met: measured 41, limit 30");
  EXPECT_EQ(Attrs(xml, "failure", 2)["type"], "objective");
  EXPECT_NE(xml.find("<system-out>warning: within warning (&lt; 0.25); token ***"), std::string::npos);
  EXPECT_EQ(Attrs(xml, "skipped", 0)["message"], "needs &#39;smoke&#39;, which failed");
  if (fs::exists("/usr/bin/xmllint")) {
    EXPECT_EQ(RunWithTimeout({"/usr/bin/xmllint", "--noout", (RunDir() / "junit.xml").string()}, 20s), 0);
  }
}

TEST_F(ReportTest, MarkdownHasTheSummaryLineAndTables) {
  ASSERT_TRUE(Apply().has_value());
  const std::string md = Read("report.md");
  EXPECT_EQ(md.rfind("## slipway report: shop: FAIL\n\n**FAIL**: plan shop, run 20240501T120000Z-ab12, ", 0), 0u) << md;
  EXPECT_NE(md.find(" 7 steps (4 succeeded, 1 unchanged, 1 failed, 1 skipped)\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| Step | Kind | Status | Start | Duration | Attempts | Reason |\n|:-----|"), std::string::npos);
  EXPECT_NE(md.find("| app | k8s.apply | succeeded | +150ms | 2.0s | 2 |  |\n"), std::string::npos) << md;
  EXPECT_NE(
      md.find("| smoke | run | **failed** | +2.2s | 400ms | 1 | exit status 22: curl: (22) 503 &lt;b&gt;from&lt;/b&gt; "
              "\"upstream\" \\| token=\\*\\*\\* |\n"),
      std::string::npos)
      << md;
  EXPECT_NE(md.find("| notify | notify | skipped | - | - | 0 | needs 'smoke', which failed |\n"), std::string::npos)
      << md;
  EXPECT_NE(md.find("#### load-test (succeeded)\n\n| Requests | RPS | Errors | Error rate | Dropped | p50 | p90 | p95 "
                    "| p99 | max |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| 1160 | 193.3 | 2 | 0.17% | 0 | 3.3 ms | 12.1 ms | 14.3 ms | 41 ms | 97.5 ms |\n"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| http\\_req\\_duration p(99)&lt;30 | 41 ms | 30 ms | **FAIL** |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| http\\_req\\_failed rate&lt;0.01 | 0.0017 | 0.01 | PASS |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| api | 290 | 2 | 0.69% | 4 ms | 20 ms | 70 ms | 97.5 ms |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("#### gate: WARNING (score 83.3%; gate: pass at 90%, warning at 75%)\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| Objective | Value | Target | Weight | Result | Note |\n"), std::string::npos);
  EXPECT_NE(md.find("| availability (key) | 99.95% | 99.9 | 1 | PASS |  |\n"), std::string::npos) << md;
  EXPECT_NE(
      md.find("| p95-latency | 0.231 s | &lt; 0.2 | 2 | WARNING | within warning (&lt; 0.25); token \\*\\*\\* |\n"),
      std::string::npos)
      << md;
  EXPECT_NE(md.find("| client-p95 | 14.31 ms | &lt; 10ms | 1 | **FAIL** | 14.31ms &gt;= 10ms |\n"), std::string::npos)
      << md;
  EXPECT_NE(
      md.find("**Error budget** (availability, 30d): 37.5% consumed, 62.5% remaining, burn rate 0.8x, freeze off\n"),
      std::string::npos)
      << md;
  EXPECT_EQ(md.find("\n\n\n"), std::string::npos) << "no runs of blank lines:\n" << md;
}

TEST_F(ReportTest, SecretsAppearInNoFile) {
  // The secret also sits in a load-test request name and a step description.
  json summary = json::parse(LoadTestSummary());
  summary["by_request"][std::string("login-") + kSecret] = summary["by_request"]["api"];
  steps_[4].outputs["summary_json"] = summary.dump();
  steps_[1].description = std::string("label with ") + kSecret;
  run_.plan_file = std::string("plans/") + kSecret + ".yaml";
  ASSERT_TRUE(Apply({{"title", std::string("deploy ") + kSecret}}).has_value());
  for (const char* f : {"report.md", "report.json", "junit.xml", "report.html"}) {
    const std::string text = Read(f);
    ASSERT_FALSE(text.empty()) << f;
    EXPECT_EQ(text.find(kSecret), std::string::npos) << f;
    EXPECT_EQ(text.find("hunter2"), std::string::npos) << f;
  }
  EXPECT_NE(Read("report.html").find("token=***"), std::string::npos);
  EXPECT_NE(Read("report.html").find("login-***"), std::string::npos);
  EXPECT_EQ(json::parse(Read("report.json"))["title"], "deploy ***");
}

TEST_F(ReportTest, HtmlIsSelfContainedAndEscapesRunText) {
  steps_[3].reason = "<script>alert('x')</script> & <img src=x>";
  ASSERT_TRUE(Apply().has_value());
  const std::string html = Read("report.html");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; &lt;img src=x&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.find("the shop <frontend>"), std::string::npos);
  EXPECT_NE(html.find("the shop &lt;frontend&gt; &amp; api"), std::string::npos);
  // Timeline, percentile bars, throughput and latency lines.
  EXPECT_EQ(Count(html, "<svg "), 4u);
  EXPECT_EQ(Count(html, "</svg>"), 4u);
  EXPECT_NE(html.find("aria-label=\"Timeline of the steps\""), std::string::npos);
  EXPECT_NE(html.find("aria-label=\"Latency percentiles\""), std::string::npos);
  EXPECT_NE(html.find("<title>smoke (run): failed, started +2.2s, took 400ms"), std::string::npos);
  EXPECT_NE(html.find("class=\"badge fail\">FAIL</span>"), std::string::npos);
  EXPECT_NE(html.find("style=\"width: 37.5%\""), std::string::npos);  // error budget bar
  EXPECT_NE(html.find("<span class=\"pill warn\">WARNING</span>"), std::string::npos);
}

TEST_F(ReportTest, ToleratesMissingAndMalformedProducerData) {
  steps_[4].outputs = {{"summary_json",
                        "{\"requests\": 10, \"latency_ms\": {\"p95\": \"7.5\"}, \"thresholds\": [{}], "
                        "\"series\": [{\"t\": 0}, 5]}"}};
  steps_[5].outputs = {{"report_json", "{\"objectives\": [{\"name\": \"x\"}, \"junk\"], \"error_budget\": 3}"}};
  StepSnapshot broken = Snap("broken-lt", "loadtest", "failed", 100, 200);
  broken.outputs = {{"summary_json", "not json {"}, {"report_json", "[1, 2]"}};
  steps_.push_back(broken);
  steps_[3].status = "succeeded";
  auto r = Apply();
  ASSERT_TRUE(r.has_value()) << r.error().message;
  json j = json::parse(Read("report.json"));
  ASSERT_EQ(j["loadtests"].size(), 2u);
  EXPECT_EQ(j["loadtests"][0]["requests"], 10.0);
  EXPECT_TRUE(j["loadtests"][0]["rps"].is_null());
  EXPECT_EQ(j["loadtests"][0]["latency_ms"]["p95"], 7.5);
  EXPECT_EQ(j["loadtests"][0]["thresholds"][0],
            json({{"metric", ""}, {"expr", ""}, {"measured", nullptr}, {"limit", nullptr}, {"ok", nullptr}}));
  EXPECT_EQ(j["loadtests"][0]["series"].size(), 1u);
  EXPECT_EQ(j["loadtests"][1]["error"], "output summary_json: not valid JSON");
  EXPECT_EQ(j["slos"][0]["objectives"].size(), 1u);
  EXPECT_TRUE(j["slos"][0]["result"].is_null());
  EXPECT_TRUE(j["slos"][0]["error_budget"].is_null());
  EXPECT_EQ(j["slos"][1]["error"], "output report_json: not a JSON object");
  EXPECT_EQ(r->outputs.at("p95_ms"), "7.5");
  EXPECT_EQ(r->outputs.at("slo_score"), "");
  EXPECT_EQ(r->outputs.at("status"), "failed");  // broken-lt failed
  const std::string xml = Read("junit.xml");
  EXPECT_EQ(Attrs(xml, "testsuites")["errors"], "2");
  EXPECT_EQ(Count(xml, "<error "), 2u);
  EXPECT_NE(Read("report.html").find("output summary_json: not valid JSON"), std::string::npos);
  EXPECT_NE(Read("report.md").find("> output report\\_json: not a JSON object"), std::string::npos);
}

TEST_F(ReportTest, SucceedsWhenNothingFailedAndRunIdFallsBackToATimestamp) {
  steps_[3].status = "succeeded";
  steps_[3].reason = "";
  run_.run_id = "";
  auto r = Apply({{"formats", {"markdown", "json"}}, {"dir", "out/reports"}});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->outputs.at("status"), "succeeded");
  const fs::path dir = r->outputs.at("dir");
  EXPECT_EQ(dir.parent_path(), tmp_.Path() / "out" / "reports");
  EXPECT_TRUE(std::regex_match(dir.filename().string(), std::regex(R"(shop-\d{8}T\d{6}Z)"))) << dir;
  EXPECT_EQ(ReadFile((dir / "report.md").string()).rfind("## slipway report: shop: PASS\n\n**PASS**", 0), 0u);
  EXPECT_FALSE(fs::exists(dir / "junit.xml"));
  EXPECT_TRUE(fs::is_symlink(tmp_.Path() / "out" / "reports" / "latest"));
}

TEST_F(ReportTest, WritesWhatItCanWhenTheTemplatesAreMissing) {
  TempDir empty;
  ScopedEnv templates("SLIPWAY_TEMPLATES", empty.Path().string());
  auto r = step_.Apply(Context(json::object()));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(
      r.error().message.rfind("report: could not write markdown: SLIPWAY_TEMPLATES=" + empty.Path().string() +
                                  " does not hold report/report.html.mustache and report/report.md.mustache; html: ",
                              0),
      0u)
      << r.error().message;
  EXPECT_NE(r.error().message.find("(wrote json, junit to " + RunDir().string() + ")"), std::string::npos);
  EXPECT_TRUE(fs::exists(RunDir() / "report.json"));
  EXPECT_TRUE(fs::exists(RunDir() / "junit.xml"));
}

TEST_F(ReportTest, FindsTheSourceTemplatesWithoutTheEnvironment) {
  ScopedEnv templates("SLIPWAY_TEMPLATES", std::nullopt);
  auto dir = report::FindTemplatesDir();
  ASSERT_TRUE(dir.has_value()) << dir.error().message;
  EXPECT_TRUE(fs::is_regular_file(*dir / "report" / "report.html.mustache"));
}

TEST_F(ReportTest, UnknownFormatFailsTheRunWithASuggestion) {
  auto r = Apply({{"formats", {"markdown", "htm"}}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "with.formats: unknown report format 'htm'; did you mean 'html'?");
  EXPECT_FALSE(fs::exists(tmp_.Path() / "reports"));
}

TEST_F(ReportTest, ValidateNamesUnknownFormatsAndKeys) {
  pipeline::StepSpec spec;
  spec.id = "report";
  spec.kind = "report";
  spec.loc = SourceLoc{"plan.yaml", 9, 9};
  spec.locs["/with/formats/1"] = SourceLoc{"plan.yaml", 12, 29};
  spec.body = {{"with", {{"formats", {"markdown", "junitt", "pdf"}}, {"dirr", "x"}, {"title", "t"}}}};
  pipeline::Diagnostics diag;
  step_.Validate(spec, diag);
  std::vector<std::string> got;
  for (const auto& d : diag.Items()) got.push_back(d.loc.ToString() + ": " + d.message + " | " + d.hint);
  EXPECT_EQ(got, (std::vector<std::string>{
                     "plan.yaml:9:9: unknown key 'dirr' in 'with' of report | did you mean 'dir'?",
                     "plan.yaml:12:29: unknown report format 'junitt' | did you mean 'junit'?",
                     "plan.yaml:9:9: unknown report format 'pdf' | expected one of: markdown, json, junit, html"}));
  pipeline::Diagnostics ok;
  spec.body = {{"with", {{"formats", {"html", "{{ vars.fmt }}"}}, {"dir", "r"}}}};
  step_.Validate(spec, ok);
  EXPECT_FALSE(ok.HasErrors()) << ok.Format();
}

TEST_F(ReportTest, DescribeSaysWhatWouldBeWrittenWhere) {
  pipeline::StepContext ctx = Context(json::object());
  ctx.run = nullptr;
  pipeline::Plan plan;
  plan.name = "shop";
  ctx.plan = &plan;
  EXPECT_EQ(step_.Describe(ctx),
            std::vector<std::string>{"write markdown, json, junit, html to reports/shop-<run id>/"});
  pipeline::StepContext with_run = Context({{"formats", {"html", "json"}}, {"dir", "out/"}});
  EXPECT_EQ(step_.Describe(with_run), std::vector<std::string>{"write json, html to out/shop-<run id>/"});
}

TEST_F(ReportTest, ReportsARealRunThroughTheExecutor) {
  const std::string yaml = std::string(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: live}
steps:
  - id: a
    run: [bash, -c, 'echo "greeting=hi" >> "$SLIPWAY_OUTPUT"']
  - id: b
    needs: [a]
    run: [bash, -c, 'echo boom >&2; exit 3']
  - id: c
    needs: [b]
    run: [bash, -c, 'true']
  - id: report
    uses: report
    needs: [c]
    if: always()
    with: {formats: [json, junit], dir: reports}
)");
  pipeline::Diagnostics diag;
  auto plan = pipeline::LoadPlanText("live.yaml", yaml, diag);
  ASSERT_TRUE(plan.has_value()) << diag.Format();
  pipeline::KindRegistry kinds = BuiltinKinds();
  pipeline::Dag dag = pipeline::Dag::Build(*plan, diag);
  pipeline::Json vars = plan->vars;
  pipeline::ValidatePlan(*plan, dag, kinds, vars, diag);
  ASSERT_FALSE(diag.HasErrors()) << diag.Format();
  pipeline::SecretStore secrets(masker_);
  pipeline::RecordingSink events;
  pipeline::ApplyRunner runner;
  pipeline::ExecOptions options;
  options.state_dir = tmp_.Path() / ".slipway";
  options.plan_dir = tmp_.Path();
  options.grace = 1s;
  options.run_id = "live-1";
  pipeline::Executor executor(*plan, dag, kinds, vars, secrets, masker_, events, runner, std::move(options));
  pipeline::RunResult result = executor.Run();
  const auto& rec = result.steps.at(3);
  ASSERT_EQ(pipeline::StatusName(rec.status), "succeeded") << rec.reason;
  json j = json::parse(ReadFile((tmp_.Path() / "reports" / "live-live-1" / "report.json").string()));
  EXPECT_EQ(j["status"], "failed");
  ASSERT_EQ(j["steps"].size(), 3u);
  EXPECT_EQ(j["steps"][0]["status"], "succeeded");
  EXPECT_EQ(j["steps"][0]["outputs"], json({{"greeting", "hi"}}));
  EXPECT_EQ(j["steps"][1]["status"], "failed");
  EXPECT_NE(j["steps"][1]["reason"].get<std::string>().find("exit"), std::string::npos) << j["steps"][1]["reason"];
  EXPECT_EQ(j["steps"][2]["status"], "skipped");
  EXPECT_FALSE(j["steps"][1]["duration_ms"].is_null());
  EXPECT_EQ(rec.outputs.at("status"), "failed");
  EXPECT_EQ(rec.outputs.at("junit"), (tmp_.Path() / "reports" / "live-live-1" / "junit.xml").string());
}

TEST_F(ReportTest, HtmlRendersInChromium) {
  if (!fs::exists("/usr/bin/chromium")) GTEST_SKIP() << "/usr/bin/chromium is not installed; the HTML was not rendered";
  ASSERT_TRUE(Apply().has_value());
  TempDir profile;
  const std::string png = (tmp_.Path() / "report.png").string();
  const char* keep = std::getenv("SLIPWAY_REPORT_SCREENSHOT");  // to look at it: copy the PNG there
  int rc = RunWithTimeout(
      {"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
       "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
       "--user-data-dir=" + profile.Path().string(), "--screenshot=" + png, "--window-size=1280,2000",
       "file://" + (RunDir() / "report.html").string()},
      60s);
  EXPECT_EQ(rc, 0);
  ASSERT_TRUE(fs::exists(png));
  EXPECT_GT(fs::file_size(png), 10u * 1024);
  if (keep && *keep) {
    fs::copy_file(png, keep, fs::copy_options::overwrite_existing);
    fs::copy_file(RunDir() / "report.html", std::string(keep) + ".html", fs::copy_options::overwrite_existing);
  }
}

}  // namespace
}  // namespace slipway::steps
