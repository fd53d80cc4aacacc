// The Kubernetes kinds through the built binary and the REAL kubectl, talking to the in-repo
// Kubernetes API test server (test/support/kube/kube_api_server.py — not a real cluster).
#include <nlohmann/json.hpp>

#include "support/e2e_harness.h"
#include "test/support/kube/kube_test_server.h"

namespace slipway::test {
namespace {

using nlohmann::json;

class KubeKindsWithTestApiServerTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    std::filesystem::create_directories(Path("kube"));
    KubeTestServerOptions options;
    options.dir = Path("kube");
    auto s = KubeTestServer::Start(options);
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::make_unique<KubeTestServer>(std::move(*s));
    for (const auto& kv : server_->Env()) env_[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
  }
  CliResult Run(std::vector<std::string> args) { return Slipway(std::move(args), env_); }
  std::unique_ptr<KubeTestServer> server_;
  std::map<std::string, std::string> env_;
};

constexpr const char* kNamespacePlan = R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: ns}
vars: {ns: shop}
steps:
  - id: namespace
    uses: k8s.namespace
    with: {name: "{{ vars.ns }}", labels: {istio-injection: enabled}}
  - id: after
    needs: [namespace]
    run: [test, "{{ vars.fail }}", "=", "no"]
)";

TEST_F(KubeKindsWithTestApiServerTest, NamespaceCreateThenUnchangedThenRollbackDeletesIt) {
  Write("p.yaml", std::string(kNamespacePlan) + "");
  Write("p.yaml", std::string(kNamespacePlan).replace(std::string(kNamespacePlan).find("vars: {ns: shop}"), 16,
                                                      "vars: {ns: shop, fail: \"no\"}"));
  auto first = Run({"apply", "p.yaml"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  json ns = server_->Find("Namespace", "", "shop");
  ASSERT_TRUE(ns.is_object()) << server_->Objects().dump();
  EXPECT_EQ(ns["metadata"]["labels"]["istio-injection"], "enabled");
  auto second = Run({"apply", "p.yaml", "--fresh"});  // the probe, not the checkpoint, decides
  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_NE(second.out.find("[namespace] unchanged (namespace shop exists with the wanted labels)"), std::string::npos)
      << second.out;
  auto plan = Run({"plan", "p.yaml", "--set", "ns=cart", "--fresh"});
  EXPECT_NE(plan.out.find("probe ran: would create namespace cart"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("kubectl create namespace cart"), std::string::npos) << plan.out;
  // A run that creates a namespace and then fails deletes it again.
  auto failing = Run({"apply", "p.yaml", "--set", "ns=cart", "--set", "fail=yes", "--fresh"});
  EXPECT_EQ(failing.exit_code, 1) << failing.all();
  EXPECT_TRUE(server_->Find("Namespace", "", "cart").is_null()) << "rollback must delete the namespace it created";
  EXPECT_NE(failing.out.find("[namespace] rolled back"), std::string::npos) << failing.out;
}

TEST_F(KubeKindsWithTestApiServerTest, AStepFoundInSyncStillPublishesItsOutputsOnAFreshRun) {
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: ns}
steps:
  - id: namespace
    uses: k8s.namespace
    with: {name: shop, labels: {team: a}}
  - id: use
    needs: [namespace]
    run: [sh, -c, 'echo "$0 $1" > used.txt', "{{ steps.namespace.outputs.name }}", "{{ steps.namespace.outputs.created }}"]
)");
  auto pre = server_->Request("POST", "/api/v1/namespaces",
                              R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","labels":{"team":"a"}}})");
  ASSERT_TRUE(pre && pre->status == 201) << (pre ? pre->body : pre.error().message);
  // No earlier run to take outputs from: the probe itself publishes them.
  auto r = Run({"apply", "p.yaml", "--fresh"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("[namespace] unchanged"), std::string::npos) << r.out;
  EXPECT_EQ(Read("used.txt"), "shop false\n");
}

TEST_F(KubeKindsWithTestApiServerTest, NamespaceRollbackRestoresLabelsOfAnExistingNamespace) {
  Write("p.yaml", std::string(kNamespacePlan).replace(std::string(kNamespacePlan).find("vars: {ns: shop}"), 16,
                                                      "vars: {ns: shop, fail: \"no\"}"));
  auto pre = server_->Request("POST", "/api/v1/namespaces",
                              R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","labels":{"team":"a"}}})");
  ASSERT_TRUE(pre && pre->status == 201) << (pre ? pre->body : pre.error().message);
  auto r = Run({"apply", "p.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  json ns = server_->Find("Namespace", "", "shop");
  ASSERT_TRUE(ns.is_object());
  // The API server's own kubernetes.io/metadata.name label stays; the plan's label is gone again.
  EXPECT_EQ(ns["metadata"]["labels"], json::parse(R"({"kubernetes.io/metadata.name": "shop", "team": "a"})"))
      << ns.dump();
}

TEST_F(KubeKindsWithTestApiServerTest, ApplyDiffCleanVarChangeReappliesAndRollbackRestores) {
  Write("manifests/app.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: {{ namespace }}
data:
  greeting: "{{ greeting }}"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: {{ namespace }}
spec:
  replicas: {{ replicas }}
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
        - name: app
          image: "nginx:1.25"
)");
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: app}
vars: {namespace: shop, greeting: hello, replicas: "2", fail: "no"}
steps:
  - id: namespace
    uses: k8s.namespace
    with: {name: "{{ vars.namespace }}"}
  - id: app
    needs: [namespace]
    uses: k8s.apply
    with: {manifests: ["manifests/*.yaml"], namespace: "{{ vars.namespace }}", wait: {for: rollout, timeout: 20s}}
  - id: smoke
    needs: [app]
    run: [test, "{{ vars.fail }}", "=", "no"]
)");
  auto first = Run({"apply", "p.yaml"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  EXPECT_EQ(server_->Find("ConfigMap", "shop", "app-config")["data"]["greeting"], "hello");
  EXPECT_EQ(server_->Find("Deployment", "shop", "app")["spec"]["replicas"], 2);
  // kubectl diff is clean now: a fresh run reports the step unchanged without applying.
  auto again = Run({"apply", "p.yaml", "--fresh"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_NE(again.out.find("[app] unchanged (kubectl diff: no changes)"), std::string::npos) << again.out;
  // The dry-run shows the exact command and the rendered manifests, and the diff probe.
  auto plan = Run({"plan", "p.yaml", "--set", "greeting=bonjour"});
  EXPECT_NE(plan.out.find("kubectl apply --server-side --field-manager=slipway -n shop -f - <<EOF"), std::string::npos)
      << plan.out;
  EXPECT_NE(plan.out.find("greeting: \"bonjour\""), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("probe ran: kubectl diff shows changes"), std::string::npos) << plan.out;
  // Change a var and fail later: the ConfigMap is re-applied, then restored by the rollback.
  auto changed = Run({"apply", "p.yaml", "--set", "greeting=bonjour", "--set", "fail=yes"});
  EXPECT_EQ(changed.exit_code, 1) << changed.all();
  EXPECT_NE(changed.out.find("[app] rolled back"), std::string::npos) << changed.out;
  EXPECT_EQ(server_->Find("ConfigMap", "shop", "app-config")["data"]["greeting"], "hello");
  // And with the change kept, it sticks.
  auto kept = Run({"apply", "p.yaml", "--set", "greeting=bonjour"});
  ASSERT_EQ(kept.exit_code, 0) << kept.all();
  EXPECT_EQ(server_->Find("ConfigMap", "shop", "app-config")["data"]["greeting"], "bonjour");
}

TEST_F(KubeKindsWithTestApiServerTest, ApplyOfAStuckRolloutFailsAndRemovesWhatItCreated) {
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: stuck}
steps:
  - id: app
    uses: k8s.apply
    with:
      namespace: default
      wait: {for: rollout, timeout: 2s}
      inline: |
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          annotations: {slipway.test/stuck: "true"}
        spec:
          replicas: 1
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec: {containers: [{name: web, image: "nginx:1.25"}]}
)");
  auto r = Run({"apply", "p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.out.find("did not become ready"), std::string::npos) << r.out;
  EXPECT_TRUE(server_->Find("Deployment", "default", "web").is_null()) << server_->Objects().dump();
}

TEST_F(KubeKindsWithTestApiServerTest, WaitStepAndClusterPrereq) {
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: wait}
steps:
  - id: prereqs
    uses: prereq
    with: {tools: {kubectl: ">=1.27"}, cluster: true}
  - id: app
    needs: [prereqs]
    uses: k8s.apply
    with:
      inline: |
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: api, namespace: default}
        spec:
          replicas: 2
          selector: {matchLabels: {app: api}}
          template:
            metadata: {labels: {app: api}}
            spec: {containers: [{name: api, image: "api:1"}]}
  - id: ready
    needs: [app]
    uses: k8s.wait
    with: {resource: deployment/api, namespace: default, for: condition=Available, timeout: 10s}
)");
  auto r = Run({"apply", "p.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  // Without a cluster the prereq reports it, and the dry-run still prints the rest.
  std::map<std::string, std::string> nowhere{{"KUBECONFIG", Path("missing-kubeconfig").string()}};
  Write("missing-kubeconfig", "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "
                              "\"http://127.0.0.1:9\"}}]\ncontexts: [{name: c, context: {cluster: c}}]\ncurrent-context: c\n");
  auto dry = Slipway({"plan", "p.yaml", "--fresh"}, nowhere);
  EXPECT_EQ(dry.exit_code, 0) << dry.all();
  EXPECT_NE(dry.out.find("cluster: not checked: cluster unreachable"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("not checked: cluster unreachable"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("kubectl wait --for=condition=Available deployment/api --timeout=10s -n default"),
            std::string::npos)
      << dry.out;
  auto apply = Slipway({"apply", "p.yaml", "--fresh"}, nowhere);
  EXPECT_EQ(apply.exit_code, 1);
  EXPECT_NE(apply.out.find("cluster unreachable through the current context"), std::string::npos) << apply.out;
}

}  // namespace
}  // namespace slipway::test
