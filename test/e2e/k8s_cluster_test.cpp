// The Kubernetes kinds (k8s.namespace, k8s.apply, k8s.wait, the cluster prereq) through the built
// binary, the real kubectl and the real test cluster (test/cluster: kube-apiserver, etcd,
// controller-manager, scheduler, kwok).
#include <thread>

#include <nlohmann/json.hpp>

#include "test/support/cluster/test_cluster.h"

namespace slipway::test {
namespace {

using nlohmann::json;

class K8sKindsOnRealClusterTest : public ClusterTest {};

std::string NamespacePlan(const std::string& ns) {
  return R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: ns}
vars: {ns: )" + ns + R"(, fail: "no"}
steps:
  - id: namespace
    uses: k8s.namespace
    with: {name: "{{ vars.ns }}", labels: {istio-injection: enabled}}
  - id: after
    needs: [namespace]
    run: [test, "{{ vars.fail }}", "=", "no"]
)";
}

TEST_F(K8sKindsOnRealClusterTest, NamespaceCreateThenUnchangedThenRollbackDeletesIt) {
  std::string shop = Namespace("shop"), cart = Namespace("cart");
  Write("p.yaml", NamespacePlan(shop));
  auto first = Run({"apply", "p.yaml"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  json ns = cluster().Get("Namespace", "", shop);
  ASSERT_TRUE(ns.is_object() && !ns.contains("error")) << ns.dump();
  EXPECT_EQ(ns["metadata"]["labels"]["istio-injection"], "enabled");
  auto second = Run({"apply", "p.yaml", "--fresh"});  // the probe, not the checkpoint, decides
  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_NE(second.out.find("[namespace] unchanged (namespace " + shop + " exists with the wanted labels)"),
            std::string::npos)
      << second.out;
  auto plan = Run({"plan", "p.yaml", "--set", "ns=" + cart, "--fresh"});
  EXPECT_NE(plan.out.find("probe ran: would create namespace " + cart), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("kubectl create namespace " + cart), std::string::npos) << plan.out;
  // A run that creates a namespace and then fails deletes it again.
  auto failing = Run({"apply", "p.yaml", "--set", "ns=" + cart, "--set", "fail=yes", "--fresh"});
  EXPECT_EQ(failing.exit_code, 1) << failing.all();
  EXPECT_NE(failing.out.find("[namespace] rolled back"), std::string::npos) << failing.out;
  json gone = cluster().Get("Namespace", "", cart);
  // A deleted namespace may linger as Terminating for a moment; it must be on its way out.
  EXPECT_TRUE(gone.is_null() || gone["metadata"].contains("deletionTimestamp")) << gone.dump();
}

// A namespace and a ConfigMap in it; `after` fails on demand.
std::string OwnedPlan(const std::string& ns) {
  return R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: owned}
vars: {ns: )" + ns + R"(, greeting: hello, fail: "no"}
steps:
  - id: namespace
    uses: k8s.namespace
    with: {name: "{{ vars.ns }}"}
  - id: config
    uses: k8s.apply
    needs: [namespace]
    with:
      namespace: "{{ vars.ns }}"
      inline: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: greeting}
        data: {greeting: "{{ vars.greeting }}"}
  - id: after
    needs: [config]
    run: [test, "{{ vars.fail }}", "=", "no"]
)";
}

bool Gone(const json& object) { return object.is_null() || object["metadata"].contains("deletionTimestamp"); }

TEST_F(K8sKindsOnRealClusterTest, FreshRunKeepsWhatThePlanCreatedSoRollbackStillDeletesIt) {
  std::string shop = Namespace("shop");
  Write("p.yaml", OwnedPlan(shop));
  ASSERT_EQ(Run({"apply", "p.yaml"}).exit_code, 0);
  auto fresh = Run({"apply", "p.yaml", "--fresh"});
  ASSERT_EQ(fresh.exit_code, 0) << fresh.all();
  EXPECT_NE(fresh.out.find("[namespace] unchanged"), std::string::npos) << fresh.out;
  json state = json::parse(Read(".slipway/owned.json"));
  EXPECT_EQ(state["steps"]["namespace"]["history"].size(), 1u) << state.dump(2);
  EXPECT_EQ(state["steps"]["namespace"]["run_id"], state["run"]["id"]);
  auto rollback = Run({"rollback", "p.yaml"});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.all();
  EXPECT_NE(rollback.all().find("rolled back 2 step(s)"), std::string::npos) << rollback.all();
  EXPECT_TRUE(Gone(cluster().Get("Namespace", "", shop))) << "the namespace the first run created is deleted";
  auto again = Run({"rollback", "p.yaml"});
  EXPECT_NE(again.all().find("rolled back 0 step(s)"), std::string::npos) << "all undone already: " << again.all();
}

TEST_F(K8sKindsOnRealClusterTest, UnchangedRerunThenAChangeThenRollbackUndoesTheWholeChain) {
  std::string shop = Namespace("shop");
  Write("p.yaml", OwnedPlan(shop));
  ASSERT_EQ(Run({"apply", "p.yaml"}).exit_code, 0);
  ASSERT_EQ(Run({"apply", "p.yaml"}).exit_code, 0);
  auto change = Run({"apply", "p.yaml", "--set", "greeting=changed"});
  ASSERT_EQ(change.exit_code, 0) << change.all();
  EXPECT_EQ(cluster().Get("ConfigMap", shop, "greeting")["data"]["greeting"], "changed");
  auto dry = Run({"rollback", "p.yaml", "--dry-run"});
  EXPECT_NE(dry.all().find("2 changes, newest first"), std::string::npos) << dry.all();
  auto rollback = Run({"rollback", "p.yaml"});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.all();
  EXPECT_TRUE(Gone(cluster().Get("Namespace", "", shop))) << rollback.all();
}

TEST_F(K8sKindsOnRealClusterTest, AFailedLaterRunUndoesOnlyItsOwnChangeAndRollbackThenTheRest) {
  std::string shop = Namespace("shop");
  Write("p.yaml", OwnedPlan(shop));
  ASSERT_EQ(Run({"apply", "p.yaml"}).exit_code, 0);
  auto failed = Run({"apply", "p.yaml", "--set", "greeting=changed", "--set", "fail=yes"});
  EXPECT_EQ(failed.exit_code, 1) << failed.all();
  EXPECT_NE(failed.out.find("[config] rolled back"), std::string::npos) << failed.out;
  // This run's change is undone; what the first run created stays.
  EXPECT_EQ(cluster().Get("ConfigMap", shop, "greeting")["data"]["greeting"], "hello");
  EXPECT_FALSE(Gone(cluster().Get("Namespace", "", shop)));
  json state = json::parse(Read(".slipway/owned.json"));
  for (const char* step : {"namespace", "config", "after"})
    EXPECT_EQ(state["steps"][step]["run_id"], state["run"]["id"]) << step << ": every record the run wrote is its own";
  auto rollback = Run({"rollback", "p.yaml"});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.all();
  EXPECT_TRUE(Gone(cluster().Get("ConfigMap", shop, "greeting")));
  EXPECT_TRUE(Gone(cluster().Get("Namespace", "", shop)));
}

TEST_F(K8sKindsOnRealClusterTest, AStepFoundInSyncStillPublishesItsOutputsOnAFreshRun) {
  std::string shop = Namespace("shop");
  Kubectl({"create", "namespace", shop});
  Kubectl({"label", "namespace", shop, "team=a"});
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: ns}
steps:
  - id: namespace
    uses: k8s.namespace
    with: {name: )" + shop + R"(, labels: {team: a}}
  - id: use
    needs: [namespace]
    run: [sh, -c, 'echo "$0 $1" > used.txt', "{{ steps.namespace.outputs.name }}", "{{ steps.namespace.outputs.created }}"]
)");
  auto r = Run({"apply", "p.yaml", "--fresh"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("[namespace] unchanged"), std::string::npos) << r.out;
  EXPECT_EQ(Read("used.txt"), shop + " false\n");
}

TEST_F(K8sKindsOnRealClusterTest, NamespaceRollbackRestoresLabelsOfAnExistingNamespace) {
  std::string shop = Namespace("shop");
  Kubectl({"create", "namespace", shop});
  Kubectl({"label", "namespace", shop, "team=a"});
  Write("p.yaml", NamespacePlan(shop));
  auto r = Run({"apply", "p.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  json ns = cluster().Get("Namespace", "", shop);
  ASSERT_TRUE(ns.is_object() && !ns.contains("error")) << ns.dump();
  // The API server's own kubernetes.io/metadata.name label stays; the plan's label is gone again.
  EXPECT_EQ(ns["metadata"]["labels"], json::parse(R"({"kubernetes.io/metadata.name": ")" + shop + R"(", "team": "a"})"))
      << ns.dump();
}

constexpr const char* kAppManifest = R"(apiVersion: v1
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
          image: "registry.example.com/app:{{ tag }}"
          resources: {requests: {cpu: "{{ cpu }}"}}
)";

std::string AppPlan(const std::string& ns) {
  return R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: app}
vars: {namespace: )" + ns + R"(, greeting: hello, replicas: "2", tag: "1", cpu: 10m, fail: "no", wait: 60s}
steps:
  - id: namespace
    uses: k8s.namespace
    with: {name: "{{ vars.namespace }}"}
  - id: app
    needs: [namespace]
    uses: k8s.apply
    with: {manifests: ["manifests/*.yaml"], namespace: "{{ vars.namespace }}", wait: {for: rollout, timeout: "{{ vars.wait }}"}}
  - id: smoke
    needs: [app]
    run: [test, "{{ vars.fail }}", "=", "no"]
)";
}

TEST_F(K8sKindsOnRealClusterTest, ApplyDiffCleanVarChangeReappliesAndRollbackRestores) {
  std::string shop = Namespace("shop");
  Write("manifests/app.yaml", kAppManifest);
  Write("p.yaml", AppPlan(shop));
  auto first = Run({"apply", "p.yaml"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  EXPECT_EQ(cluster().Get("ConfigMap", shop, "app-config")["data"]["greeting"], "hello");
  json deploy = cluster().Get("Deployment", shop, "app");
  EXPECT_EQ(deploy["spec"]["replicas"], 2);
  // kwok made the pods Ready, so the rollout really finished.
  EXPECT_EQ(deploy["status"]["readyReplicas"], 2) << deploy.dump();
  // kubectl diff is clean now: a fresh run reports the step unchanged without applying.
  auto again = Run({"apply", "p.yaml", "--fresh"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_NE(again.out.find("[app] unchanged (kubectl diff: no changes)"), std::string::npos) << again.out;
  // The dry-run shows the exact command and the rendered manifests, and the diff probe.
  auto plan = Run({"plan", "p.yaml", "--set", "greeting=bonjour"});
  EXPECT_NE(plan.out.find("kubectl apply --server-side --field-manager=slipway -n " + shop + " -f - <<EOF"),
            std::string::npos)
      << plan.out;
  EXPECT_NE(plan.out.find("greeting: \"bonjour\""), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("probe ran: kubectl diff shows changes"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("+  greeting: bonjour"), std::string::npos) << plan.out;
  // Change a var and fail later: the ConfigMap is re-applied, then restored by the rollback.
  auto changed = Run({"apply", "p.yaml", "--set", "greeting=bonjour", "--set", "fail=yes"});
  EXPECT_EQ(changed.exit_code, 1) << changed.all();
  EXPECT_NE(changed.out.find("[app] rolled back"), std::string::npos) << changed.out;
  EXPECT_EQ(cluster().Get("ConfigMap", shop, "app-config")["data"]["greeting"], "hello");
  // And with the change kept, it sticks.
  auto kept = Run({"apply", "p.yaml", "--set", "greeting=bonjour"});
  ASSERT_EQ(kept.exit_code, 0) << kept.all();
  EXPECT_EQ(cluster().Get("ConfigMap", shop, "app-config")["data"]["greeting"], "bonjour");
}

TEST_F(K8sKindsOnRealClusterTest, RollingUpdateOfTheImageFinishesAndAFailedGateRollsTheImageBack) {
  std::string shop = Namespace("shop");
  Write("manifests/app.yaml", kAppManifest);
  Write("p.yaml", AppPlan(shop));
  ASSERT_EQ(Run({"apply", "p.yaml"}).exit_code, 0);
  auto update = Run({"apply", "p.yaml", "--set", "tag=2"});
  ASSERT_EQ(update.exit_code, 0) << update.all();
  json deploy = cluster().Get("Deployment", shop, "app");
  EXPECT_EQ(deploy["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example.com/app:2");
  EXPECT_EQ(deploy["status"]["updatedReplicas"], 2) << deploy.dump();
  EXPECT_EQ(deploy["metadata"]["generation"], 2) << deploy.dump();
  // A third revision whose smoke test fails: the rollback re-applies revision 2 and it rolls out again.
  auto failed = Run({"apply", "p.yaml", "--set", "tag=3", "--set", "fail=yes"});
  EXPECT_EQ(failed.exit_code, 1) << failed.all();
  deploy = cluster().Get("Deployment", shop, "app");
  EXPECT_EQ(deploy["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example.com/app:2") << deploy.dump();
}

// An HPA owns spec.replicas (the real HPA controller scales the Deployment to its minReplicas through
// the scale subresource). A failed run's rollback re-applies only the fields slipway owned, so the
// replicas stay the HPA's, and the next forward apply does not reset them (issue 12.11).
constexpr const char* kHpaManifest = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: {{ namespace }}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
        - {name: app, image: "registry.example.com/app:{{ tag }}", resources: {requests: {cpu: 10m}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: app
  namespace: {{ namespace }}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: app}
  minReplicas: 3
  maxReplicas: 6
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
)";

TEST_F(K8sKindsOnRealClusterTest, RollbackRestoresOnlySlipwaysFieldsSoTheHpaKeepsTheReplicas) {
  std::string shop = Namespace("shop");
  Kubectl({"create", "namespace", shop});
  Write("manifests/app.yaml", kHpaManifest);
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: hpa}
vars: {namespace: )" + shop + R"(, tag: "1", fail: "no"}
steps:
  - id: app
    uses: k8s.apply
    with: {manifests: ["manifests/*.yaml"], namespace: "{{ vars.namespace }}"}
  - id: gate
    needs: [app]
    run: [test, "{{ vars.fail }}", "=", "no"]
)");
  ASSERT_EQ(Run({"apply", "p.yaml"}).exit_code, 0);
  auto replicas = [&] { return cluster().Get("Deployment", shop, "app")["spec"].value("replicas", -1); };
  for (int i = 0; i < 300 && replicas() != 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(replicas(), 3) << "the HPA controller did not scale the Deployment to minReplicas";
  auto owners = [&] {
    auto out = Kubectl({"get", "deployment", "app", "-n", shop, "-o", "json", "--show-managed-fields"});
    std::string slipway;
    const json deployment = json::parse(out);
    for (const auto& mf : deployment["metadata"]["managedFields"])
      if (mf["manager"] == "slipway") slipway += mf["fieldsV1"].dump();
    return slipway;
  };
  // A new image, then a failing gate: the rollback puts image 1 back and leaves the replicas alone.
  auto failed = Run({"apply", "p.yaml", "--set", "tag=2", "--set", "fail=yes"});
  EXPECT_EQ(failed.exit_code, 1) << failed.all();
  json d = cluster().Get("Deployment", shop, "app");
  EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example.com/app:1") << d.dump();
  EXPECT_EQ(d["spec"]["replicas"], 3) << d.dump();
  EXPECT_EQ(owners().find("f:replicas"), std::string::npos) << "slipway took spec.replicas over: " << owners();
  // The next forward apply keeps them too.
  auto next = Run({"apply", "p.yaml", "--set", "tag=3"});
  ASSERT_EQ(next.exit_code, 0) << next.all();
  EXPECT_EQ(replicas(), 3);
  EXPECT_EQ(cluster().Get("Deployment", shop, "app")["spec"]["template"]["spec"]["containers"][0]["image"],
            "registry.example.com/app:3");
}

TEST_F(K8sKindsOnRealClusterTest, ApplyOfAStuckRolloutFailsAndRemovesWhatItCreated) {
  std::string shop = Namespace("shop");
  Write("manifests/app.yaml", kAppManifest);
  Write("p.yaml", AppPlan(shop));
  // More CPU than the node has: the pods stay Pending and the rollout cannot finish.
  auto r = Run({"apply", "p.yaml", "--set", "cpu=1000", "--set", "wait=3s"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.out.find("did not become ready"), std::string::npos) << r.out;
  EXPECT_TRUE(cluster().Get("Deployment", shop, "app").is_null());
  EXPECT_TRUE(cluster().Get("ConfigMap", shop, "app-config").is_null());
}

TEST_F(K8sKindsOnRealClusterTest, AManifestTheApiServerRejectsFailsWithItsValidationMessage) {
  std::string shop = Namespace("shop");
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: bad}
steps:
  - id: namespace
    uses: k8s.namespace
    with: {name: )" + shop + R"(}
  - id: app
    needs: [namespace]
    uses: k8s.apply
    with:
      namespace: )" + shop + R"(
      inline: |
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: -1
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: other}}
            spec: {containers: [{name: web, image: "web:1"}]}
)");
  auto r = Run({"apply", "p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.all().find("spec.replicas: Invalid value: -1"), std::string::npos) << r.all();
  EXPECT_NE(r.all().find("`selector` does not match template `labels`"), std::string::npos) << r.all();
  // The namespace this run created goes again.
  json ns = cluster().Get("Namespace", "", shop);
  EXPECT_TRUE(ns.is_null() || ns["metadata"].contains("deletionTimestamp")) << ns.dump();
}

TEST_F(K8sKindsOnRealClusterTest, DriftMadeByHandIsShownAndTakenOverOnlyWithForceConflicts) {
  std::string shop = Namespace("shop");
  Write("manifests/app.yaml", kAppManifest);
  std::string plan_text = AppPlan(shop);
  plan_text.replace(plan_text.find("namespace: \"{{ vars.namespace }}\", wait:"), 0,
                    "force_conflicts: \"{{ vars.force }}\", ");
  plan_text.replace(plan_text.find("fail: \"no\""), 0, "force: \"false\", ");
  Write("p.yaml", plan_text);
  ASSERT_EQ(Run({"apply", "p.yaml"}).exit_code, 0);
  // Someone changes a field slipway applied: the API server now records another field manager for it.
  Kubectl({"patch", "configmap", "app-config", "-n", shop, "--type=merge", "-p", R"({"data":{"greeting":"hacked"}})"});
  auto plan = Run({"plan", "p.yaml", "--fresh"});
  EXPECT_EQ(plan.exit_code, 0) << plan.all();
  EXPECT_NE(plan.out.find("probe ran: kubectl diff shows changes to fields another field manager owns (conflict with "
                          "\"kubectl-patch\" using v1: .data.greeting); apply fails unless with.force_conflicts: true "
                          "takes them over"),
            std::string::npos)
      << plan.out;
  EXPECT_NE(plan.out.find("-  greeting: hacked"), std::string::npos) << plan.out;
  EXPECT_EQ(plan.out.find("cluster unreachable"), std::string::npos) << plan.out;
  // Without force_conflicts the apply refuses and says why; nothing is changed.
  auto refused = Run({"apply", "p.yaml", "--fresh"});
  EXPECT_EQ(refused.exit_code, 1) << refused.all();
  EXPECT_NE(refused.out.find("fields of the live objects are owned by another field manager (conflict with "
                             "\"kubectl-patch\" using v1: .data.greeting)"),
            std::string::npos)
      << refused.out;
  EXPECT_EQ(cluster().Get("ConfigMap", shop, "app-config")["data"]["greeting"], "hacked");
  auto forced = Run({"apply", "p.yaml", "--fresh", "--set", "force=true"});
  ASSERT_EQ(forced.exit_code, 0) << forced.all();
  EXPECT_EQ(cluster().Get("ConfigMap", shop, "app-config")["data"]["greeting"], "hello");
}

TEST_F(K8sKindsOnRealClusterTest, WaitStepAndClusterPrereq) {
  std::string shop = Namespace("shop");
  Kubectl({"create", "namespace", shop});
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: wait}
steps:
  - id: prereqs
    uses: prereq
    with: {tools: {kubectl: ">=1.34"}, cluster: true}
  - id: app
    needs: [prereqs]
    uses: k8s.apply
    with:
      inline: |
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: api, namespace: )" + shop + R"(}
        spec:
          replicas: 2
          selector: {matchLabels: {app: api}}
          template:
            metadata: {labels: {app: api}}
            spec: {containers: [{name: api, image: "api:1"}]}
  - id: ready
    needs: [app]
    uses: k8s.wait
    with: {resource: deployment/api, namespace: )" + shop + R"(, for: condition=Available, timeout: 60s}
)");
  auto r = Run({"apply", "p.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("[ready] succeeded"), std::string::npos) << r.out;
  // Without a cluster the prereq reports it, and the dry-run still prints the rest.
  Write("missing-kubeconfig", "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "
                              "\"http://127.0.0.1:9\"}}]\ncontexts: [{name: c, context: {cluster: c}}]\ncurrent-context: c\n");
  std::map<std::string, std::string> nowhere{{"KUBECONFIG", Path("missing-kubeconfig").string()}};
  auto dry = Run({"plan", "p.yaml", "--fresh"}, nowhere);
  EXPECT_EQ(dry.exit_code, 0) << dry.all();
  EXPECT_NE(dry.out.find("cluster: not checked: cluster unreachable"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("kubectl wait --for=condition=Available deployment/api --timeout=60s -n " + shop),
            std::string::npos)
      << dry.out;
  auto apply = Run({"apply", "p.yaml", "--fresh"}, nowhere);
  EXPECT_EQ(apply.exit_code, 1);
  EXPECT_NE(apply.out.find("cluster unreachable through the current context"), std::string::npos) << apply.out;
}

TEST_F(K8sKindsOnRealClusterTest, WaitForAConditionThatNeverHoldsTimesOutAndNamesTheResource) {
  std::string shop = Namespace("shop");
  Kubectl({"create", "namespace", shop});
  Kubectl({"create", "deployment", "api", "--image=api:1", "-n", shop});
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: wait}
steps:
  - id: ready
    uses: k8s.wait
    with: {resource: deployment/api, namespace: )" + shop + R"(, for: condition=Progressing=False, timeout: 2s}
)");
  auto r = Run({"apply", "p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.all().find("deployment/api"), std::string::npos) << r.all();
  EXPECT_NE(r.all().find("timed out"), std::string::npos) << r.all();
}

}  // namespace
}  // namespace slipway::test
