// End-to-end tests of checkpoint state, resume, rollback, locking and signals.
#include <nlohmann/json.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <random>
#include <set>
#include <thread>

#include "support/e2e_harness.h"

namespace slipway::test {
namespace {

using nlohmann::json;

constexpr const char* kHeader = "apiVersion: slipway/v1\nkind: Plan\nmetadata: {name: st}\n";

class StateE2ETest : public TempDirTest {
 protected:
  // A chain s1 -> s2 -> s3 -> s4 whose steps append to marks.txt; s4 fails when fail=yes.
  void WriteChain(const std::string& s2_rollback = "echo undo s2 >> marks.txt") {
    Write("p.yaml", std::string(kHeader) + R"(vars: {fail: "no"}
parallel: 2
steps:
  - id: s1
    shell: 'echo apply s1 >> marks.txt'
    rollback: {shell: 'echo undo s1 >> marks.txt'}
  - id: s2
    needs: [s1]
    shell: 'echo apply s2 >> marks.txt'
    rollback: {shell: ')" + s2_rollback + R"('}
  - id: s3
    needs: [s2]
    shell: 'echo apply s3 >> marks.txt'
    rollback: {shell: 'echo undo s3 >> marks.txt'}
  - id: s4
    needs: [s3]
    run: [test, "{{ vars.fail }}", "=", "no"]
)");
  }
  json State() { return json::parse(Read(".slipway/st.json")); }
};

TEST_F(StateE2ETest, FailingFourthStepRollsBackThreeTwoOne) {
  WriteChain();
  auto r = Slipway({"apply", "p.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_EQ(Lines("marks.txt"), (std::vector<std::string>{"apply s1", "apply s2", "apply s3", "undo s3", "undo s2",
                                                          "undo s1"}));
  json st = State();
  EXPECT_EQ(st["version"], 1);
  EXPECT_EQ(st["run"]["status"], "rolled-back");
  EXPECT_EQ(st["steps"]["s1"]["status"], "rolled-back");
  EXPECT_EQ(st["steps"]["s4"]["status"], "failed");
  EXPECT_NE(r.out.find("a step failed; rolled back 3 step(s) this run changed"), std::string::npos) << r.out;
}

TEST_F(StateE2ETest, UnchangedStepsAreNotRolledBack) {
  WriteChain();
  ASSERT_EQ(Slipway({"apply", "p.yaml"}).exit_code, 0);
  std::filesystem::remove(Path("marks.txt"));
  // s4 changes (fingerprint), fails; s1..s3 come from the checkpoint: this run changed nothing.
  auto r = Slipway({"apply", "p.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_FALSE(std::filesystem::exists(Path("marks.txt"))) << Read("marks.txt");
  EXPECT_NE(r.out.find("this run had changed nothing to roll back"), std::string::npos) << r.out;
  json st = State();
  EXPECT_EQ(st["steps"]["s4"]["status"], "failed");
  EXPECT_EQ(st["steps"]["s4"]["run_id"], st["run"]["id"]) << "the failed step ran in this run";
  EXPECT_NE(st["steps"]["s1"]["run_id"], st["run"]["id"]) << "s1 came from the first run's checkpoint";
  // What the first run changed is still owned: a rollback undoes it.
  auto rollback = Slipway({"rollback", "p.yaml"});
  EXPECT_EQ(rollback.exit_code, 0) << rollback.all();
  EXPECT_EQ(Lines("marks.txt"), (std::vector<std::string>{"undo s3", "undo s2", "undo s1"}));
}

TEST_F(StateE2ETest, FreshRunKeepsEarlierChangesAndRollbackUndoesEachNewestFirst) {
  WriteChain();
  ASSERT_EQ(Slipway({"apply", "p.yaml"}).exit_code, 0);
  auto fresh = Slipway({"apply", "p.yaml", "--fresh"});
  ASSERT_EQ(fresh.exit_code, 0) << fresh.all();
  json st = State();
  ASSERT_EQ(st["steps"]["s2"]["history"].size(), 1u) << st.dump(2);
  EXPECT_NE(st["steps"]["s2"]["history"][0]["run_id"], st["run"]["id"]);
  std::filesystem::remove(Path("marks.txt"));
  auto r = Slipway({"rollback", "p.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(Lines("marks.txt"),
            (std::vector<std::string>{"undo s3", "undo s3", "undo s2", "undo s2", "undo s1", "undo s1"}));
  EXPECT_TRUE(State()["steps"]["s1"]["history"].empty());
  EXPECT_EQ(Slipway({"rollback", "p.yaml"}).exit_code, 0);
  EXPECT_EQ(Lines("marks.txt").size(), 6u) << "a second rollback finds nothing more to undo";
}

TEST_F(StateE2ETest, FailingRollbackExitsThreeAndStateSaysWhich) {
  WriteChain("echo cannot undo s2 >&2; exit 7");
  auto r = Slipway({"apply", "p.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 3) << r.all();
  json st = State();
  EXPECT_EQ(st["run"]["status"], "rollback-failed");
  EXPECT_EQ(st["steps"]["s3"]["status"], "rolled-back");
  EXPECT_EQ(st["steps"]["s2"]["status"], "rollback-failed");
  EXPECT_EQ(st["steps"]["s1"]["status"], "succeeded");  // left in place: s2 still needs it
  EXPECT_NE(r.out.find("s2: rollback failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("s1: left in place ('s2', which needs it, could not be undone)"), std::string::npos) << r.out;
}

TEST_F(StateE2ETest, NoRollbackLeavesEverythingAndResumes) {
  WriteChain();
  auto r = Slipway({"apply", "p.yaml", "--set", "fail=yes", "--no-rollback"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(Lines("marks.txt").size(), 3u);
  auto again = Slipway({"apply", "p.yaml"});
  EXPECT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(Lines("marks.txt").size(), 3u);  // s1..s3 not run again
  EXPECT_NE(again.out.find("resuming run"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("[s1] unchanged (checkpoint)"), std::string::npos) << again.out;
}

TEST_F(StateE2ETest, RollbackToRestoresTheCheckpointAfterAStep) {
  WriteChain();
  ASSERT_EQ(Slipway({"apply", "p.yaml"}).exit_code, 0);
  auto dry = Slipway({"rollback", "p.yaml", "--to", "s1", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.all();
  EXPECT_NE(dry.out.find("would roll back, in this order:\n  s4: no rollback defined; left as is\n  s3:"),
            std::string::npos)
      << dry.out;
  EXPECT_EQ(Lines("marks.txt").size(), 3u);
  auto r = Slipway({"rollback", "p.yaml", "--to", "s1"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(Lines("marks.txt"),
            (std::vector<std::string>{"apply s1", "apply s2", "apply s3", "undo s3", "undo s2"}));
  json st = State();
  EXPECT_EQ(st["steps"]["s1"]["status"], "succeeded");
  EXPECT_EQ(st["steps"]["s2"]["status"], "rolled-back");
  auto status = Slipway({"status", "p.yaml", "--output", "json"});
  EXPECT_EQ(json::parse(status.out)["steps"]["s3"]["status"], "rolled-back");
  auto table = Slipway({"status", "p.yaml"});
  EXPECT_NE(table.out.find("s2    rolled-back"), std::string::npos) << table.out;
}

TEST_F(StateE2ETest, ChangedFingerprintReRunsTheStepAndEverythingDownstream) {
  Write("p.yaml", std::string(kHeader) + R"(vars: {v: "1"}
steps:
  - {id: a, shell: 'echo a >> ran.txt'}
  - {id: b, needs: [a], run: [sh, -c, 'echo b >> ran.txt', sh, "{{ vars.v }}"]}
  - {id: c, needs: [b], shell: 'echo c >> ran.txt'}
)");
  ASSERT_EQ(Slipway({"apply", "p.yaml"}).exit_code, 0);
  ASSERT_EQ(Slipway({"apply", "p.yaml", "--set", "v=2"}).exit_code, 0);
  EXPECT_EQ(Lines("ran.txt"), (std::vector<std::string>{"a", "b", "c", "b", "c"}));
}

TEST_F(StateE2ETest, ConcurrentApplyExitsFourNamingTheHolder) {
  Write("p.yaml", std::string(kHeader) + "steps:\n  - {id: slow, run: [sleep, \"6\"]}\n");
  pipeline::ProcessSpec spec;
  spec.argv = {SLIPWAY_BINARY, "apply", "p.yaml"};
  spec.cwd = dir_.string();
  std::thread first([&] { (void)pipeline::RunProcess(spec); });
  // The holder writes who it is into the lock file once it has the lock (slow under sanitizers).
  for (int i = 0; i < 1500 && Read(".slipway/st.lock").empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_FALSE(Read(".slipway/st.lock").empty()) << "the first apply never took the lock";
  auto second = Slipway({"apply", "p.yaml"});
  auto fresh = Slipway({"apply", "p.yaml", "--fresh"});
  auto rollback = Slipway({"rollback", "p.yaml"});
  first.join();
  EXPECT_EQ(second.exit_code, 4) << second.all();
  EXPECT_NE(second.all().find("is locked by pid "), std::string::npos) << second.all();
  EXPECT_NE(second.all().find("(" SLIPWAY_BINARY " apply p.yaml)"), std::string::npos) << second.all();
  EXPECT_EQ(fresh.exit_code, 4);
  EXPECT_EQ(rollback.exit_code, 4);
  // Once the holder is gone, the lock is free again.
  EXPECT_EQ(Slipway({"apply", "p.yaml", "--fresh", "--set", "x=1"}).exit_code, 0);
}

TEST_F(StateE2ETest, CtrlCDuringALongStepKillsTheGroupAndSavesState) {
  Write("p.yaml", std::string(kHeader) + R"(steps:
  - {id: long, shell: 'sleep 60 & echo $! > child.pid; wait'}
  - {id: never, needs: [long], run: [touch, never.txt]}
)");
  pipeline::ProcessSpec spec;
  spec.argv = {SLIPWAY_BINARY, "apply", "p.yaml", "--grace", "1s"};
  spec.cwd = dir_.string();
  spec.env = {{"NO_COLOR", "1"}};
  pid_t slipway_pid = 0;
  // Run slipway in the background; find it through the child's parent chain is fragile, so spawn
  // it with fork here and signal it directly.
  slipway_pid = ::fork();
  if (slipway_pid == 0) {
    ::chdir(dir_.c_str());
    int fd = ::open("out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execl(SLIPWAY_BINARY, SLIPWAY_BINARY, "apply", "p.yaml", "--grace", "1s", (char*)nullptr);
    ::_exit(127);
  }
  for (int i = 0; i < 200 && Read("child.pid").empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  pid_t child = std::stoi(Read("child.pid"));
  ::kill(slipway_pid, SIGINT);
  int status = 0;
  ::waitpid(slipway_pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << Read("out.txt");
  bool gone = false;
  for (int i = 0; i < 40 && !gone; ++i) {
    // Killed, or a zombie waiting for PID 1 to reap it (the shell that was its parent is gone too).
    std::string stat = Read("/proc/" + std::to_string(child) + "/stat");
    gone = ::kill(child, 0) != 0 || stat.find(") Z ") != std::string::npos;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone) << "the step's process group survived Ctrl-C";
  json st = State();
  EXPECT_EQ(st["run"]["status"], "interrupted");
  EXPECT_EQ(st["steps"]["long"]["status"], "interrupted");
  EXPECT_FALSE(std::filesystem::exists(Path("never.txt")));
  EXPECT_NE(Read("out.txt").find("Resume with 'slipway apply p.yaml' or undo with 'slipway rollback p.yaml'"),
            std::string::npos)
      << Read("out.txt");
}

// A step's fingerprint covers the files it names (here a template's source), not only its definition.
constexpr const char* kTemplatePlan = R"(steps:
  - id: render
    uses: template
    with: {src: site.conf.mustache, dest: site.conf, values: {port: 8080}}
  - id: reload
    needs: [render]
    shell: 'echo reload >> ran.txt'
)";

TEST_F(StateE2ETest, ChangingAFileAStepNamesReRunsItAndEverythingDownstream) {
  Write("p.yaml", std::string(kHeader) + kTemplatePlan);
  Write("site.conf.mustache", "listen {{ port }};\n");
  auto first = Slipway({"apply", "p.yaml"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  std::string fp1 = State()["steps"]["render"]["fingerprint"];
  auto second = Slipway({"apply", "p.yaml"});
  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_EQ(Lines("ran.txt"), (std::vector<std::string>{"reload"})) << "nothing changed: reload is not run again";
  EXPECT_EQ(State()["steps"]["render"]["fingerprint"], fp1);

  Write("site.conf.mustache", "listen {{ port }} reuseport;\n");  // the plan file itself is untouched
  auto third = Slipway({"apply", "p.yaml"});
  ASSERT_EQ(third.exit_code, 0) << third.all();
  EXPECT_EQ(Read("site.conf"), "listen 8080 reuseport;\n");
  EXPECT_NE(State()["steps"]["render"]["fingerprint"], fp1);
  EXPECT_EQ(Lines("ran.txt"), (std::vector<std::string>{"reload", "reload"})) << "downstream of a changed step re-runs";
}

TEST_F(StateE2ETest, SavedPlanIsStaleWhenAFileItsStepsNameChanged) {
  Write("p.yaml", std::string(kHeader) + kTemplatePlan);
  Write("site.conf.mustache", "listen {{ port }};\n");
  auto saved = Slipway({"plan", "p.yaml", "--out", "saved.json"});
  ASSERT_EQ(saved.exit_code, 0) << saved.all();
  Write("site.conf.mustache", "listen {{ port }} ssl;\n");
  auto stale = Slipway({"apply", "saved.json"});
  EXPECT_EQ(stale.exit_code, 2) << stale.all();
  EXPECT_NE(stale.all().find("saved plan is stale: step 'render' would now run with different inputs"), std::string::npos)
      << stale.all();
  EXPECT_FALSE(std::filesystem::exists(Path("site.conf"))) << "a refused saved plan changes nothing";
}

TEST_F(StateE2ETest, StaleSavedPlanIsRefused) {
  Write("p.yaml", std::string(kHeader) + "vars: {v: a}\nsteps:\n  - {id: a, run: [sh, -c, 'echo $0 >> ran.txt', \"{{ vars.v }}\"]}\n");
  auto saved = Slipway({"plan", "p.yaml", "--out", "saved.json"});
  ASSERT_EQ(saved.exit_code, 0) << saved.all();
  // The saved plan runs exactly what was planned, even after the plan file changes.
  Write("p.yaml", std::string(kHeader) + "vars: {v: CHANGED}\nsteps:\n  - {id: a, run: [\"false\"]}\n");
  auto ok = Slipway({"apply", "saved.json"});
  EXPECT_EQ(ok.exit_code, 0) << ok.all();
  EXPECT_EQ(Lines("ran.txt"), (std::vector<std::string>{"a"}));
  // Now the state has moved on: the same saved plan is stale.
  auto stale = Slipway({"apply", "saved.json"});
  EXPECT_EQ(stale.exit_code, 2) << stale.all();
  EXPECT_NE(stale.all().find("saved plan is stale"), std::string::npos) << stale.all();
  auto flags = Slipway({"apply", "saved.json", "--set", "v=b"});
  EXPECT_EQ(flags.exit_code, 2);
}

TEST_F(StateE2ETest, CorruptAndFutureStateAreRefusedAndKept) {
  Write("p.yaml", std::string(kHeader) + "steps:\n  - {id: a, run: [\"true\"]}\n");
  ASSERT_EQ(Slipway({"apply", "p.yaml"}).exit_code, 0);
  ASSERT_EQ(Slipway({"apply", "p.yaml", "--set", "x=1", "--fresh"}).exit_code, 0);  // makes a .bak
  EXPECT_TRUE(std::filesystem::exists(Path(".slipway/st.json.bak")));
  std::string good = Read(".slipway/st.json");
  Write(".slipway/st.json", good.substr(0, good.size() / 2));
  auto r = Slipway({"apply", "p.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.all().find("is corrupt or truncated"), std::string::npos) << r.all();
  EXPECT_NE(r.all().find("The previous good copy is .slipway/st.json.bak"), std::string::npos) << r.all();
  EXPECT_EQ(Read(".slipway/st.json"), good.substr(0, good.size() / 2));  // not overwritten
  Write(".slipway/st.json", R"({"version": 99, "plan": "st", "steps": {}})");
  auto future = Slipway({"status", "p.yaml"});
  EXPECT_EQ(future.exit_code, 2);
  EXPECT_NE(future.all().find("written by a newer slipway (format version 99"), std::string::npos) << future.all();
  auto fresh = Slipway({"apply", "p.yaml", "--fresh"});
  EXPECT_EQ(fresh.exit_code, 0) << fresh.all();
  bool kept = false;
  for (const auto& e : std::filesystem::directory_iterator(Path(".slipway")))
    kept |= e.path().filename().string().rfind("st.json.corrupt.", 0) == 0;
  EXPECT_TRUE(kept) << "--fresh must keep the damaged file aside";
}

// SIGKILL a 30-step plan at 20 random moments, resuming each time: the state always parses, the
// final run succeeds, and no step that had finished (per the state) ran again.
TEST_F(StateE2ETest, CrashAtRandomMomentsAlwaysResumes) {
  std::string plan = std::string(kHeader) + "parallel: 3\nsteps:\n";
  for (int i = 0; i < 30; ++i) {
    plan += "  - id: s" + std::to_string(i) + "\n";
    if (i >= 3) plan += "    needs: [s" + std::to_string(i - 3) + "]\n";
    plan += "    shell: 'sleep 0.0" + std::to_string(2 + i % 7) + "; echo s" + std::to_string(i) + " >> ran.txt'\n";
  }
  Write("p.yaml", plan);
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> when(5, 400);
  std::map<std::string, size_t> finished_at;  // step -> count of its lines in ran.txt when seen finished
  for (int round = 0; round < 20; ++round) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::chdir(dir_.c_str());
      int fd = ::open("/dev/null", O_WRONLY);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execl(SLIPWAY_BINARY, SLIPWAY_BINARY, "apply", "p.yaml", (char*)nullptr);
      ::_exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(when(rng)));
    ::kill(pid, SIGKILL);
    int status;
    ::waitpid(pid, &status, 0);
    ::kill(0, 0);
    // Steps' own processes die with their group only when signalled; wait for stragglers.
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    auto st = Slipway({"status", "p.yaml", "--output", "json"});
    ASSERT_EQ(st.exit_code, 0) << "round " << round << ": " << st.all();
    json doc = json::parse(st.out);
    std::map<std::string, size_t> counts;
    for (const auto& l : Lines("ran.txt")) ++counts[l];
    for (auto& [id, s] : doc["steps"].items()) {
      if (s["status"] == "succeeded" && !finished_at.count(id)) finished_at[id] = counts[id];
    }
  }
  auto final_run = Slipway({"apply", "p.yaml"});
  ASSERT_EQ(final_run.exit_code, 0) << final_run.all();
  std::map<std::string, size_t> counts;
  for (const auto& l : Lines("ran.txt")) ++counts[l];
  for (int i = 0; i < 30; ++i) EXPECT_GE(counts["s" + std::to_string(i)], 1u) << i;
  for (const auto& [id, seen] : finished_at) EXPECT_EQ(counts[id], seen) << id << " ran again after it had finished";
  auto again = Slipway({"apply", "p.yaml"});
  EXPECT_NE(again.out.find("30 unchanged"), std::string::npos) << again.out;
}

}  // namespace
}  // namespace slipway::test
