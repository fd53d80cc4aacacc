// The Kubernetes scale-out: the rendered Indexed Job against a golden file, and the kubectl
// conversation (apply, wait, pods, logs, merge) against a scripted stand-in for kubectl.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "steps/loadtest/loadtest.h"

namespace slipway::steps::loadtest {
namespace {

using nlohmann::json;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Config K8sConfig() {
  auto cfg = ParseConfig(json::parse(R"({
    "target": "http://shop.svc.cluster.local:8080", "executor": "constant-arrival-rate", "rate": 3000,
    "duration": "2m", "requests": [{"name": "home", "path": "/", "weight": 3},
                                   {"name": "api", "method": "POST", "path": "/api", "body": "{}"}],
    "thresholds": {"http_req_duration": ["p(95)<200"]},
    "kubernetes": {"replicas": 3, "image": "ghcr.io/acme/slipway:0.1.0", "namespace": "load",
                   "context": "prod-eu", "cpu": "1", "memory": "256Mi"}})"));
  EXPECT_TRUE(cfg) << cfg.error().message;
  return *cfg;
}

TEST(KubernetesTest, RendersTheIndexedJobLikeTheGoldenFile) {
  const std::string golden = std::string(LOADTEST_GOLDEN_DIR) + "/kubernetes_job.yaml";
  std::string rendered = RenderKubernetesJob(K8sConfig());
  if (std::getenv("UPDATE_GOLDEN")) std::ofstream(golden) << rendered;
  EXPECT_EQ(rendered, ReadFile(golden)) << "re-run with UPDATE_GOLDEN=1 to accept a deliberate change";
}

TEST(KubernetesTest, AppliesWaitsReadsEveryPodLogAndMerges) {
  const std::string dir = ::testing::TempDir() + "/fake-kubectl";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // Two pods' results, as `slipway loadtest --worker` prints them (after some log noise).
  for (int i = 0; i < 2; ++i) {
    Result part;
    part.executor = "constant-arrival-rate";
    part.duration_s = 10 + i;
    part.threads = 1;
    Stats s;
    s.requests = 100 * (i + 1);
    for (std::uint64_t k = 0; k < s.requests; ++k) s.latency.Record(1'000'000 * (i + 1));
    s.status_codes[200] = s.requests;
    part.by_request["home"] = s;
    part.total = s;
    std::ofstream(dir + "/pod-" + std::to_string(i) + ".log") << "starting\n" << SummaryJson(part).dump() << "\n";
  }
  json pods = {{"items",
                {{{"metadata", {{"name", "pod-1"}, {"annotations", {{"batch.kubernetes.io/job-completion-index", "1"}}}}},
                  {"status", {{"phase", "Succeeded"}}}},
                 {{"metadata", {{"name", "pod-0"}, {"annotations", {{"batch.kubernetes.io/job-completion-index", "0"}}}}},
                  {"status", {{"phase", "Succeeded"}}}}}}};
  std::ofstream(dir + "/pods.json") << pods.dump();
  const std::string script = dir + "/kubectl";
  std::ofstream(script) << "#!/bin/sh\n"
                        << "echo \"$*\" >> " << dir << "/argv.log\n"
                        << "case \"$*\" in\n"
                        << "  *' delete job '*) exit 0 ;;\n"
                        << "  *' apply -f -'*) cat > " << dir << "/applied.yaml; echo applied ;;\n"
                        << "  *' get job '*) echo '{\"status\":{\"succeeded\":2,\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\"}]}}' ;;\n"
                        << "  *' get pods '*) cat " << dir << "/pods.json ;;\n"
                        << "  *' logs pod-0') cat " << dir << "/pod-0.log ;;\n"
                        << "  *' logs pod-1') cat " << dir << "/pod-1.log ;;\n"
                        << "  *) echo \"unexpected: $*\" >&2; exit 3 ;;\n"
                        << "esac\n";
  chmod(script.c_str(), 0755);

  Config cfg = K8sConfig();
  cfg.kubernetes->replicas = 2;
  Hooks hooks;
  hooks.kubectl = script;
  auto r = loadtest::Run(cfg, hooks);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->total.requests, 300u);
  EXPECT_EQ(r->workers, 2);
  EXPECT_EQ(r->duration_s, 11);
  EXPECT_EQ(r->total.latency.Percentile(50), 2'000'000);  // 200 of the 300 samples are 2 ms
  ASSERT_EQ(r->thresholds.size(), 1u);
  EXPECT_TRUE(r->thresholds[0].ok);
  EXPECT_EQ(ReadFile(dir + "/applied.yaml"), RenderKubernetesJob(cfg));
  std::string argv = ReadFile(dir + "/argv.log");
  const std::string prefix = "--context prod-eu --namespace load ";
  EXPECT_EQ(argv, prefix + "delete job slipway-loadtest --ignore-not-found --wait=true\n" + prefix + "apply -f -\n" +
                      prefix + "get job slipway-loadtest -o json\n" + prefix +
                      "get pods -l job-name=slipway-loadtest -o json\n" + prefix + "logs pod-0\n" + prefix + "logs pod-1\n");
}

TEST(KubernetesTest, AFailedJobIsAnErrorWithItsReason) {
  const std::string dir = ::testing::TempDir() + "/fake-kubectl-failed";
  std::filesystem::create_directories(dir);
  const std::string script = dir + "/kubectl";
  std::ofstream(script) << "#!/bin/sh\ncase \"$*\" in\n  *' get job '*) echo '{\"status\":{\"failed\":1,\"conditions\":"
                           "[{\"type\":\"Failed\",\"status\":\"True\",\"reason\":\"BackoffLimitExceeded\","
                           "\"message\":\"Job has reached the specified backoff limit\"}]}}' ;;\n  *) cat >/dev/null ;;\nesac\n";
  chmod(script.c_str(), 0755);
  Hooks hooks;
  hooks.kubectl = script;
  auto r = loadtest::Run(K8sConfig(), hooks);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "Job slipway-loadtest failed: BackoffLimitExceeded Job has reached the specified backoff limit");
}

}  // namespace
}  // namespace slipway::steps::loadtest
