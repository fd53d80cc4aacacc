// Runs at once and runs that die, against the REAL test cluster: two applies of one plan (the lock),
// two checkouts applying the same plan to the same namespace at the same moment (both converge), and a
// SIGKILL in the middle of an apply that a second apply resumes and `slipway rollback` can still undo.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "test/support/cluster/test_cluster.h"

namespace slipway::test {
namespace {

using nlohmann::json;

constexpr const char* kManifest = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: {{ namespace }}
spec:
  replicas: 2
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
        - {name: app, image: "registry.example.com/app:{{ tag }}", resources: {requests: {cpu: 10m}}}
)";

// namespace -> app (rollout) -> hold (as long as the file hold-seconds says: a step to be interrupted in)
// -> done
std::string Plan(const std::string& ns) {
  return R"plan(apiVersion: slipway/v1
kind: Plan
metadata: {name: app}
vars: {namespace: )plan" + ns + R"plan(, tag: "1"}
steps:
  - id: namespace
    uses: k8s.namespace
    with: {name: "{{ vars.namespace }}"}
  - id: app
    needs: [namespace]
    uses: k8s.apply
    with: {manifests: [app.yaml], namespace: "{{ vars.namespace }}", wait: {for: rollout, timeout: 60s}}
  - id: hold
    needs: [app]
    run: [sh, -c, 'echo $$ > hold.pid; exec sleep "$(cat hold-seconds 2>/dev/null || echo 0)"']
  - id: done
    needs: [hold]
    run: [touch, done.txt]
)plan";
}

class ConcurrencyOnRealClusterTest : public ClusterTest {
 protected:
  // Starts the built slipway in `cwd` without waiting; its output goes to cwd/out.txt.
  pid_t Start(const std::filesystem::path& cwd, const std::vector<std::string>& args) const {
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : Env({{"NO_COLOR", "1"}, {"GITHUB_ACTIONS", ""}})) env_strings.push_back(k + "=" + v);
    std::vector<std::string> argv{SLIPWAY_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_t pid = ::fork();
    if (pid == 0) {
      std::vector<char*> cargv, cenv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      for (auto& e : env_strings) cenv.push_back(e.data());
      cenv.push_back(nullptr);
      if (::chdir(cwd.c_str()) != 0) ::_exit(126);
      int fd = ::open("out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execve(SLIPWAY_BINARY, cargv.data(), cenv.data());
      ::_exit(127);
    }
    return pid;
  }
  static int Wait(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  // Waits (up to 60 s) for a file to appear and hold something.
  bool WaitForFile(const std::string& rel) {
    for (int i = 0; i < 600; ++i) {
      if (!Read(rel).empty()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  std::string Image(const std::string& ns) {
    json d = cluster().Get("Deployment", ns, "app");
    if (!d.is_object() || !d.contains("spec")) return "<none>";
    return d["spec"]["template"]["spec"]["containers"][0].value("image", "");
  }
};

TEST_F(ConcurrencyOnRealClusterTest, ASecondApplyOfTheSamePlanIsRefusedWhileTheFirstHoldsTheLock) {
  std::string ns = Namespace("shop");
  Write("app.yaml", kManifest);
  Write("p.yaml", Plan(ns));
  Write("hold-seconds", "8");
  pid_t first = Start(dir_, {"apply", "p.yaml"});
  ASSERT_TRUE(WaitForFile("hold.pid")) << Read("out.txt");
  // The first run is in `hold`, past its cluster changes: a second apply, a rollback and a --fresh
  // apply are all refused (exit 4) and touch nothing.
  auto second = Run({"apply", "p.yaml", "--set", "tag=2"});
  auto rollback = Run({"rollback", "p.yaml"});
  auto fresh = Run({"apply", "p.yaml", "--fresh", "--set", "tag=3"});
  EXPECT_EQ(second.exit_code, 4) << second.all();
  EXPECT_NE(second.all().find("is locked by pid " + std::to_string(first)), std::string::npos) << second.all();
  EXPECT_EQ(rollback.exit_code, 4) << rollback.all();
  EXPECT_EQ(fresh.exit_code, 4) << fresh.all();
  EXPECT_EQ(Image(ns), "registry.example.com/app:1");
  EXPECT_EQ(Wait(first), 0) << Read("out.txt");
  EXPECT_TRUE(std::filesystem::exists(Path("done.txt")));
  // The lock went with the holder: the change goes through now.
  auto after = Run({"apply", "p.yaml", "--set", "tag=2"});
  ASSERT_EQ(after.exit_code, 0) << after.all();
  EXPECT_EQ(Image(ns), "registry.example.com/app:2");
}

TEST_F(ConcurrencyOnRealClusterTest, TwoCheckoutsApplyingTheSamePlanAtOnceBothSucceedAndAgree) {
  // Two CI jobs, each with its own checkout and state, deploy the same plan to the same namespace at
  // the same moment: no local lock is shared, so the cluster must take both (server-side apply with one
  // field manager; a namespace created by the other run counts as present).
  std::string ns = Namespace("shop");
  for (const char* d : {"a", "b"}) {
    Write(std::string(d) + "/app.yaml", kManifest);
    Write(std::string(d) + "/p.yaml", Plan(ns));
  }
  pid_t a = Start(Path("a"), {"apply", "p.yaml"});
  pid_t b = Start(Path("b"), {"apply", "p.yaml"});
  int ra = Wait(a), rb = Wait(b);
  EXPECT_EQ(ra, 0) << Read("a/out.txt");
  EXPECT_EQ(rb, 0) << Read("b/out.txt");
  json d = cluster().Get("Deployment", ns, "app");
  EXPECT_EQ(d["status"]["readyReplicas"], 2) << d.dump();
  EXPECT_EQ(d["metadata"]["generation"], 1) << "the two runs fought over the Deployment: " << d.dump();
  // Exactly one of them created the namespace, so only that one's rollback would delete it.
  int creators = 0;
  for (const char* dir : {"a", "b"}) creators += Read(std::string(dir) + "/out.txt").find("created namespace " + ns) != std::string::npos;
  EXPECT_EQ(creators, 1) << Read("a/out.txt") << Read("b/out.txt");
}

TEST_F(ConcurrencyOnRealClusterTest, KilledMidApplyResumesAgainstTheLiveClusterAndRollbackStillUndoesIt) {
  std::string ns = Namespace("shop");
  Write("app.yaml", kManifest);
  Write("p.yaml", Plan(ns));
  Write("hold-seconds", "60");
  pid_t run = Start(dir_, {"apply", "p.yaml"});
  ASSERT_TRUE(WaitForFile("hold.pid")) << Read("out.txt");
  // A crash: SIGKILL, no chance to save anything more or to clean up (the step's `sleep` is killed too,
  // as a dying runner's whole process tree would be).
  ::kill(run, SIGKILL);
  EXPECT_EQ(Wait(run), 128 + SIGKILL);
  pid_t hold = std::stoi(Read("hold.pid"));  // the step's `sleep` (exec'd in place of its shell)
  ::kill(-hold, SIGKILL);
  ::kill(hold, SIGKILL);
  EXPECT_EQ(Image(ns), "registry.example.com/app:1");  // what the dead run did is live

  // The resume skips what finished (the namespace and the rollout), re-runs the interrupted step.
  std::filesystem::remove(Path("hold.pid"));
  Write("hold-seconds", "0");
  auto resumed = Run({"apply", "p.yaml"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.all();
  EXPECT_TRUE(std::filesystem::exists(Path("done.txt")));
  EXPECT_EQ(resumed.out.find("[app] applied"), std::string::npos) << resumed.out;
  EXPECT_EQ(resumed.out.find("[namespace] created"), std::string::npos) << resumed.out;
  json d = cluster().Get("Deployment", ns, "app");
  EXPECT_EQ(d["metadata"]["generation"], 1) << "the resume re-applied the app: " << d.dump();

  // The killed run's changes are still owned: rollback removes the Deployment and the namespace.
  auto rollback = Run({"rollback", "p.yaml"});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.all();
  json gone = cluster().Get("Namespace", "", ns);
  EXPECT_TRUE(gone.is_null() || gone["status"]["phase"] == "Terminating") << gone.dump();
}

}  // namespace
}  // namespace slipway::test
