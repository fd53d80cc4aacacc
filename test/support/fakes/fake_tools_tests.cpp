// The recording fakes of helm, istioctl and linkerd: matching, failure on unexpected calls, logging and
// the shapes of their canned outputs.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test/support/fakes/fake_tools.h"
#include "test/support/kube/kube_test_server.h"
#include "test/support/kube/run_capture.h"

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
  fakes_->Expect("helm", {{"argv", {"upgrade", "--install", "web", "./chart"}},
                          {"stdout", "done\n"},
                          {"stderr", "warn\n"},
                          {"exit", 0}});
  RunResult r = Run({"helm", "upgrade", "--install", "web", "./chart"}, "", {"KUBECONFIG=/tmp/kc", "HELM_DRIVER=secret"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "done\n");
  EXPECT_EQ(r.err, "warn\n");
  auto calls = fakes_->Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["tool"], "helm");
  EXPECT_EQ(calls[0]["argv"], nlohmann::json({"upgrade", "--install", "web", "./chart"}));
  EXPECT_EQ(calls[0]["cwd"], dir_.string());
  EXPECT_EQ(calls[0]["env"]["KUBECONFIG"], "/tmp/kc");
  EXPECT_EQ(calls[0]["env"]["HELM_DRIVER"], "secret");
  EXPECT_EQ(calls[0]["entry"], 0);
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
}

TEST_F(FakeToolsTest, UnexpectedCallExits97AndNamesTheNextExpectedCall) {
  fakes_->ExpectCanned("helm", {"status", "web", "-n", "shop", "-o", "json"}, "helm.release_not_found");
  RunResult r = Run({"helm", "list", "-n", "shop"});
  EXPECT_EQ(r.exit_code, 97);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "fake helm: unexpected call: [\"list\", \"-n\", \"shop\"]; expected "
            "[\"status\", \"web\", \"-n\", \"shop\", \"-o\", \"json\"]\n");
  ASSERT_EQ(fakes_->Calls().size(), 1u);
  EXPECT_TRUE(fakes_->Calls()[0]["entry"].is_null());
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{"helm [\"status\",\"web\",\"-n\",\"shop\",\"-o\",\"json\"]"});
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
  fakes_->Expect("helm", {{"argv", {"version", "--short"}}, {"canned", "helm.version_short"}, {"repeat", true}});
  fakes_->ExpectCanned("helm", {"rollback", "web", "1", "-n", "shop"}, "helm.rollback");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Run({"helm", "version", "--short"}).out, "v3.14.4+g81c902a\n");
  EXPECT_EQ(Run({"helm", "rollback", "web", "1", "-n", "shop"}).out, "Rollback was a success! Happy Helming!\n");
  EXPECT_EQ(Run({"helm", "version", "--short"}).exit_code, 0);
  EXPECT_EQ(fakes_->Argvs("helm").size(), 5u);
}

TEST_F(FakeToolsTest, ArgvPrefixMatchesAnyTail) {
  fakes_->Expect("helm", {{"argv_prefix", {"upgrade", "--install", "web"}},
                          {"canned", "helm.install"},
                          {"params", {{"name", "web"}, {"namespace", "shop"}}}});
  RunResult r = Run({"helm", "upgrade", "--install", "web", "./chart", "-n", "shop", "--wait", "--timeout", "5m0s"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "Release \"web\" does not exist. Installing it now.\n"
            "NAME: web\n"
            "LAST DEPLOYED: Wed May  1 12:00:00 2024\n"
            "NAMESPACE: shop\n"
            "STATUS: deployed\n"
            "REVISION: 1\n"
            "TEST SUITE: None\n");
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

TEST_F(FakeToolsTest, HelmCannedOutputsHaveHelmsShapes) {
  fakes_->ExpectCanned("helm", {"status", "web", "-n", "shop", "-o", "json"}, "helm.status",
                       {{"name", "web"}, {"namespace", "shop"}, {"revision", 2}, {"values", {{"replicaCount", 3}}}});
  fakes_->ExpectCanned("helm", {"list", "-n", "shop", "-o", "json"}, "helm.list",
                       {{"namespace", "shop"}, {"releases", {{{"name", "web"}, {"revision", 2}}}}});
  fakes_->ExpectCanned("helm", {"history", "web", "-n", "shop", "-o", "json"}, "helm.history",
                       {{"revisions", {{{"revision", 1}, {"status", "superseded"}}, {{"revision", 2}}}}});
  fakes_->ExpectCanned("helm", {"get", "values", "web", "-n", "shop", "-o", "json"}, "helm.get_values");
  fakes_->ExpectCanned("helm", {"status", "gone", "-n", "shop", "-o", "json"}, "helm.release_not_found");

  auto status = nlohmann::json::parse(Run({"helm", "status", "web", "-n", "shop", "-o", "json"}).out);
  EXPECT_EQ(status["name"], "web");
  EXPECT_EQ(status["namespace"], "shop");
  EXPECT_EQ(status["version"], 2);
  EXPECT_EQ(status["info"]["status"], "deployed");
  EXPECT_EQ(status["info"]["description"], "Upgrade complete");
  EXPECT_EQ(status["chart"]["metadata"]["version"], "1.2.3");
  EXPECT_EQ(status["config"]["replicaCount"], 3);

  auto list = nlohmann::json::parse(Run({"helm", "list", "-n", "shop", "-o", "json"}).out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["revision"], "2");  // a string in helm list, a number in helm history
  EXPECT_EQ(list[0]["chart"], "web-1.2.3");
  EXPECT_EQ(list[0]["updated"], "2024-05-01 12:00:00.123456789 +0000 UTC");

  auto history = nlohmann::json::parse(Run({"helm", "history", "web", "-n", "shop", "-o", "json"}).out);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1]["revision"], 2);
  EXPECT_EQ(history[0]["status"], "superseded");

  EXPECT_EQ(Run({"helm", "get", "values", "web", "-n", "shop", "-o", "json"}).out, "null\n");

  RunResult missing = Run({"helm", "status", "gone", "-n", "shop", "-o", "json"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.out, "");
  EXPECT_EQ(missing.err, "Error: release: not found\n");
}

TEST_F(FakeToolsTest, IstioctlAndLinkerdCannedOutputsHaveTheirShapes) {
  fakes_->ExpectCanned("istioctl", {"version", "-o", "json"}, "istioctl.version_json");
  fakes_->ExpectCanned("istioctl", {"uninstall", "--purge", "-y"}, "istioctl.uninstall_purge");
  fakes_->ExpectCanned("linkerd", {"check"}, "linkerd.check_failed");
  fakes_->ExpectCanned("linkerd", {"install", "--crds"}, "linkerd.install_crds");

  auto version = nlohmann::json::parse(Run({"istioctl", "version", "-o", "json"}).out);
  EXPECT_EQ(version["clientVersion"]["version"], "1.32.0");
  EXPECT_EQ(version["meshVersion"][0]["Component"], "istiod");
  EXPECT_EQ(version["meshVersion"][0]["Info"]["version"], "1.32.0");

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

TEST_F(FakeToolsTest, CannedLinkerdManifestsApplyWithTheRealKubectl) {
#ifndef SLIPWAY_TEST_KUBECTL
  GTEST_SKIP() << "kubectl not found at configure time";
#else
  if (!std::filesystem::exists(SLIPWAY_TEST_KUBECTL)) GTEST_SKIP() << "kubectl not found";
  fakes_->ExpectCanned("linkerd", {"install", "--crds"}, "linkerd.install_crds");
  fakes_->ExpectCanned("linkerd", {"install", "--identity-trust-anchors-file", "ca.crt"}, "linkerd.install");
  KubeTestServerOptions server_options;
  server_options.dir = dir_;
  auto server = KubeTestServer::Start(server_options);
  ASSERT_TRUE(server) << server.error().message;
  RunOptions kubectl;
  kubectl.env = server->Env();
  for (const std::vector<std::string>& install :
       {std::vector<std::string>{"linkerd", "install", "--crds"},
        std::vector<std::string>{"linkerd", "install", "--identity-trust-anchors-file", "ca.crt"}}) {
    RunResult yaml = Run(install);
    ASSERT_EQ(yaml.exit_code, 0) << yaml.err;
    kubectl.stdin_data = yaml.out;
    RunResult applied =
        RunCapture({SLIPWAY_TEST_KUBECTL, "apply", "--server-side", "--field-manager=slipway", "-f", "-"}, kubectl);
    EXPECT_EQ(applied.exit_code, 0) << applied.err;
  }
  kubectl.stdin_data.clear();
  RunResult rollout = RunCapture(
      {SLIPWAY_TEST_KUBECTL, "rollout", "status", "deployment/linkerd-destination", "-n", "linkerd", "--timeout=5s"},
      kubectl);
  EXPECT_EQ(rollout.out, "deployment \"linkerd-destination\" successfully rolled out\n");
  EXPECT_FALSE(server->Find("CustomResourceDefinition", "", "servers.policy.linkerd.io").is_null());
  EXPECT_EQ(server->Find("Secret", "linkerd", "linkerd-identity-issuer")["type"], "kubernetes.io/tls");
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
#endif
}

TEST_F(FakeToolsTest, SleepDelaysTheAnswer) {
  fakes_->Expect("helm", {{"argv", {"upgrade", "--install", "slow", "./chart", "--wait"}}, {"sleep", 5}});
  RunOptions options;
  options.env = fakes_->Env();
  options.timeout = std::chrono::milliseconds(500);
  RunResult r = RunCapture({"helm", "upgrade", "--install", "slow", "./chart", "--wait"}, options);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
}

}  // namespace
}  // namespace slipway::test
