// End-to-end tests of the core engine: the built binary on fixture plans in a temp dir.
#include <nlohmann/json.hpp>
#include <signal.h>

#include <chrono>
#include <thread>

#include "support/e2e_harness.h"

namespace slipway::test {
namespace {

using nlohmann::json;

constexpr const char* kHeader = "apiVersion: slipway/v1\nkind: Plan\nmetadata: {name: e2e}\n";

class CoreE2ETest : public TempDirTest {};

TEST_F(CoreE2ETest, OrderRespectsNeeds) {
  Write("p.yaml", std::string(kHeader) + R"(parallel: 4
steps:
  - {id: c, needs: [b], shell: 'echo c >> order.txt'}
  - {id: a, shell: 'sleep 0.2; echo a >> order.txt'}
  - {id: b, needs: [a], shell: 'echo b >> order.txt'}
  - {id: d, needs: [a, c], shell: 'echo d >> order.txt'}
)");
  auto r = Slipway({"apply", "p.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(Lines("order.txt"), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST_F(CoreE2ETest, ParallelStepsReallyOverlap) {
  // Each step notes when it starts and ends (ns); with --parallel 2 the two sleeps overlap.
  Write("p.yaml", std::string(kHeader) + R"(steps:
  - {id: x, shell: 'echo x $(date +%s%N) >> t.txt; sleep 0.5; echo x $(date +%s%N) >> t.txt'}
  - {id: y, shell: 'echo y $(date +%s%N) >> t.txt; sleep 0.5; echo y $(date +%s%N) >> t.txt'}
)");
  auto overlap = [&](const std::string& parallel) {
    std::filesystem::remove(Path("t.txt"));
    auto r = Slipway({"apply", "p.yaml", "--parallel", parallel, "--fresh"});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    std::map<std::string, std::vector<long long>> t;
    for (const auto& l : Lines("t.txt")) t[l.substr(0, 1)].push_back(std::stoll(l.substr(2)));
    return std::min(t["x"][1], t["y"][1]) - std::max(t["x"][0], t["y"][0]);  // >0: they overlapped
  };
  EXPECT_GT(overlap("2"), 300'000'000);  // at least 0.3 s of the 0.5 s sleeps ran side by side
  EXPECT_LT(overlap("1"), 0);
}

TEST_F(CoreE2ETest, SecondRunWithChecksIsUnchangedAndRunsNoApply) {
  Write("p.yaml", std::string(kHeader) + R"(steps:
  - id: make-a
    shell: 'echo applied >> applies.txt; touch a.done'
    check: [test, -f, a.done]
  - id: make-b
    needs: [make-a]
    shell: 'echo applied >> applies.txt; touch b.done'
    check: [test, -f, b.done]
)");
  ASSERT_EQ(Slipway({"apply", "p.yaml"}).exit_code, 0);
  ASSERT_EQ(Lines("applies.txt").size(), 2u);
  // --fresh ignores the checkpoint, so only the checks can make the steps unchanged.
  auto r = Slipway({"apply", "p.yaml", "--fresh"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("[make-a] unchanged (check passed: test -f a.done)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[make-b] unchanged (check passed: test -f b.done)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 unchanged"), std::string::npos) << r.out;
  EXPECT_EQ(Lines("applies.txt").size(), 2u);  // no apply ran the second time
}

TEST_F(CoreE2ETest, SkipTestsSkipsTaggedStepsAndDependentsStillRun) {
  Write("p.yaml", std::string(kHeader) + R"(steps:
  - {id: deploy, shell: 'echo deploy >> ran.txt'}
  - {id: load-test, needs: [deploy], tags: [test], shell: 'echo load-test >> ran.txt'}
  - {id: report, needs: [load-test], shell: 'echo report >> ran.txt'}
)");
  auto r = Slipway({"apply", "p.yaml", "--skip-tests"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(Lines("ran.txt"), (std::vector<std::string>{"deploy", "report"}));
  EXPECT_NE(r.out.find("[load-test] skipped: --skip-tests (tagged test)"), std::string::npos) << r.out;
  auto plan = Slipway({"plan", "p.yaml", "--skip-tests", "--fresh"});
  EXPECT_NE(plan.out.find("- load-test (run): skipped (--skip-tests (tagged test))"), std::string::npos) << plan.out;
}

TEST_F(CoreE2ETest, OnlyRunsNamedStepsAndWhatTheyNeed) {
  Write("p.yaml", std::string(kHeader) + R"(steps:
  - {id: a, shell: 'echo a >> ran.txt'}
  - {id: b, needs: [a], shell: 'echo b >> ran.txt'}
  - {id: c, shell: 'echo c >> ran.txt'}
)");
  auto r = Slipway({"apply", "p.yaml", "--only", "b"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(Lines("ran.txt"), (std::vector<std::string>{"a", "b"}));
  auto bad = Slipway({"apply", "p.yaml", "--only", "bb"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--only: unknown step 'bb'; did you mean 'b'?"), std::string::npos) << bad.err;
}

TEST_F(CoreE2ETest, TimeoutKillsGrandchildrenToo) {
  Write("p.yaml", std::string(kHeader) + R"(steps:
  - id: hang
    timeout: 500ms
    shell: 'sleep 60 & echo $! > grandchild.pid; wait'
)");
  auto start = std::chrono::steady_clock::now();
  auto r = Slipway({"apply", "p.yaml", "--grace", "200ms"});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_NE(r.out.find("timed out after 500ms"), std::string::npos) << r.out;
  pid_t grandchild = std::stoi(Read("grandchild.pid"));
  bool gone = false;
  for (int i = 0; i < 40 && !gone; ++i) {
    gone = ::kill(grandchild, 0) != 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone) << "grandchild " << grandchild << " survived the timeout";
}

TEST_F(CoreE2ETest, InvalidPlanExitsTwoWithPositionsAndChangesNothing) {
  Write("p.yaml", std::string(kHeader) + R"(steps:
  - id: a
    run: [echo, "{{ vars.missing }}"]
    neds: [b]
  - id: b
    uses: k8s.namespac
)");
  auto r = Slipway({"apply", "p.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("p.yaml:6:18: error: unknown variable 'vars.missing'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("p.yaml:7:5: error: unknown key 'neds' in step; did you mean 'needs'?"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("p.yaml:9:11: error: unknown step kind 'k8s.namespac'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3 errors"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(Path(".slipway"))) << "an invalid plan must not create state";
}

TEST_F(CoreE2ETest, CycleIsPrintedAsPath) {
  Write("p.yaml", std::string(kHeader) + R"(steps:
  - {id: a, needs: [c], run: ["true"]}
  - {id: b, needs: [a], run: ["true"]}
  - {id: c, needs: [b], run: ["true"]}
)");
  auto r = Slipway({"validate", "p.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("error: dependency cycle: a→c→b→a"), std::string::npos) << r.err;
}

TEST_F(CoreE2ETest, DryRunRunsOnlyChecksAndShowsRenderedArgv) {
  Write("p.yaml", std::string(kHeader) + R"(vars: {name: shop}
steps:
  - id: create
    run: [touch, "{{ vars.name }}.created"]
    check: [test, -f, "{{ vars.name }}.created"]
  - {id: use, needs: [create], run: [echo, "{{ steps.create.outputs.id }}"]}
)");
  auto r = Slipway({"plan", "p.yaml", "--set", "name=cart"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_FALSE(std::filesystem::exists(Path("cart.created")));
  EXPECT_NE(r.out.find("+ create (run): would run"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("probe ran: check test -f cart.created exited 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("run: touch cart.created"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("run: echo '(known after apply: steps.create.outputs.id)'"), std::string::npos) << r.out;
  auto dry = Slipway({"apply", "p.yaml", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(Path("shop.created")));
}

TEST_F(CoreE2ETest, DetailedExitCodeAndJsonSchema) {
  Write("p.yaml", std::string(kHeader) + R"(steps:
  - {id: a, run: [touch, a.done], check: [test, -f, a.done]}
  - {id: t, needs: [a], tags: [test], run: ["true"]}
)");
  auto pending = Slipway({"plan", "p.yaml", "--detailed-exitcode", "--output", "json"});
  EXPECT_EQ(pending.exit_code, 2) << pending.all();
  json doc = json::parse(pending.out);
  EXPECT_EQ(doc["format_version"], 1);
  EXPECT_EQ(doc["plan"], "e2e");
  EXPECT_EQ(doc["changes_pending"], true);
  EXPECT_EQ(doc["waves"], json::parse(R"([["a"], ["t"]])"));
  EXPECT_EQ(doc["steps"][0]["action"], "would-run");
  EXPECT_EQ(doc["steps"][0]["probe"]["ran"], true);
  EXPECT_EQ(doc["steps"][0]["commands"], json::parse(R"(["run: touch a.done"])"));
  EXPECT_EQ(doc["steps"][0]["fingerprint"].get<std::string>().size(), 64u);
  EXPECT_EQ(doc["summary"], json::parse(R"({"would_run": 2, "unchanged": 0, "skipped": 0, "failed": 0})"));
  ASSERT_EQ(Slipway({"apply", "p.yaml"}).exit_code, 0);
  auto clean = Slipway({"plan", "p.yaml", "--detailed-exitcode", "--skip-tests"});
  EXPECT_EQ(clean.exit_code, 0) << clean.all();
}

TEST_F(CoreE2ETest, SecretsAreMaskedInOutputStateAndLogs) {
  Write("p.yaml", std::string(kHeader) + R"(steps:
  - id: use-secret
    run: [sh, -c, 'echo "token is $TOKEN"; echo "leak=$TOKEN" >> "$SLIPWAY_OUTPUT"']
    env: {TOKEN: "{{ secrets.API_TOKEN }}"}
)");
  auto r = Slipway({"apply", "p.yaml"}, {{"API_TOKEN", "hunter2-very-secret"}});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.all().find("hunter2-very-secret"), std::string::npos) << r.all();
  EXPECT_NE(r.out.find("token is ***"), std::string::npos) << r.out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(Path(".slipway"))) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text.find("hunter2-very-secret"), std::string::npos) << entry.path();
  }
  auto plan = Slipway({"plan", "p.yaml", "--fresh"}, {{"API_TOKEN", "hunter2-very-secret"}});
  EXPECT_EQ(plan.all().find("hunter2-very-secret"), std::string::npos) << plan.all();
}

TEST_F(CoreE2ETest, GithubActionsGroupsAndAnnotations) {
  Write("p.yaml", std::string(kHeader) + R"(steps:
  - {id: ok, run: [echo, hello]}
  - {id: bad, needs: [ok], run: ["false"]}
)");
  auto r = Slipway({"apply", "p.yaml"}, {{"GITHUB_ACTIONS", "true"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("::group::ok succeeded in"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("hello\n::endgroup::"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("::error file=p.yaml,line=6,col=10::bad failed after"), std::string::npos) << r.out;
  Write("bad.yaml", std::string(kHeader) + "steps:\n  - {id: a, run: [x], nedds: []}\n");
  auto v = Slipway({"validate", "bad.yaml"}, {{"GITHUB_ACTIONS", "true"}});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_NE(v.out.find("::error file=bad.yaml,line=5,col=23::unknown key 'nedds' in step; did you mean 'needs'?"),
            std::string::npos)
      << v.out;
}

TEST_F(CoreE2ETest, JsonLogsAreOneEventPerLine) {
  Write("p.yaml", std::string(kHeader) + "steps:\n  - {id: a, run: [echo, hi]}\n");
  auto r = Slipway({"--log-format", "json", "apply", "p.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  std::istringstream in(r.out);
  int events = 0;
  bool saw_output = false;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    json e = json::parse(line);
    for (const char* k : {"ts", "level", "step", "event", "fields"}) EXPECT_TRUE(e.contains(k)) << line;
    saw_output |= e["event"] == "output" && e["fields"]["line"] == "hi" && e["step"] == "a";
    ++events;
  }
  EXPECT_GE(events, 4);
  EXPECT_TRUE(saw_output) << r.out;
}

TEST_F(CoreE2ETest, OutputsFlowToDependentsAndConditionsDecide) {
  Write("p.yaml", std::string(kHeader) + R"(vars: {mesh: istio}
steps:
  - {id: build, run: [sh, -c, 'echo "image=shop:42" >> "$SLIPWAY_OUTPUT"']}
  - {id: deploy, needs: [build], run: [sh, -c, 'echo "$1" > deployed.txt', sh, "{{ steps.build.outputs.image }}"]}
  - {id: istio-only, needs: [deploy], if: "vars.mesh == 'istio'", run: [touch, istio.txt]}
  - {id: linkerd-only, needs: [deploy], if: "vars.mesh == 'linkerd'", run: [touch, linkerd.txt]}
)");
  auto r = Slipway({"apply", "p.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(Read("deployed.txt"), "shop:42\n");
  EXPECT_TRUE(std::filesystem::exists(Path("istio.txt")));
  EXPECT_FALSE(std::filesystem::exists(Path("linkerd.txt")));
  EXPECT_NE(r.out.find("[linkerd-only] skipped: condition is false: vars.mesh == 'linkerd'"), std::string::npos);
}

TEST_F(CoreE2ETest, FailureStopsSchedulingButAlwaysStepsRun) {
  Write("p.yaml", std::string(kHeader) + R"(parallel: 1
steps:
  - {id: boom, run: ["false"]}
  - {id: after, needs: [boom], run: [touch, after.txt]}
  - {id: cleanup, needs: [after], if: always(), run: [touch, cleanup.txt]}
  - {id: flaky, continue_on_error: true, run: ["false"]}
)");
  auto r = Slipway({"apply", "p.yaml"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(std::filesystem::exists(Path("after.txt")));
  EXPECT_TRUE(std::filesystem::exists(Path("cleanup.txt")));
  EXPECT_NE(r.out.find("[after] skipped: not started: an earlier step failed"), std::string::npos) << r.out;
}

TEST_F(CoreE2ETest, GraphAndVersion) {
  Write("p.yaml", std::string(kHeader) + "steps:\n  - {id: a, run: [\"true\"]}\n  - {id: b, needs: [a], run: [\"true\"]}\n");
  auto dot = Slipway({"graph", "p.yaml", "--format", "dot"});
  EXPECT_NE(dot.out.find("\"a\" -> \"b\";"), std::string::npos) << dot.out;
  auto mermaid = Slipway({"graph", "p.yaml", "--format", "mermaid"});
  EXPECT_NE(mermaid.out.find("s_a --> s_b"), std::string::npos) << mermaid.out;
  auto v = Slipway({"version"});
  EXPECT_EQ(v.out.rfind("slipway ", 0), 0u);
}

}  // namespace
}  // namespace slipway::test
