// Proves that the real kubectl works against kube_api_server.py for everything slipway asks of it.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test/support/kube/kube_test_server.h"
#include "test/support/kube/run_capture.h"

namespace slipway::test {
namespace {

#ifndef SLIPWAY_TEST_KUBECTL
#define SLIPWAY_TEST_KUBECTL "/usr/bin/kubectl"
#endif
constexpr const char* kKubectl = SLIPWAY_TEST_KUBECTL;

constexpr const char* kAppManifest = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: shop}
data: {LOG_LEVEL: info}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web.shop.svc.cluster.local
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 5, interval: 30s}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web]
  http:
  - route:
    - destination: {host: web, subset: stable}
      weight: 90
    - destination: {host: web, subset: canary}
      weight: 10
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec:
  mtls: {mode: STRICT}
---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: web.shop.svc.cluster.local, namespace: shop}
spec:
  routes:
  - name: GET /
    condition: {method: GET, pathRegex: /}
    timeout: 1s
)";

constexpr const char* kAppliedLines =
    "deployment.apps/web serverside-applied\n"
    "service/web serverside-applied\n"
    "configmap/web-config serverside-applied\n"
    "horizontalpodautoscaler.autoscaling/web serverside-applied\n"
    "poddisruptionbudget.policy/web serverside-applied\n"
    "destinationrule.networking.istio.io/web serverside-applied\n"
    "virtualservice.networking.istio.io/web serverside-applied\n"
    "peerauthentication.security.istio.io/default serverside-applied\n"
    "serviceprofile.linkerd.io/web.shop.svc.cluster.local serverside-applied\n";

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

class KubeServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kKubectl)) GTEST_SKIP() << "kubectl not found at " << kKubectl;
    std::string base = (std::filesystem::temp_directory_path() / "slipway-kube-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(base.data()), nullptr);
    dir_ = base;
    KubeTestServerOptions options;
    options.dir = dir_;
    auto started = KubeTestServer::Start(options);
    ASSERT_TRUE(started) << started.error().message;
    server_.emplace(std::move(*started));
  }

  void TearDown() override {
    server_.reset();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  RunResult Kubectl(std::vector<std::string> args, const std::string& stdin_data = "") {
    args.insert(args.begin(), kKubectl);
    RunOptions options;
    options.env = server_->Env();
    options.stdin_data = stdin_data;
    options.timeout = std::chrono::seconds(20);
    return RunCapture(args, options);
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::filesystem::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  /// Creates a namespace straight through the API (setup, not the behaviour under test: saves a kubectl run).
  void CreateNamespace(const std::string& name) {
    auto created = server_->Request("POST", "/api/v1/namespaces", R"({"metadata":{"name":")" + name + R"("}})");
    ASSERT_TRUE(created) << created.error().message;
    ASSERT_EQ(created->status, 201) << created->body;
  }

  /// Creates namespace shop and applies kAppManifest as field manager slipway.
  void ApplyApp() {
    CreateNamespace("shop");
    RunResult applied =
        Kubectl({"apply", "--server-side", "--field-manager=slipway", "-f", Write("app.yaml", kAppManifest)});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  /// metadata.resourceVersion of every stored object, keyed by kind/namespace/name.
  std::map<std::string, std::string> Versions() {
    std::map<std::string, std::string> out;
    for (const auto& obj : server_->Objects()) {
      const auto& meta = obj["metadata"];
      out[obj["kind"].get<std::string>() + "/" + meta.value("namespace", "") + "/" +
          meta["name"].get<std::string>()] = meta["resourceVersion"];
    }
    return out;
  }

  std::filesystem::path dir_;
  std::optional<KubeTestServer> server_;
};

TEST_F(KubeServerTest, VersionReportsServerVersion) {
  RunResult r = Kubectl({"version", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto version = nlohmann::json::parse(r.out);
  EXPECT_EQ(version["serverVersion"]["gitVersion"], "v1.32.4");
  EXPECT_EQ(version["serverVersion"]["major"], "1");
  EXPECT_EQ(version["serverVersion"]["minor"], "32");
}

TEST_F(KubeServerTest, HealthEndpointsAnswerOk) {
  RunResult r = Kubectl({"get", "--raw", "/readyz"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok");
  for (const char* path : {"/livez", "/healthz"}) {  // the same code path; no need for two more kubectl runs
    auto response = server_->Request("GET", path);
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200) << path;
    EXPECT_EQ(response->body, "ok") << path;
  }
}

TEST_F(KubeServerTest, NamespaceCreateGetLabelAnnotateDelete) {
  RunResult created = Kubectl({"create", "namespace", "shop"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_EQ(created.out, "namespace/shop created\n");

  RunResult got = Kubectl({"get", "namespace", "shop", "-o", "json"});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  auto ns = nlohmann::json::parse(got.out);
  EXPECT_EQ(ns["kind"], "Namespace");
  EXPECT_EQ(ns["metadata"]["name"], "shop");
  EXPECT_EQ(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "shop");
  EXPECT_EQ(ns["status"]["phase"], "Active");

  EXPECT_EQ(Kubectl({"label", "namespace", "shop", "istio-injection=disabled"}).out, "namespace/shop labeled\n");
  RunResult no_overwrite = Kubectl({"label", "namespace", "shop", "istio-injection=enabled"});
  EXPECT_EQ(no_overwrite.exit_code, 1);
  EXPECT_EQ(no_overwrite.err, "error: 'istio-injection' already has a value (disabled), and --overwrite is false\n");
  RunResult labeled = Kubectl({"label", "namespace", "shop", "istio-injection=enabled", "--overwrite"});
  EXPECT_EQ(labeled.exit_code, 0) << labeled.err;
  EXPECT_EQ(labeled.out, "namespace/shop labeled\n");
  RunResult annotated = Kubectl({"annotate", "namespace", "shop", "owner=platform"});
  EXPECT_EQ(annotated.exit_code, 0) << annotated.err;
  EXPECT_EQ(annotated.out, "namespace/shop annotated\n");

  nlohmann::json stored = server_->Find("Namespace", "", "shop");
  EXPECT_EQ(stored["metadata"]["labels"]["istio-injection"], "enabled");
  EXPECT_EQ(stored["metadata"]["annotations"]["owner"], "platform");

  RunResult deleted = Kubectl({"delete", "namespace", "shop"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_EQ(deleted.out, "namespace \"shop\" deleted\n");
  RunResult gone = Kubectl({"get", "namespace", "shop"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_EQ(gone.err, "Error from server (NotFound): namespaces \"shop\" not found\n");
  EXPECT_TRUE(server_->Find("Namespace", "", "shop").is_null());
}

TEST_F(KubeServerTest, ServerSideApplyCreatesEveryKindOwnedBySlipway) {
  CreateNamespace("shop");
  RunResult r = Kubectl({"apply", "--server-side", "--field-manager=slipway", "-f", Write("app.yaml", kAppManifest)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kAppliedLines);
  EXPECT_EQ(r.err, "");

  struct Expect {
    const char* kind;
    const char* name;
    const char* api_version;
  };
  for (const Expect& e : {Expect{"Deployment", "web", "apps/v1"}, Expect{"Service", "web", "v1"},
                          Expect{"ConfigMap", "web-config", "v1"},
                          Expect{"HorizontalPodAutoscaler", "web", "autoscaling/v2"},
                          Expect{"PodDisruptionBudget", "web", "policy/v1"},
                          Expect{"DestinationRule", "web", "networking.istio.io/v1beta1"},
                          Expect{"VirtualService", "web", "networking.istio.io/v1beta1"},
                          Expect{"PeerAuthentication", "default", "security.istio.io/v1beta1"},
                          Expect{"ServiceProfile", "web.shop.svc.cluster.local", "linkerd.io/v1alpha2"}}) {
    nlohmann::json obj = server_->Find(e.kind, "shop", e.name);
    ASSERT_FALSE(obj.is_null()) << e.kind;
    EXPECT_EQ(obj["apiVersion"], e.api_version) << e.kind;
    ASSERT_EQ(obj["metadata"]["managedFields"].size(), 1u) << e.kind;
    EXPECT_EQ(obj["metadata"]["managedFields"][0]["manager"], "slipway") << e.kind;
    EXPECT_EQ(obj["metadata"]["managedFields"][0]["operation"], "Apply") << e.kind;
  }
  nlohmann::json deployment = server_->Find("Deployment", "shop", "web");
  EXPECT_EQ(deployment["metadata"]["generation"], 1);
  EXPECT_EQ(deployment["status"]["availableReplicas"], 2);
  EXPECT_EQ(server_->Find("PeerAuthentication", "shop", "default")["spec"]["mtls"]["mode"], "STRICT");
  EXPECT_EQ(server_->Find("Service", "shop", "web")["spec"]["clusterIP"], "10.96.0.2");
}

TEST_F(KubeServerTest, ServerSideApplyOfUnchangedManifestChangesNothing) {
  ApplyApp();
  auto before = Versions();
  RunResult again = Kubectl({"apply", "--server-side", "--field-manager=slipway", "-f", (dir_ / "app.yaml").string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, kAppliedLines);
  EXPECT_EQ(Versions(), before);
}

TEST_F(KubeServerTest, ServerSideApplyRemovesFieldsTheManagerStopsApplying) {
  ApplyApp();
  std::string without_label = Replace(kAppManifest, "  labels: {app: web}\nspec:\n  replicas: 2", "spec:\n  replicas: 2");
  ASSERT_EQ(Kubectl({"apply", "--server-side", "--field-manager=slipway", "-f", Write("v2.yaml", without_label)})
                .exit_code,
            0);
  EXPECT_FALSE(server_->Find("Deployment", "shop", "web")["metadata"].contains("labels"));
}

TEST_F(KubeServerTest, ServerDryRunStoresNothing) {
  CreateNamespace("shop");
  auto before = server_->Objects();
  RunResult r = Kubectl({"apply", "--server-side", "--dry-run=server", "--field-manager=slipway", "-f", "-"},
                        kAppManifest);  // from stdin, as slipway pipes rendered manifests
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), "deployment.apps/web serverside-applied (server dry run)");
  EXPECT_EQ(server_->Objects(), before);
}

TEST_F(KubeServerTest, DiffExitsZeroWhenNothingChangedAndOneWithTheChange) {
  ApplyApp();
  RunResult same = Kubectl({"diff", "--server-side", "--field-manager=slipway", "-f", (dir_ / "app.yaml").string()});
  EXPECT_EQ(same.exit_code, 0) << same.err;
  EXPECT_EQ(same.out, "");

  std::string changed = Replace(kAppManifest, "replicas: 2", "replicas: 3");
  RunResult diff = Kubectl({"diff", "--server-side", "--field-manager=slipway", "-f", Write("v2.yaml", changed)});
  EXPECT_EQ(diff.exit_code, 1) << diff.err;
  EXPECT_NE(diff.out.find("-  replicas: 2\n+  replicas: 3\n"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("-  generation: 1\n+  generation: 2\n"), std::string::npos) << diff.out;
  EXPECT_EQ(server_->Find("Deployment", "shop", "web")["spec"]["replicas"], 2);  // diff stored nothing
}

TEST_F(KubeServerTest, ApplyConflictWithAnotherManagerNeedsForce) {
  ApplyApp();
  ASSERT_EQ(Kubectl({"scale", "deployment/web", "-n", "shop", "--replicas=4"}).exit_code, 0);
  RunResult conflict =
      Kubectl({"apply", "--server-side", "--field-manager=slipway", "-f", (dir_ / "app.yaml").string()});
  EXPECT_EQ(conflict.exit_code, 1);
  EXPECT_EQ(conflict.err.substr(0, conflict.err.find('\n')),
            "error: Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas");
  RunResult forced = Kubectl(
      {"apply", "--server-side", "--force-conflicts", "--field-manager=slipway", "-f", (dir_ / "app.yaml").string()});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(server_->Find("Deployment", "shop", "web")["spec"]["replicas"], 2);
}

TEST_F(KubeServerTest, RolloutStatusSucceedsForRolledOutDeployment) {
  ApplyApp();
  RunResult r = Kubectl({"rollout", "status", "deployment/web", "-n", "shop", "--timeout=10s"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "deployment \"web\" successfully rolled out\n");
}

TEST_F(KubeServerTest, RolloutStatusTimesOutForStuckDeployment) {
  ApplyApp();
  ASSERT_EQ(Kubectl({"annotate", "deployment/web", "-n", "shop", "slipway.test/stuck=true"}).exit_code, 0);
  RunResult r = Kubectl({"rollout", "status", "deployment/web", "-n", "shop", "--timeout=1s"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "Waiting for deployment \"web\" rollout to finish: 0 of 2 updated replicas are available...\n");
  EXPECT_EQ(r.err, "error: timed out waiting for the condition\n");
}

TEST_F(KubeServerTest, RolloutStatusFailsAtOnceWhenProgressDeadlineExceeded) {
  ApplyApp();
  ASSERT_EQ(Kubectl({"annotate", "deployment/web", "-n", "shop", "slipway.test/failed=true"}).exit_code, 0);
  RunResult r = Kubectl({"rollout", "status", "deployment/web", "-n", "shop", "--timeout=10s"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: deployment \"web\" exceeded its progress deadline\n");
}

TEST_F(KubeServerTest, RolloutStatusWatchSeesStuckDeploymentRecover) {
  ApplyApp();
  ASSERT_EQ(Kubectl({"annotate", "deployment/web", "-n", "shop", "slipway.test/stuck=true"}).exit_code, 0);
  std::thread unstick([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    auto patched = server_->Request("PATCH", "/apis/apps/v1/namespaces/shop/deployments/web",
                                    R"({"metadata":{"annotations":{"slipway.test/stuck":null}}})",
                                    "application/merge-patch+json");
    EXPECT_TRUE(patched && patched->status == 200);
  });
  RunResult r = Kubectl({"rollout", "status", "deployment/web", "-n", "shop", "--timeout=10s"});
  unstick.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "Waiting for deployment \"web\" rollout to finish: 0 of 2 updated replicas are available...\n"
            "deployment \"web\" successfully rolled out\n");
}

TEST_F(KubeServerTest, WaitForAvailableConditionIsMet) {
  ApplyApp();
  RunResult r = Kubectl({"wait", "--for=condition=Available", "deployment/web", "-n", "shop", "--timeout=10s"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "deployment.apps/web condition met\n");
}

TEST_F(KubeServerTest, WorkloadsJobsAndPodsReportReady) {
  CreateNamespace("shop");
  constexpr const char* kWorkloads = R"(apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: shop}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: busybox}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: a, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata:
  name: p1
  namespace: shop
  annotations: {slipway.test/log: "line one\nline two"}
spec:
  containers: [{name: main, image: busybox}]
)";
  ASSERT_EQ(Kubectl({"apply", "--server-side", "--field-manager=slipway", "-f", Write("w.yaml", kWorkloads)}).exit_code,
            0);
  EXPECT_EQ(Kubectl({"wait", "--for=condition=complete", "job/migrate", "-n", "shop", "--timeout=5s"}).out,
            "job.batch/migrate condition met\n");
  EXPECT_EQ(Kubectl({"rollout", "status", "statefulset/db", "-n", "shop", "--timeout=5s"}).out,
            "partitioned roll out complete: 2 new pods have been updated...\n");
  EXPECT_EQ(Kubectl({"rollout", "status", "daemonset/agent", "-n", "shop", "--timeout=5s"}).out,
            "daemon set \"agent\" successfully rolled out\n");
  EXPECT_EQ(Kubectl({"wait", "--for=condition=Ready", "pod/p1", "-n", "shop", "--timeout=5s"}).out,
            "pod/p1 condition met\n");
  EXPECT_EQ(Kubectl({"logs", "p1", "-n", "shop"}).out, "line one\nline two\n");
}

TEST_F(KubeServerTest, CreateSubcommandsSendingProtobufWork) {
  CreateNamespace("shop");
  EXPECT_EQ(Kubectl({"create", "configmap", "c1", "-n", "shop", "--from-literal=a=1"}).out, "configmap/c1 created\n");
  EXPECT_EQ(Kubectl({"create", "secret", "generic", "s1", "-n", "shop", "--from-literal=password=hunter2"}).out,
            "secret/s1 created\n");
  EXPECT_EQ(Kubectl({"create", "serviceaccount", "deployer", "-n", "shop"}).out, "serviceaccount/deployer created\n");
  EXPECT_EQ(Kubectl({"auth", "can-i", "create", "deployments", "-n", "shop"}).out, "yes\n");
  EXPECT_EQ(server_->Find("ConfigMap", "shop", "c1")["data"], nlohmann::json({{"a", "1"}}));
  EXPECT_EQ(server_->Find("Secret", "shop", "s1")["data"]["password"], "aHVudGVyMg==");
  EXPECT_EQ(server_->Find("Secret", "shop", "s1")["type"], "Opaque");
}

TEST_F(KubeServerTest, CustomResourceDefinitionAddsAServedKind) {
  CreateNamespace("shop");
  constexpr const char* kCrd = R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: canaries.flagger.app}
spec:
  group: flagger.app
  names: {kind: Canary, plural: canaries, singular: canary}
  scope: Namespaced
  versions:
  - name: v1beta1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
)";
  constexpr const char* kCanary = R"(apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: web, namespace: shop}
spec:
  analysis: {interval: 1m, threshold: 5, stepWeight: 10}
)";
  ASSERT_EQ(Kubectl({"apply", "--server-side", "--field-manager=slipway", "-f", Write("crd.yaml", kCrd)}).exit_code, 0);
  EXPECT_EQ(Kubectl({"wait", "--for=condition=Established", "crd/canaries.flagger.app", "--timeout=5s"}).out,
            "customresourcedefinition.apiextensions.k8s.io/canaries.flagger.app condition met\n");
  RunResult applied = Kubectl({"apply", "--server-side", "--field-manager=slipway", "-f", Write("c.yaml", kCanary)});
  EXPECT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_EQ(applied.out, "canary.flagger.app/web serverside-applied\n");
  EXPECT_EQ(server_->Find("Canary", "shop", "web")["spec"]["analysis"]["stepWeight"], 10);
}

TEST_F(KubeServerTest, DeleteFromFileRemovesEveryObject) {
  ApplyApp();
  RunResult r = Kubectl({"delete", "-f", (dir_ / "app.yaml").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "deployment.apps \"web\" deleted\n"
            "service \"web\" deleted\n"
            "configmap \"web-config\" deleted\n"
            "horizontalpodautoscaler.autoscaling \"web\" deleted\n"
            "poddisruptionbudget.policy \"web\" deleted\n"
            "destinationrule.networking.istio.io \"web\" deleted\n"
            "virtualservice.networking.istio.io \"web\" deleted\n"
            "peerauthentication.security.istio.io \"default\" deleted\n"
            "serviceprofile.linkerd.io \"web.shop.svc.cluster.local\" deleted\n");
  for (const auto& obj : server_->Objects()) EXPECT_NE(obj["metadata"].value("namespace", ""), "shop") << obj.dump();
}

TEST_F(KubeServerTest, NamespaceDeletionDeletesItsObjects) {
  ApplyApp();
  ASSERT_EQ(Kubectl({"delete", "namespace", "shop"}).exit_code, 0);
  for (const auto& obj : server_->Objects()) EXPECT_NE(obj["metadata"].value("namespace", ""), "shop") << obj.dump();
}

TEST_F(KubeServerTest, NotFoundErrorsUseTheRealMessages) {
  RunResult deployment = Kubectl({"get", "deployment", "nope", "-n", "default"});
  EXPECT_EQ(deployment.exit_code, 1);
  EXPECT_EQ(deployment.err, "Error from server (NotFound): deployments.apps \"nope\" not found\n");
  RunResult in_missing_ns =
      Kubectl({"create", "configmap", "c", "-n", "missing", "--from-literal=a=b"});
  EXPECT_EQ(in_missing_ns.exit_code, 1);
  EXPECT_EQ(in_missing_ns.err, "error: failed to create configmap: namespaces \"missing\" not found\n");
  CreateNamespace("shop");
  RunResult exists = Kubectl({"create", "namespace", "shop"});
  EXPECT_EQ(exists.exit_code, 1);
  EXPECT_EQ(exists.err, "Error from server (AlreadyExists): namespaces \"shop\" already exists\n");
}

TEST_F(KubeServerTest, InjectedFaultFailsExactlyOneRequest) {
  ApplyApp();
  ASSERT_TRUE(server_->InjectFault({{"verb", "PATCH"}, {"resource", "configmaps"}, {"code", 500}, {"times", 1}}));
  RunResult failed =
      Kubectl({"apply", "--server-side", "--field-manager=slipway", "-f", (dir_ / "app.yaml").string()});
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_EQ(failed.err,
            "Error from server (InternalError): injected fault: PATCH /api/v1/namespaces/shop/configmaps/web-config\n");
  RunResult next = Kubectl({"apply", "--server-side", "--field-manager=slipway", "-f", (dir_ / "app.yaml").string()});
  EXPECT_EQ(next.exit_code, 0) << next.err;
}

TEST_F(KubeServerTest, RequestLogRecordsFieldManagerAndContentType) {
  ApplyApp();
  bool seen = false;
  for (const auto& request : server_->Requests()) {
    if (request["method"] == "PATCH" && request["path"] == "/apis/apps/v1/namespaces/shop/deployments/web") {
      seen = true;
      EXPECT_EQ(request["content_type"], "application/apply-patch+yaml");
      EXPECT_EQ(request["query"], "fieldManager=slipway&fieldValidation=Strict&force=false");
      EXPECT_EQ(request["status"], 201);
    }
  }
  EXPECT_TRUE(seen);
}

TEST(KubeTestServerUnauthorizedTest, KubectlReportsItMustLogIn) {
  if (!std::filesystem::exists(kKubectl)) GTEST_SKIP() << "kubectl not found at " << kKubectl;
  std::string base = (std::filesystem::temp_directory_path() / "slipway-kube-test-XXXXXX").string();
  ASSERT_NE(::mkdtemp(base.data()), nullptr);
  {
    KubeTestServerOptions options;
    options.dir = base;
    options.unauthorized = true;
    auto server = KubeTestServer::Start(options);
    ASSERT_TRUE(server) << server.error().message;
    RunOptions run;
    run.env = server->Env();
    RunResult r = RunCapture({kKubectl, "get", "--raw", "/readyz"}, run);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err, "error: You must be logged in to the server (Unauthorized)\n");
  }
  std::filesystem::remove_all(base);
}

TEST(KubeTestServerLifecycleTest, StopEndsTheServerAndWritesTheStateDump) {
  std::string base = (std::filesystem::temp_directory_path() / "slipway-kube-test-XXXXXX").string();
  ASSERT_NE(::mkdtemp(base.data()), nullptr);
  std::filesystem::path dump = std::filesystem::path(base) / "state.json";
  KubeTestServerOptions options;
  options.dir = base;
  options.state_dump = dump;
  auto server = KubeTestServer::Start(options);
  ASSERT_TRUE(server) << server.error().message;
  auto created = server->Request("POST", "/api/v1/namespaces", R"({"metadata":{"name":"shop"}})");
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, 201);
  server->Stop();
  std::ifstream in(dump);
  auto objects = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(objects.is_array());
  bool found = false;
  for (const auto& obj : objects) found = found || obj["metadata"]["name"] == "shop";
  EXPECT_TRUE(found);
  auto after_stop = server->Request("GET", "/version");  // nothing listens on the port any more
  ASSERT_FALSE(after_stop);
  EXPECT_EQ(after_stop.error().message,
            "connect to 127.0.0.1:" + std::to_string(server->Port()) + ": Connection refused");
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace slipway::test
