// The local kinds (service, http.check, template, notify, prereq) through the built binary, with
// real processes: slipway's own demo service and a small recording webhook receiver.
#include <nlohmann/json.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "support/e2e_harness.h"

namespace slipway::test {
namespace {

using nlohmann::json;

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

// Running (a zombie waiting for its reaper counts as gone: this sandbox's init may be slow to reap).
bool Alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

class LocalKindsTest : public TempDirTest {
 protected:
  void TearDown() override {
    // Never leave a demo service behind, even when an assertion failed.
    Slipway({"rollback", "svc.yaml"});
    TempDirTest::TearDown();
  }
  std::string ServicePlan(int port, const std::string& extra_steps = "") {
    return "apiVersion: slipway/v1\nkind: Plan\nmetadata: {name: svc}\nvars: {port: \"" + std::to_string(port) +
           "\", fail: \"no\", error_rate: \"0\"}\nsteps:\n"
           "  - id: app\n    uses: service\n    with:\n      run: [" SLIPWAY_DEMO_SERVICE
           ", --port, \"{{ vars.port }}\", --error-rate, \"{{ vars.error_rate }}\"]\n"
           "      log: app.log\n      ready: {url: \"http://127.0.0.1:{{ vars.port }}/health\", timeout: 10s}\n"
           "  - id: health\n    needs: [app]\n    uses: http.check\n"
           "    with: {url: \"http://127.0.0.1:{{ vars.port }}/health\", expect: {status: 200, body_contains: ok}, "
           "timeout: 5s, interval: 100ms}\n"
           "  - id: gate\n    needs: [health]\n    run: [test, \"{{ vars.fail }}\", \"=\", \"no\"]\n" +
           extra_steps;
  }
  pid_t ServicePid() {
    auto j = json::parse(Read(".slipway/services/app.json"), nullptr, false);
    return j.is_discarded() ? 0 : j.value("pid", 0);
  }
};

TEST_F(LocalKindsTest, ServiceStartsChecksAndRollbackStopsIt) {
  int port = FreePort();
  Write("svc.yaml", ServicePlan(port));
  auto r = Slipway({"apply", "svc.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  pid_t pid = ServicePid();
  EXPECT_TRUE(Alive(pid));
  EXPECT_NE(r.out.find("[health] succeeded"), std::string::npos) << r.out;
  // Second run: the probe (not the checkpoint) finds it running, ready and with the same definition.
  auto again = Slipway({"apply", "svc.yaml"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_NE(again.out.find("[app] unchanged (service 'app' is running (pid " + std::to_string(pid) + ") and ready)"),
            std::string::npos)
      << again.out;
  EXPECT_EQ(ServicePid(), pid);
  auto undo = Slipway({"rollback", "svc.yaml"});
  EXPECT_EQ(undo.exit_code, 0) << undo.all();
  for (int i = 0; i < 50 && Alive(pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(Alive(pid)) << "slipway rollback must stop the service: " << undo.all();
}

TEST_F(LocalKindsTest, FailureLaterInTheRunStopsTheServiceItStarted) {
  int port = FreePort();
  Write("svc.yaml", ServicePlan(port));
  auto r = Slipway({"apply", "svc.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.out.find("[app] rolled back"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(Path(".slipway/services/app.json")));
}

TEST_F(LocalKindsTest, ServiceThatNeverGetsReadyFailsWithItsLog) {
  Write("svc.yaml", "apiVersion: slipway/v1\nkind: Plan\nmetadata: {name: svc}\nsteps:\n"
                    "  - id: app\n    uses: service\n    with:\n"
                    "      run: [sh, -c, 'echo starting up; echo broken config >&2; sleep 30']\n"
                    "      ready: {port: " + std::to_string(FreePort()) + ", timeout: 1s}\n");
  auto r = Slipway({"apply", "svc.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.out.find("was not ready within 1.0s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("broken config"), std::string::npos) << r.out;
}

TEST_F(LocalKindsTest, HttpCheckTimesOutWithTheLastReason) {
  int port = FreePort();
  Write("svc.yaml", ServicePlan(port) +
                        "  - id: wrong\n    needs: [app]\n    uses: http.check\n    with: {url: "
                        "\"http://127.0.0.1:{{ vars.port }}/nope\", timeout: 1s, interval: 200ms}\n");
  auto r = Slipway({"apply", "svc.yaml", "--no-rollback"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.out.find("GET http://127.0.0.1:" + std::to_string(port) + "/nope did not meet expectations within 1.0s"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("last: status 404, want 200"), std::string::npos) << r.out;
}

TEST_F(LocalKindsTest, StateStoppedTearsTheServiceDown) {
  int port = FreePort();
  Write("svc.yaml", ServicePlan(port) + "  - id: teardown\n    needs: [gate]\n    if: always()\n    uses: service\n"
                                        "    with: {name: app, state: stopped}\n");
  auto r = Slipway({"apply", "svc.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_FALSE(std::filesystem::exists(Path(".slipway/services/app.json")));
}

TEST_F(LocalKindsTest, TemplateRendersChecksAndRollsBack) {
  Write("t.mustache", "scrape_interval: {{ interval }}\ntarget: {{ vars.host }}:{{ port }}\n");
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: tpl}
vars: {host: 127.0.0.1, fail: "no"}
steps:
  - id: config
    uses: template
    with: {src: t.mustache, dest: out/prom.yml, values: {interval: 1s, port: "9090"}}
  - id: gate
    needs: [config]
    run: [test, "{{ vars.fail }}", "=", "no"]
)");
  ASSERT_EQ(Slipway({"apply", "p.yaml"}).exit_code, 0);
  EXPECT_EQ(Read("out/prom.yml"), "scrape_interval: 1s\ntarget: 127.0.0.1:9090\n");
  auto again = Slipway({"apply", "p.yaml", "--fresh"});
  EXPECT_NE(again.out.find("[config] unchanged"), std::string::npos) << again.out;
  auto failing = Slipway({"apply", "p.yaml", "--set", "host=10.0.0.1", "--set", "fail=yes"});
  EXPECT_EQ(failing.exit_code, 1);
  EXPECT_EQ(Read("out/prom.yml"), "scrape_interval: 1s\ntarget: 127.0.0.1:9090\n");  // restored
}

TEST_F(LocalKindsTest, NotifyPostsSlackJsonAndFailsOnNon2xx) {
  int port = FreePort();
  // A tiny receiver (not Slack): records each body, answers 200 on /hook and 500 elsewhere.
  Write("receiver.py", "import http.server, sys\n"
                       "class H(http.server.BaseHTTPRequestHandler):\n"
                       "    def do_POST(self):\n"
                       "        body = self.rfile.read(int(self.headers['Content-Length']))\n"
                       "        open('received.jsonl', 'ab').write(body + b'\\n')\n"
                       "        self.send_response(200 if self.path == '/hook' else 500); self.end_headers(); self.wfile.write(b'ok')\n"
                       "    def log_message(self, *a): pass\n"
                       "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n");
  pid_t receiver = ::fork();
  if (receiver == 0) {
    ::chdir(dir_.c_str());
    ::setpgid(0, 0);
    ::execl("/usr/bin/python3", "python3", "receiver.py", std::to_string(port).c_str(), (char*)nullptr);
    ::_exit(127);
  }
  Write("p.yaml", "apiVersion: slipway/v1\nkind: Plan\nmetadata: {name: n}\nsteps:\n"
                  "  - id: tell\n    uses: notify\n    with:\n      webhook: \"{{ secrets.HOOK }}\"\n"
                  "      text: \"deploy of {{ vars.app }} finished\"\n      fields: {Plan: n, Status: ok}\n"
                  "vars: {app: shop}\n");
  for (int i = 0; i < 100; ++i) {
    auto probe = Slipway({"version"});
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string hook = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  auto ok = Slipway({"apply", "p.yaml"}, {{"HOOK", hook}});
  auto bad = Slipway({"apply", "p.yaml", "--fresh"}, {{"HOOK", "http://127.0.0.1:" + std::to_string(port) + "/other"}});
  auto dry = Slipway({"plan", "p.yaml", "--fresh"}, {{"HOOK", hook}});
  ::kill(-receiver, SIGKILL);
  ::waitpid(receiver, nullptr, 0);
  ASSERT_EQ(ok.exit_code, 0) << ok.all();
  auto lines = Lines("received.jsonl");
  ASSERT_EQ(lines.size(), 2u);  // the dry-run posted nothing
  json body = json::parse(lines[0]);
  EXPECT_EQ(body["text"], "deploy of shop finished");
  EXPECT_EQ(body["attachments"][0]["fields"][0], json::parse(R"({"title": "Plan", "value": "n", "short": true})"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("notify: the webhook answered 500"), std::string::npos) << bad.out;
  EXPECT_EQ(dry.all().find(hook), std::string::npos) << "the webhook URL is a secret: " << dry.all();
}

TEST_F(LocalKindsTest, PrereqReportsEveryMissingThingAtOnce) {
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: pre}
steps:
  - id: prereqs
    uses: prereq
    with:
      tools: {sh: "", curl: ">=7.50", no-such-tool-xyz: ">=1.0", bash: ">=99"}
      env: [SLIPWAY_TEST_UNSET_VAR]
      files: [missing/ca.pem]
)");
  auto r = Slipway({"apply", "p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.out.find("4 prerequisite(s) missing"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no-such-tool-xyz: not found on PATH"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("need >=99; upgrade or downgrade it"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("environment variable SLIPWAY_TEST_UNSET_VAR is not set"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("missing/ca.pem does not exist"), std::string::npos) << r.out;
  Write("bad.yaml", "apiVersion: slipway/v1\nkind: Plan\nmetadata: {name: pre}\nsteps:\n"
                    "  - id: p\n    uses: prereq\n    with: {tools: {kubectl: \"=>1.2\"}, tols: {}}\n");
  auto v = Slipway({"validate", "bad.yaml"});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_NE(v.err.find("unknown key 'tols' in 'with' of prereq; did you mean 'tools'?"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("invalid version constraint '=>1.2'"), std::string::npos) << v.err;
}

TEST_F(LocalKindsTest, PrereqResourcesAreValidatedWithTheirLocation) {
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: pre}
steps:
  - id: prereqs
    uses: prereq
    with:
      resources:
        - {kind: Secret, name: tls, namespace: istio-system, reason: x}
        - {name: es}
)");
  auto v = Slipway({"validate", "p.yaml"});
  EXPECT_EQ(v.exit_code, 2) << v.all();
  EXPECT_NE(v.err.find("p.yaml:9:70: error: unknown key 'reason' in a resource of prereq"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("p.yaml:10:11: error: a resource of prereq needs 'kind'"), std::string::npos) << v.err;
}

TEST_F(LocalKindsTest, PlanSaysApplyWouldFailAtTheMissingPrerequisiteAndDetailedExitcodeIsOne) {
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: pre}
steps:
  - id: prereqs
    uses: prereq
    with:
      tools: {sh: "", helm: ">=3.12", no-such-tool-xyz: ">=1.0"}
  - id: deploy
    needs: [prereqs]
    run: [touch, deployed]
)");
  std::map<std::string, std::string> env{{"PATH", "/usr/bin:/bin"}};
  auto plan = Slipway({"plan", "p.yaml"}, env);
  EXPECT_EQ(plan.exit_code, 0) << "plain plan still works on a laptop without the tools: " << plan.all();
  // The summary ends with it: after the counts, nothing but the reason.
  std::string last = plan.out.substr(plan.out.find("\n2 would run, 0 unchanged, 0 skipped\n") + 1);
  EXPECT_EQ(last.substr(last.find('\n') + 1).rfind("apply would fail at step prereqs: 2 prerequisite(s) missing:", 0), 0u)
      << plan.out;
  EXPECT_NE(last.find("no-such-tool-xyz: not found on PATH"), std::string::npos) << last;
  auto detailed = Slipway({"plan", "p.yaml", "--detailed-exitcode"}, env);
  EXPECT_EQ(detailed.exit_code, 1) << detailed.all();
  auto js = Slipway({"plan", "p.yaml", "--output", "json"}, env);
  ASSERT_EQ(js.exit_code, 0) << js.all();
  json doc = json::parse(js.out);
  EXPECT_EQ(doc["apply_would_fail"]["step"], "prereqs") << doc.dump(2);
  EXPECT_EQ(doc["steps"][0]["probe"]["would_fail"], true) << doc.dump(2);
  EXPECT_FALSE(doc["steps"][1]["probe"].contains("would_fail"));
  EXPECT_FALSE(std::filesystem::exists(Path("deployed")));
  // With every prerequisite met the summary says nothing of the kind and the exit code is 2 (changes).
  Write("p.yaml", Read("p.yaml").replace(Read("p.yaml").find(", helm"), std::string(", helm: \">=3.12\", no-such-tool-xyz: \">=1.0\"").size(), ""));
  auto ok = Slipway({"plan", "p.yaml", "--detailed-exitcode"}, env);
  EXPECT_EQ(ok.exit_code, 2) << ok.all();
  EXPECT_EQ(ok.out.find("apply would fail"), std::string::npos) << ok.out;
  auto ok_json = Slipway({"plan", "p.yaml", "--output", "json"}, env);
  EXPECT_TRUE(json::parse(ok_json.out)["apply_would_fail"].is_null()) << ok_json.out;
}

}  // namespace
}  // namespace slipway::test
