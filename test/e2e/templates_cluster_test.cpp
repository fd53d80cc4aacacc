// Every Kubernetes manifest the shipped templates render (the plan of render_templates_plan.h, built
// slipway) sent to the REAL test cluster's apiserver with the real kubectl: `kubectl apply
// --dry-run=server`, so the built-in types' validation and the CRD schemas of Istio, the Prometheus
// Operator and Gateway API all judge them, and nothing is stored. The linkerd CRDs are not on the cluster
// (linkerd2 is not served as a module): the ServiceProfile CRD comes from the recording fake's
// `linkerd install --crds`, which declares its schema open; so that file is checked for its shape only.
#include <yaml-cpp/yaml.h>

#include "e2e/render_templates_plan.h"
#include "test/support/cluster/cluster_fakes.h"

namespace slipway::test {
namespace {

class TemplatesOnRealClusterTest : public ClusterTestWithFakes {
 protected:
  void SetUp() override {
    ClusterTestWithFakes::SetUp();
    if (HasFatalFailure()) return;
    Kubectl({"delete", "namespace", "monitoring", "observability", "--ignore-not-found", "--wait=true", "--timeout=180s"});
    RemoveLinkerd();
  }
  void TearDown() override {
    if (fakes_) {
      Kubectl({"delete", "namespace", "monitoring", "observability", "--ignore-not-found", "--wait=true", "--timeout=180s"});
      RemoveLinkerd();
    }
    ClusterTestWithFakes::TearDown();
  }
};

TEST_F(TemplatesOnRealClusterTest, EveryRenderedManifestPassesServerSideDryRun) {
  const std::string ns = Namespace("shop");
  Write("render.yaml", kRenderPlan);
  auto render = Run({"apply", "render.yaml", "--set", "namespace=" + ns});
  ASSERT_EQ(render.exit_code, 0) << render.all();
  for (const std::string& n : {ns, std::string("monitoring"), std::string("observability")})
    Kubectl({"create", "namespace", n});
  fakes_->ExpectCanned("linkerd", {"install", "--crds"}, "linkerd.install_crds");
  pipeline::ProcessSpec linkerd;
  linkerd.argv = {FakeTools::BinDir().string() + "/linkerd", "install", "--crds"};
  linkerd.env = env_;
  auto crds = pipeline::RunProcess(linkerd);
  ASSERT_TRUE(crds && crds->Ok()) << (crds ? crds->err : crds.error().message);
  Kubectl({"apply", "-f", "-"}, crds->out);

  // One kubectl for all files; its errors name the file.
  std::vector<std::string> args{"apply", "--dry-run=server"};
  size_t docs = 0;
  for (const auto& name : kManifests) {
    args.push_back("-f");
    args.push_back(Path("out/" + name + ".yaml").string());
    for (const auto& d : YAML::LoadAllFromFile(Path("out/" + name + ".yaml").string()))
      if (d && !d.IsNull()) ++docs;
  }
  auto r = cluster().Kubectl(args);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 0) << r->out << r->err;
  EXPECT_EQ(r->err.find("rror"), std::string::npos) << r->err;
  size_t dry = 0;
  for (size_t at = r->out.find("(server dry run)"); at != std::string::npos; at = r->out.find("(server dry run)", at + 1))
    ++dry;
  EXPECT_EQ(dry, docs) << r->out;
  EXPECT_EQ(docs, 32u);
  for (const std::string& line : std::vector<std::string>{
           "destinationrule.networking.istio.io/game created (server dry run)",
        "virtualservice.networking.istio.io/game created (server dry run)",
        "virtualservice.networking.istio.io/" + ns + "-public created (server dry run)",
        "gateway.networking.istio.io/" + ns + "-gateway created (server dry run)",
        "serviceprofile.linkerd.io/ingest." + ns + ".svc.cluster.local created (server dry run)",
        "prometheusrule.monitoring.coreos.com/" + ns + "-slo created (server dry run)",
        "horizontalpodautoscaler.autoscaling/auth created (server dry run)",
        "poddisruptionbudget.policy/auth created (server dry run)",
        "telemetry.telemetry.istio.io/tracing created (server dry run)",
        "httproute.gateway.networking.k8s.io/ingest-get-event created (server dry run)",
        "configmap/" + ns + "-dashboard-slo created (server dry run)"})
    EXPECT_NE(r->out.find(line), std::string::npos) << line << "\n" << r->out;
  // A dry run stores nothing.
  EXPECT_EQ(Kubectl({"get", "deployments,services,destinationrules,virtualservices", "-n", ns, "-o", "name"}), "");
  EXPECT_TRUE(cluster().Get("Namespace", "", "pipeline").is_null());
}

// The apiserver is a real judge: a manifest that breaks a CRD schema is refused, naming the field.
TEST_F(TemplatesOnRealClusterTest, AManifestThatBreaksTheIstioSchemaIsRefused) {
  const std::string ns = Namespace("shop");
  Kubectl({"create", "namespace", ns});
  auto r = cluster().Kubectl({"apply", "--dry-run=server", "-f", "-"},
                             "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: bad, namespace: " +
                                 ns + "}\nspec:\n  host: bad\n  trafficPolicy:\n    outlierDetection:\n"
                                      "      consecutive5xxErrors: many\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_NE(r->exit_code, 0) << r->out;
  EXPECT_NE(r->err.find("consecutive5xxErrors"), std::string::npos) << r->err;
}

}  // namespace
}  // namespace slipway::test
