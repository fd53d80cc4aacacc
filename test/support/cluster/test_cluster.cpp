#include "test/support/cluster/test_cluster.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>

namespace slipway::test {

namespace {

std::map<std::string, std::string> ReadEnvFile(const std::filesystem::path& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq != std::string::npos && line[0] != '#') out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

// DNS-1123 label: lower-case letters, digits and '-', at most 63 characters, starting with a letter.
std::string Label(std::string s) {
  for (char& c : s) c = (std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '-');
  if (s.size() > 63) s.resize(63);
  while (!s.empty() && s.back() == '-') s.pop_back();
  return s;
}

}  // namespace

Expected<TestCluster> TestCluster::FromEnvironment() {
  const char* dir = std::getenv("SLIPWAY_TEST_CLUSTER");
  if (dir == nullptr || *dir == '\0')
    return Fail(
        "SLIPWAY_TEST_CLUSTER is not set: this suite runs against the real test cluster, which ctest starts "
        "as the `cluster` fixture (run it with ctest, e.g. `ctest --test-dir build -L cluster`), or start one "
        "with test/cluster/up.sh DIR and export SLIPWAY_TEST_CLUSTER=DIR");
  auto env = ReadEnvFile(std::filesystem::path(dir) / "cluster.env");
  if (env.empty())
    return Fail(std::string("no test cluster is up in ") + dir + " (no cluster.env): see the cluster_up test's output");
  TestCluster c;
  c.kubeconfig_ = env["KUBECONFIG"];
  c.viewer_kubeconfig_ = env["SLIPWAY_TEST_KUBECONFIG_VIEWER"];
  c.bin_ = env["SLIPWAY_TEST_CLUSTER_BIN"];
  c.chart_repo_ = env["SLIPWAY_TEST_CHART_REPO"];
  c.oci_repo_ = env["SLIPWAY_TEST_OCI_REPO"];
  c.crd_dir_ = env["SLIPWAY_TEST_CLUSTER_CRDS"];
  if (c.kubeconfig_.empty() || c.bin_.empty()) return Fail(std::string(dir) + "/cluster.env is incomplete");
  return c;
}

std::map<std::string, std::string> TestCluster::Env(const std::filesystem::path& home) const {
  const char* path = std::getenv("PATH");
  return {{"KUBECONFIG", kubeconfig_},
          {"KUBECACHEDIR", (home / "kube-cache").string()},
          {"PATH", bin_ + ":" + (path ? path : "/usr/bin:/bin")},
          {"HELM_CACHE_HOME", (home / "helm" / "cache").string()},
          {"HELM_CONFIG_HOME", (home / "helm" / "config").string()},
          {"HELM_DATA_HOME", (home / "helm" / "data").string()}};
}

Expected<pipeline::ProcessResult> TestCluster::Kubectl(const std::vector<std::string>& args,
                                                       std::optional<std::string> stdin_data) const {
  pipeline::ProcessSpec spec;
  spec.argv = {bin_ + "/kubectl"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env = {{"KUBECONFIG", kubeconfig_}};
  spec.stdin_data = std::move(stdin_data);
  spec.timeout = std::chrono::seconds(120);
  return pipeline::RunProcess(spec);
}

nlohmann::json TestCluster::Get(const std::string& kind, const std::string& ns, const std::string& name) const {
  std::vector<std::string> args{"get", kind, name, "-o", "json", "--ignore-not-found"};
  if (!ns.empty()) args.insert(args.end(), {"-n", ns});
  auto r = Kubectl(args);
  if (!r) return {{"error", r.error().message}};
  if (!r->Ok()) return {{"error", "kubectl get " + kind + " " + name + ": " + r->Describe() + ": " + r->err}};
  if (r->out.find_first_not_of(" \n") == std::string::npos) return nullptr;
  auto j = nlohmann::json::parse(r->out, nullptr, false);
  if (j.is_discarded()) return {{"error", "kubectl get: not JSON: " + r->out}};
  return j;
}

void ClusterTest::SetUp() {
  TempDirTest::SetUp();
  auto c = TestCluster::FromEnvironment();
  ASSERT_TRUE(c) << c.error().message;
  cluster_ = std::move(*c);
}

void ClusterTest::TearDown() {
  // Namespaces go without waiting: their deletion finishes in the background while the next test runs.
  for (auto it = cleanup_.rbegin(); it != cleanup_.rend(); ++it)
    (void)cluster_->Kubectl({"delete", it->first, it->second, "--ignore-not-found", "--wait=false"});
  TempDirTest::TearDown();
}

std::string ClusterTest::Namespace(const std::string& base) {
  static std::atomic<int> counter{0};
  std::string name = Label("t" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + "-" + base);
  CleanUpLater("namespace", name);
  return name;
}

void ClusterTest::CleanUpLater(const std::string& kind, const std::string& name) { cleanup_.emplace_back(kind, name); }

std::map<std::string, std::string> ClusterTest::Env(const std::map<std::string, std::string>& extra) const {
  auto env = cluster_->Env(dir_);
  for (const auto& [k, v] : extra) env[k] = v;
  return env;
}

CliResult ClusterTest::Run(std::vector<std::string> args, const std::map<std::string, std::string>& extra,
                           std::chrono::milliseconds timeout) const {
  return Slipway(std::move(args), Env(extra), timeout);
}

std::string ClusterTest::Kubectl(const std::vector<std::string>& args, std::optional<std::string> stdin_data) const {
  auto r = cluster_->Kubectl(args, std::move(stdin_data));
  if (!r) {
    ADD_FAILURE() << "kubectl could not run: " << r.error().message;
    return {};
  }
  if (!r->Ok()) ADD_FAILURE() << "kubectl " << (args.empty() ? "" : args[0]) << ": " << r->Describe() << "\n" << r->err;
  return r->out;
}

}  // namespace slipway::test
