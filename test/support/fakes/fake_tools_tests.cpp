// The recording fakes of istioctl, linkerd and velero: matching, failure on unexpected calls, logging and
// the shapes of their canned outputs. (helm has no fake: its tests run the real helm 4 and 3.)

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test/support/fakes/fake_tools.h"
#include "test/support/run_capture.h"

namespace slipway::test {
namespace {

class FakeToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string base = (std::filesystem::temp_directory_path() / "slipway-fakes-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(base.data()), nullptr);
    dir_ = base;
    fakes_.emplace(dir_);
  }

  void TearDown() override {
    fakes_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  /// Runs a fake by name, as slipway will: found on the PATH from FakeTools::Env().
  RunResult Run(std::vector<std::string> argv, const std::string& stdin_data = "",
                std::vector<std::string> extra_env = {}) {
    RunOptions options;
    options.env = fakes_->Env();
    options.env.insert(options.env.end(), extra_env.begin(), extra_env.end());
    options.stdin_data = stdin_data;
    options.cwd = dir_;
    return RunCapture(argv, options);
  }

  std::filesystem::path dir_;
  std::optional<FakeTools> fakes_;
};

TEST_F(FakeToolsTest, ExpectedCallGetsItsOutputAndIsLogged) {
  fakes_->Expect("istioctl", {{"argv", {"install", "-y", "-f", "iop.yaml"}},
                              {"stdout", "done\n"},
                              {"stderr", "warn\n"},
                              {"exit", 0}});
  RunResult r = Run({"istioctl", "install", "-y", "-f", "iop.yaml"}, "", {"KUBECONFIG=/tmp/kc", "ISTIOCTL_XDS_ADDRESS=x:1"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "done\n");
  EXPECT_EQ(r.err, "warn\n");
  auto calls = fakes_->Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["tool"], "istioctl");
  EXPECT_EQ(calls[0]["argv"], nlohmann::json({"install", "-y", "-f", "iop.yaml"}));
  EXPECT_EQ(calls[0]["cwd"], dir_.string());
  EXPECT_EQ(calls[0]["env"]["KUBECONFIG"], "/tmp/kc");
  EXPECT_EQ(calls[0]["env"]["ISTIOCTL_XDS_ADDRESS"], "x:1");
  EXPECT_EQ(calls[0]["entry"], 0);
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
}

TEST_F(FakeToolsTest, UnexpectedCallExits97AndNamesTheNextExpectedCall) {
  fakes_->ExpectCanned("velero", {"backup", "get", "pre-1", "-n", "velero"}, "velero.backup_get");
  RunResult r = Run({"velero", "backup", "delete", "pre-1"});
  EXPECT_EQ(r.exit_code, 97);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "fake velero: unexpected call: [\"backup\", \"delete\", \"pre-1\"]; expected "
            "[\"backup\", \"get\", \"pre-1\", \"-n\", \"velero\"]\n");
  ASSERT_EQ(fakes_->Calls().size(), 1u);
  EXPECT_TRUE(fakes_->Calls()[0]["entry"].is_null());
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{"velero [\"backup\",\"get\",\"pre-1\",\"-n\",\"velero\"]"});
}

TEST_F(FakeToolsTest, CallsMustComeInScriptOrderAndAreConsumed) {
  fakes_->Expect("istioctl", {{"argv", {"install", "-y", "-f", "iop.yaml"}}, {"canned", "istioctl.install"}});
  fakes_->Expect("istioctl", {{"argv", {"version", "-o", "json"}}, {"canned", "istioctl.version_json"}});
  EXPECT_EQ(Run({"istioctl", "version", "-o", "json"}).exit_code, 97);  // too early
  EXPECT_EQ(Run({"istioctl", "install", "-y", "-f", "iop.yaml"}).exit_code, 0);
  EXPECT_EQ(Run({"istioctl", "version", "-o", "json"}).exit_code, 0);
  RunResult extra = Run({"istioctl", "version", "-o", "json"});
  EXPECT_EQ(extra.exit_code, 97);
  EXPECT_EQ(extra.err, "fake istioctl: unexpected call: [\"version\", \"-o\", \"json\"]; expected no further calls\n");
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
}

TEST_F(FakeToolsTest, RepeatEntryAnswersAnyNumberOfTimesAtAnyPoint) {
  fakes_->Expect("linkerd", {{"argv", {"version", "--client", "--short"}},
                             {"canned", "linkerd.version_client_short"},
                             {"repeat", true}});
  fakes_->ExpectCanned("linkerd", {"check"}, "linkerd.check");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Run({"linkerd", "version", "--client", "--short"}).out, "stable-2.14.10\n");
  EXPECT_EQ(Run({"linkerd", "check"}).exit_code, 0);
  EXPECT_EQ(Run({"linkerd", "version", "--client", "--short"}).exit_code, 0);
  EXPECT_EQ(fakes_->Argvs("linkerd").size(), 5u);
}

TEST_F(FakeToolsTest, ArgvPrefixMatchesAnyTail) {
  fakes_->Expect("velero", {{"argv_prefix", {"backup", "create", "pre-1"}},
                            {"canned", "velero.backup_create"},
                            {"params", {{"name", "pre-1"}, {"phase", "PartiallyFailed"}}}});
  RunResult r = Run({"velero", "backup", "create", "pre-1", "--include-namespaces", "shop", "--ttl", "720h", "--wait"});
  EXPECT_EQ(r.exit_code, 0) << r.err;  // as the real velero: 0 whatever the phase
  EXPECT_EQ(r.out,
            "Backup request \"pre-1\" submitted successfully.\n"
            "Waiting for backup to complete. You may safely press ctrl-c to stop waiting - your backup will continue "
            "in the background.\n...\n"
            "Backup completed with status: PartiallyFailed. You may check for more information using the commands "
            "`velero backup describe pre-1` and `velero backup logs pre-1`.\n");
}

TEST_F(FakeToolsTest, StdinMustContainTheExpectedText) {
  fakes_->Expect("istioctl",
                 {{"argv", {"install", "-y", "-f", "-"}}, {"stdin_contains", {"kind: IstioOperator"}}, {"exit", 0}});
  RunResult wrong = Run({"istioctl", "install", "-y", "-f", "-"}, "kind: ConfigMap\n");
  EXPECT_EQ(wrong.exit_code, 97);
  EXPECT_EQ(wrong.err,
            "fake istioctl: unexpected call: [\"install\", \"-y\", \"-f\", \"-\"]; expected "
            "[\"install\", \"-y\", \"-f\", \"-\"] with stdin containing [\"kind: IstioOperator\"]\n");
  RunResult right = Run({"istioctl", "install", "-y", "-f", "-"}, "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\n");
  EXPECT_EQ(right.exit_code, 0) << right.err;
  EXPECT_EQ(fakes_->Calls()[1]["stdin"], "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\n");
}

TEST_F(FakeToolsTest, ExplicitOutputOverridesTheCannedOne) {
  fakes_->Expect("linkerd", {{"argv", {"check"}}, {"canned", "linkerd.check"}, {"exit", 3}});
  RunResult r = Run({"linkerd", "check"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out.substr(r.out.rfind("Status")), "Status check results are \u221a\n");
}

TEST_F(FakeToolsTest, ParallelCallsAreAllAnsweredAndLogged) {
  fakes_->Expect("linkerd", {{"argv", {"version", "--client", "--short"}},
                             {"canned", "linkerd.version_client_short"},
                             {"repeat", true}});
  std::vector<std::thread> threads;
  std::vector<RunResult> results(6);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([this, i, &results] { results[i] = Run({"linkerd", "version", "--client", "--short"}); });
  }
  for (auto& t : threads) t.join();
  for (const RunResult& r : results) EXPECT_EQ(r.out, "stable-2.14.10\n");
  EXPECT_EQ(fakes_->Calls().size(), results.size());
}

TEST_F(FakeToolsTest, CannedOutputsHaveTheRealToolsShapes) {
  fakes_->ExpectCanned("istioctl", {"version", "-o", "json"}, "istioctl.version_json");
  fakes_->ExpectCanned("istioctl", {"analyze", "-n", "shop"}, "istioctl.analyze", {{"namespace", "shop"}});
  fakes_->ExpectCanned("istioctl", {"analyze", "-n", "shop", "--failure-threshold", "Error"}, "istioctl.analyze",
                       {{"namespace", "shop"},
                        {"issues", {{"Error", "IST0109", "VirtualService shop/auth", "The VirtualServices shop/auth,"
                                     "shop/game associated with mesh define the same host `api.example.com`."}}}});
  fakes_->ExpectCanned("velero", {"backup", "get", "gone"}, "velero.backup_get", {{"name", "gone"}, {"exists", false}});
  fakes_->ExpectCanned("istioctl", {"uninstall", "--purge", "-y"}, "istioctl.uninstall_purge");
  fakes_->ExpectCanned("linkerd", {"check"}, "linkerd.check_failed");
  fakes_->ExpectCanned("linkerd", {"install", "--crds"}, "linkerd.install_crds");

  auto version = nlohmann::json::parse(Run({"istioctl", "version", "-o", "json"}).out);
  EXPECT_EQ(version["clientVersion"]["version"], "1.32.0");
  EXPECT_EQ(version["meshVersion"][0]["Component"], "istiod");
  EXPECT_EQ(version["meshVersion"][0]["Info"]["version"], "1.32.0");

  RunResult clean = Run({"istioctl", "analyze", "-n", "shop"});
  EXPECT_EQ(clean.exit_code, 0);
  EXPECT_EQ(clean.out, "\u2714 No validation issues found when analyzing namespace: shop.\n");
  RunResult issues = Run({"istioctl", "analyze", "-n", "shop", "--failure-threshold", "Error"});
  EXPECT_EQ(issues.exit_code, 79);  // istioctl's exit code when analyzers found issues at the threshold
  EXPECT_EQ(issues.out.rfind("Error [IST0109] (VirtualService shop/auth) The VirtualServices", 0), 0u) << issues.out;
  EXPECT_EQ(issues.err.rfind("Error: Analyzers found issues when analyzing namespace: shop.\n", 0), 0u) << issues.err;
  RunResult gone = Run({"velero", "backup", "get", "gone"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_EQ(gone.err, "An error occurred: backups.velero.io \"gone\" not found\n");

  RunResult uninstall = Run({"istioctl", "uninstall", "--purge", "-y"});
  EXPECT_EQ(uninstall.exit_code, 0);
  EXPECT_EQ(uninstall.out.substr(uninstall.out.rfind('\n', uninstall.out.size() - 2) + 1), "\u2714 Uninstall complete\n");

  RunResult check = Run({"linkerd", "check"});
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.out.find("\u00d7 'linkerd-config' config map exists\n"
                           "    configmaps \"linkerd-config\" not found\n"),
            std::string::npos)
      << check.out;
  EXPECT_EQ(check.out.substr(check.out.rfind("Status")), "Status check results are \u00d7\n");

  RunResult crds = Run({"linkerd", "install", "--crds"});
  EXPECT_EQ(crds.exit_code, 0);
  EXPECT_NE(crds.out.find("  name: serviceprofiles.linkerd.io\n"), std::string::npos);
}

TEST_F(FakeToolsTest, SleepDelaysTheAnswer) {
  fakes_->Expect("istioctl", {{"argv", {"install", "-y", "-f", "slow.yaml"}}, {"sleep", 5}});
  RunOptions options;
  options.env = fakes_->Env();
  options.timeout = std::chrono::milliseconds(500);
  RunResult r = RunCapture({"istioctl", "install", "-y", "-f", "slow.yaml"}, options);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
}

}  // namespace
}  // namespace slipway::test
