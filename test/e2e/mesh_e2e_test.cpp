// mesh.istio and mesh.linkerd through the built binary: the REAL kubectl against the in-repo Kubernetes
// API test server (test/support/kube/kube_api_server.py — not a real cluster), the REAL openssl, and
// recording FAKES of istioctl and linkerd (test/support/fakes/) that assert every argv and play back
// canned outputs shaped like istioctl 1.22.3 and linkerd stable-2.14.10.
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "support/e2e_harness.h"
#include "test/support/kube/kube_test_server.h"
#include "test/support/kube/run_capture.h"

#include "test/support/fakes/fake_tools.h"

namespace slipway::test {
using MeshFakeTools = FakeTools;
}

namespace slipway::test {
namespace {

using nlohmann::json;
using Argv = std::vector<std::string>;

// A test directory with the API test server and the fake tools on PATH.
class MeshTestBase : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    std::filesystem::create_directories(Path("kube"));
    std::filesystem::create_directories(Path("fakes"));
    KubeTestServerOptions options;
    options.dir = Path("kube");
    auto s = KubeTestServer::Start(options);
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::make_unique<KubeTestServer>(std::move(*s));
    fakes_ = std::make_unique<MeshFakeTools>(Path("fakes"));
    for (const auto& kv : server_->Env()) env_[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
    for (const auto& kv : fakes_->Env()) env_[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
  }
  void TearDown() override {
    if (server_) server_->Stop();
    TempDirTest::TearDown();
  }
  CliResult Run(std::vector<std::string> args) { return Slipway(std::move(args), env_); }
  bool Contains(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }
  std::string StateDir(const std::string& kind, const std::string& id = "mesh") {
    return (dir_ / ".slipway" / kind / id).string();
  }
  void CreateNamespace(const std::string& name) {
    auto r = server_->Request("POST", "/api/v1/namespaces",
                              json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}}.dump());
    ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error().message);
  }

  std::unique_ptr<KubeTestServer> server_;
  std::unique_ptr<MeshFakeTools> fakes_;
  std::map<std::string, std::string> env_;
};

// ---------------------------------------------------------------------------------------------- istio

// The mesh step, then a step that writes the mesh's outputs to outputs.txt and fails when vars.fail != no.
constexpr const char* kIstioPlan = R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: mesh}
vars: {fail: "no"}
steps:
  - id: mesh
    uses: mesh.istio
    with:
      version: "1.22"
      profile: default
      namespace: shop
      mtls: STRICT
      authorization: [templates/mesh/authorization-policy.yaml]
      values: {istiod_max_replicas: 4, ingress_nlb: true, authz_allowed_namespaces: [monitoring]}
      timeout: 2m
  - id: after
    needs: [mesh]
    run: [sh, -c, 'printf "%s\n" "$1" "$2" "$3" > outputs.txt; test "$4" = no', sh,
          "{{ steps.mesh.outputs.version }}", "{{ steps.mesh.outputs.installed }}", "{{ steps.mesh.outputs.mtls }}",
          "{{ vars.fail }}"]
)";

class MeshIstioWithRecordingFakeIstioctlTest : public MeshTestBase {
 protected:
  void SetUp() override {
    MeshTestBase::SetUp();
    if (HasFatalFailure()) return;
    CreateNamespace("shop");
    Write("p.yaml", kIstioPlan);
  }
  std::string Overlay() { return StateDir("mesh-istio") + "/istio-operator.yaml"; }
  Argv Install() { return {"install", "-y", "-f", Overlay(), "--set", "profile=default"}; }
  void ExpectVersion(bool mesh) {
    fakes_->ExpectCanned("istioctl", {"version", "-o", "json"}, "istioctl.version_json", {{"mesh", mesh}});
  }
  // check, then apply: each looks at the mesh once.
  void ExpectFreshInstall() {
    ExpectVersion(false);
    ExpectVersion(false);
    fakes_->ExpectCanned("istioctl", Install(), "istioctl.install", {{"egress", true}});
    fakes_->ExpectCanned("istioctl", {"verify-install", "-f", Overlay()}, "istioctl.verify_install");
  }
  void ExpectPurge() { fakes_->ExpectCanned("istioctl", {"uninstall", "--purge", "-y"}, "istioctl.uninstall_purge"); }
  json PeerAuthentication() { return server_->Find("PeerAuthentication", "shop", "default"); }
};

TEST_F(MeshIstioWithRecordingFakeIstioctlTest, FreshInstallEnforcesStrictMtlsThenRerunIsUnchangedWithoutInstalling) {
  ExpectFreshInstall();
  auto r = Run({"apply", "p.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  json pa = PeerAuthentication();
  ASSERT_TRUE(pa.is_object()) << server_->Objects().dump();
  EXPECT_EQ(pa["spec"]["mtls"]["mode"], "STRICT");
  EXPECT_EQ(pa["metadata"]["labels"]["app.kubernetes.io/managed-by"], "slipway");
  json authz = server_->Find("AuthorizationPolicy", "shop", "allow-in-namespace");
  ASSERT_TRUE(authz.is_object()) << server_->Objects().dump();
  EXPECT_EQ(authz["spec"]["rules"][0]["from"][0]["source"]["namespaces"], json::array({"shop", "monitoring"}));
  EXPECT_EQ(Lines("outputs.txt"), (std::vector<std::string>{"1.22.3", "true", "STRICT"}));
  // The overlay handed to istioctl: HA istiod with the HPA from values (max overridden to 4), both gateways.
  std::string overlay = Read(".slipway/mesh-istio/mesh/istio-operator.yaml");
  EXPECT_TRUE(Contains(overlay, "      autoscaleMin: 2\n      autoscaleMax: 4\n")) << overlay;
  EXPECT_TRUE(Contains(overlay, "      - name: istio-egressgateway\n        enabled: true\n")) << overlay;
  EXPECT_TRUE(Contains(overlay, "        sampling: 10.0\n")) << overlay;
  EXPECT_TRUE(Contains(overlay, "            type: LoadBalancer\n          serviceAnnotations:\n"
                                "            service.beta.kubernetes.io/aws-load-balancer-type: nlb\n"))
      << overlay;
  EXPECT_TRUE(Contains(r.out, "[mesh] succeeded")) << r.out;

  // Second run: the probe finds the mesh at 1.22.3 and the policies as rendered; istioctl only answers `version`.
  ExpectVersion(true);
  auto again = Run({"apply", "p.yaml"});  // probed on every run, whatever the checkpoint says
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_TRUE(Contains(again.out, "[mesh] unchanged (Istio 1.22.3 installed; PeerAuthentication default -n shop "
                                  "mtls STRICT; 1 AuthorizationPolicy present)"))
      << again.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("istioctl").size(), 5u);  // 4 of the install run + 1 probe; no second install

  // Someone relaxes the policy: the probe sees it and the step puts STRICT back without reinstalling.
  auto patched = server_->Request("PATCH", "/apis/security.istio.io/v1/namespaces/shop/peerauthentications/default",
                                  R"({"spec":{"mtls":{"mode":"PERMISSIVE"}}})", "application/merge-patch+json");
  ASSERT_TRUE(patched && patched->status == 200) << (patched ? patched->body : patched.error().message);
  ExpectVersion(true);
  ExpectVersion(true);
  auto fixed = Run({"apply", "p.yaml"});
  ASSERT_EQ(fixed.exit_code, 0) << fixed.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(PeerAuthentication()["spec"]["mtls"]["mode"], "STRICT");
  EXPECT_EQ(Lines("outputs.txt"), (std::vector<std::string>{"1.22.3", "false", "STRICT"}));
}

TEST_F(MeshIstioWithRecordingFakeIstioctlTest, FailingIstioctlInstallExitsOneWithItsErrorAndPurgesThePartialMesh) {
  ExpectVersion(false);
  ExpectVersion(false);
  fakes_->ExpectCanned("istioctl", Install(), "istioctl.install_failed");
  ExpectPurge();
  auto r = Run({"apply", "p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(r.all(), "istioctl install -y -f ...: exit 1: Error: failed to install manifests: errors "
                                "occurred during operation: failed to wait for resource: resources not ready after "
                                "5m0s: context deadline exceeded"))
      << r.all();
  EXPECT_TRUE(Contains(r.all(), "(removed the control plane and the policies this attempt installed)")) << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_TRUE(PeerAuthentication().is_null()) << "no policy is applied when the install fails";
}

TEST_F(MeshIstioWithRecordingFakeIstioctlTest, LaterFailureUninstallsWithPurgeAndDeletesThePolicies) {
  ExpectFreshInstall();
  ExpectPurge();
  auto r = Run({"apply", "p.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(r.out, "[mesh] rolled back")) << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("istioctl").back(), (Argv{"uninstall", "--purge", "-y"}));
  EXPECT_TRUE(PeerAuthentication().is_null()) << server_->Objects().dump();
  EXPECT_TRUE(server_->Find("AuthorizationPolicy", "shop", "allow-in-namespace").is_null());
}

TEST_F(MeshIstioWithRecordingFakeIstioctlTest, ExistingMeshIsNotUninstalledOnRollbackAndItsPolicyIsRestored) {
  auto pre = server_->Request(
      "POST", "/apis/security.istio.io/v1/namespaces/shop/peerauthentications",
      R"({"apiVersion":"security.istio.io/v1","kind":"PeerAuthentication","metadata":{"name":"default","namespace":"shop"},"spec":{"mtls":{"mode":"PERMISSIVE"}}})");
  ASSERT_TRUE(pre && pre->status == 201) << (pre ? pre->body : pre.error().message);
  // The mesh is there at the wanted version: no install, no verify-install, and above all no uninstall.
  ExpectVersion(true);
  ExpectVersion(true);
  auto r = Run({"apply", "p.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_EQ(Lines("outputs.txt"), (std::vector<std::string>{"1.22.3", "false", "STRICT"}));
  EXPECT_TRUE(Contains(r.out, "[mesh] rolled back")) << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("istioctl"), (std::vector<Argv>{{"version", "-o", "json"}, {"version", "-o", "json"}}));
  json pa = PeerAuthentication();
  ASSERT_TRUE(pa.is_object()) << "the policy that was there before must survive the rollback";
  EXPECT_EQ(pa["spec"]["mtls"]["mode"], "PERMISSIVE");
  EXPECT_TRUE(server_->Find("AuthorizationPolicy", "shop", "allow-in-namespace").is_null());
}

TEST_F(MeshIstioWithRecordingFakeIstioctlTest, IstiodThatDoesNotAnswerIsInstalledOverButNeverPurged) {
  CreateNamespace("istio-system");
  auto pre = server_->Request("POST", "/apis/apps/v1/namespaces/istio-system/deployments", R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "istiod", "labels": {"app": "istiod"}, "annotations": {"slipway.test/stuck": "true"}},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "istiod"}},
             "template": {"metadata": {"labels": {"app": "istiod"}},
                          "spec": {"containers": [{"name": "discovery", "image": "istio/pilot:1.22.3"}]}}}})");
  ASSERT_TRUE(pre && pre->status == 201) << (pre ? pre->body : pre.error().message);
  ExpectVersion(false);
  ExpectVersion(false);
  fakes_->ExpectCanned("istioctl", Install(), "istioctl.install_failed");  // and no uninstall --purge after it
  auto r = Run({"apply", "p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(r.out, "istiod Deployments exist in istio-system although no control plane answers")) << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("istioctl").size(), 3u);
  EXPECT_TRUE(server_->Find("Deployment", "istio-system", "istiod").is_object());
}

TEST_F(MeshIstioWithRecordingFakeIstioctlTest, DryRunShowsCommandsAndRenderedManifestsWithoutRunningThem) {
  ExpectVersion(false);
  auto r = Run({"plan", "p.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("istioctl"), (std::vector<Argv>{{"version", "-o", "json"}}));  // the read-only probe only
  EXPECT_TRUE(Contains(r.out, "probe ran: would install Istio 1.22 (profile default); would create PeerAuthentication/"
                              "default -n shop; would create AuthorizationPolicy/allow-in-namespace -n shop"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "istioctl install -y -f " + Overlay() + " --set profile=default")) << r.out;
  EXPECT_TRUE(Contains(r.out, "istioctl verify-install -f " + Overlay())) << r.out;
  EXPECT_TRUE(Contains(r.out, "kubectl apply --server-side --field-manager=slipway --force-conflicts -f - <<EOF"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "autoscaleMax: 4")) << r.out;
  EXPECT_TRUE(Contains(r.out, "    mode: STRICT")) << r.out;
  EXPECT_TRUE(Contains(r.out, "kubectl get peerauthentication default -n shop -o json")) << r.out;
  EXPECT_FALSE(std::filesystem::exists(Overlay())) << "a dry-run writes nothing";
  EXPECT_TRUE(PeerAuthentication().is_null());
}

// -------------------------------------------------------------------------------------------- linkerd

constexpr const char* kLinkerdPlan = R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: mesh}
vars: {fail: "no"}
steps:
  - id: mesh
    uses: mesh.linkerd
    with: {version: stable-2.14, cert_validity: 720h, timeout: 2m}
  - id: after
    needs: [mesh]
    run: [sh, -c, 'printf "%s\n" "$1" "$2" "$3" > outputs.txt; test "$4" = no', sh,
          "{{ steps.mesh.outputs.version }}", "{{ steps.mesh.outputs.installed }}",
          "{{ steps.mesh.outputs.trust_anchor_fingerprint }}", "{{ vars.fail }}"]
)";

class MeshLinkerdWithRecordingFakeLinkerdTest : public MeshTestBase {
 protected:
  void SetUp() override {
    MeshTestBase::SetUp();
    if (HasFatalFailure()) return;
    Write("p.yaml", kLinkerdPlan);
  }
  std::string Cert(const std::string& name) { return StateDir("mesh-linkerd") + "/" + name; }
  Argv Install() {
    return {"install", "--identity-trust-anchors-file", Cert("ca.crt"), "--identity-issuer-certificate-file",
            Cert("issuer.crt"), "--identity-issuer-key-file", Cert("issuer.key")};
  }
  void ExpectVersion(bool server) {
    fakes_->ExpectCanned("linkerd", {"version"}, "linkerd.version", {{"server", server}});
  }
  void ExpectInstallUpToCheck() {
    ExpectVersion(false);
    ExpectVersion(false);
    fakes_->ExpectCanned("linkerd", {"install", "--crds"}, "linkerd.install_crds");
    fakes_->ExpectCanned("linkerd", Install(), "linkerd.install");
  }
  void ExpectUninstall() { fakes_->ExpectCanned("linkerd", {"uninstall"}, "linkerd.uninstall"); }
  RunResult Openssl(const Argv& args) {
    Argv argv{"openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCapture(argv);
  }
  static unsigned Mode(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0xFFFF;
  }
};

TEST_F(MeshLinkerdWithRecordingFakeLinkerdTest, InstallGeneratesCertificatesAppliesManifestsAndRerunReusesThem) {
  ExpectInstallUpToCheck();
  fakes_->ExpectCanned("linkerd", {"check"}, "linkerd.check");
  auto r = Run({"apply", "p.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  // The certificates: keys only for their owner, the issuer a CA signed by the anchor.
  for (const char* f : {"ca.crt", "ca.key", "issuer.crt", "issuer.key"})
    EXPECT_TRUE(std::filesystem::exists(Cert(f))) << f;
  EXPECT_EQ(Mode(Cert("ca.key")), 0600u);
  EXPECT_EQ(Mode(Cert("issuer.key")), 0600u);
  auto verify = Openssl({"verify", "-CAfile", Cert("ca.crt"), Cert("issuer.crt")});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_EQ(verify.out, Cert("issuer.crt") + ": OK\n");
  auto issuer = Openssl({"x509", "-in", Cert("issuer.crt"), "-noout", "-subject", "-issuer", "-ext", "basicConstraints"});
  EXPECT_EQ(issuer.out,
            "subject=CN = identity.linkerd.cluster.local\nissuer=CN = root.linkerd.cluster.local\n"
            "X509v3 Basic Constraints: critical\n    CA:TRUE, pathlen:0\n");
  auto anchor = Openssl({"x509", "-in", Cert("ca.crt"), "-noout", "-subject", "-ext", "basicConstraints"});
  EXPECT_EQ(anchor.out, "subject=CN = root.linkerd.cluster.local\nX509v3 Basic Constraints: critical\n    CA:TRUE\n");
  auto algo = Openssl({"x509", "-in", Cert("ca.crt"), "-noout", "-text"});
  EXPECT_TRUE(Contains(algo.out, "ASN1 OID: prime256v1")) << algo.out;
  auto days = Openssl({"x509", "-in", Cert("issuer.crt"), "-noout", "-checkend", std::to_string(29 * 86400)});
  EXPECT_EQ(days.exit_code, 0) << "720h of validity outlast 29 days";
  auto past = Openssl({"x509", "-in", Cert("issuer.crt"), "-noout", "-checkend", std::to_string(31 * 86400)});
  EXPECT_EQ(past.exit_code, 1) << "720h of validity end before 31 days";
  auto fp = Openssl({"x509", "-in", Cert("ca.crt"), "-noout", "-fingerprint", "-sha256"});
  std::string fingerprint = fp.out.substr(fp.out.find('=') + 1, 95);
  EXPECT_EQ(Lines("outputs.txt"), (std::vector<std::string>{"stable-2.14.10", "true", fingerprint}));
  // The manifests reached the API server through the real kubectl.
  EXPECT_TRUE(server_->Find("CustomResourceDefinition", "", "serviceprofiles.linkerd.io").is_object());
  EXPECT_TRUE(server_->Find("Deployment", "linkerd", "linkerd-identity").is_object()) << server_->Objects().dump();
  // Key material is never printed or logged.
  std::string key_text = Read(".slipway/mesh-linkerd/mesh/issuer.key");
  std::string key_body = key_text.substr(key_text.find('\n') + 1, 40);
  std::string log = Read(".slipway/logs/mesh/mesh.log");
  for (const std::string& secret : {key_body, std::string("LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCg==")}) {
    EXPECT_FALSE(Contains(r.all(), secret)) << secret;
    EXPECT_FALSE(Contains(log, secret)) << secret;
  }
  EXPECT_FALSE(Contains(log, "PRIVATE KEY")) << log;

  // A second run finds the control plane: unchanged, and the certificates stay as they are.
  std::string ca_before = Read(".slipway/mesh-linkerd/mesh/ca.crt");
  ExpectVersion(true);
  auto again = Run({"apply", "p.yaml"});  // probed on every run, whatever the checkpoint says
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_TRUE(Contains(again.out, "[mesh] unchanged (linkerd stable-2.14.10 installed)")) << again.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(Read(".slipway/mesh-linkerd/mesh/ca.crt"), ca_before);
}

TEST_F(MeshLinkerdWithRecordingFakeLinkerdTest, FailingLinkerdCheckExitsOneAndRemovesTheFreshInstall) {
  ExpectInstallUpToCheck();
  fakes_->ExpectCanned("linkerd", {"check"}, "linkerd.check_failed");
  ExpectUninstall();
  auto r = Run({"apply", "p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(r.all(), "linkerd check: exit 1:")) << r.all();
  EXPECT_TRUE(Contains(r.all(), "Status check results are \u00d7")) << r.all();
  EXPECT_TRUE(Contains(r.all(), "(removed what this attempt installed: linkerd uninstall | kubectl delete)")) << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_TRUE(server_->Find("Namespace", "", "linkerd").is_null()) << server_->Objects().dump();
  EXPECT_TRUE(server_->Find("CustomResourceDefinition", "", "serviceprofiles.linkerd.io").is_null());
}

TEST_F(MeshLinkerdWithRecordingFakeLinkerdTest, LaterFailureRollsBackTheFreshInstall) {
  ExpectInstallUpToCheck();
  fakes_->ExpectCanned("linkerd", {"check"}, "linkerd.check");
  ExpectUninstall();
  auto r = Run({"apply", "p.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(r.out, "[mesh] rolled back")) << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("linkerd").back(), (Argv{"uninstall"}));
  EXPECT_TRUE(server_->Find("Namespace", "", "linkerd").is_null()) << server_->Objects().dump();
  EXPECT_TRUE(server_->Find("Deployment", "linkerd", "linkerd-identity").is_null());
}

TEST_F(MeshLinkerdWithRecordingFakeLinkerdTest, OlderControlPlaneIsUpgradedAndNotUninstalledOnRollback) {
  Write("p.yaml", std::string(kLinkerdPlan).replace(std::string(kLinkerdPlan).find("stable-2.14,"), 12,
                                                    "stable-2.14.10,"));
  json older{{"argv", {"version"}}, {"stdout", "Client version: stable-2.14.10\nServer version: stable-2.13.7\n"}};
  fakes_->Expect("linkerd", older);
  fakes_->Expect("linkerd", older);
  fakes_->ExpectCanned("linkerd", {"upgrade", "--crds"}, "linkerd.install_crds");
  fakes_->ExpectCanned("linkerd", {"upgrade"}, "linkerd.install");
  fakes_->ExpectCanned("linkerd", {"check"}, "linkerd.check");
  auto r = Run({"apply", "p.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(r.out, "[mesh] succeeded in")) << r.out;
  EXPECT_TRUE(Contains(r.out, "upgraded linkerd stable-2.13.7 to stable-2.14.10")) << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("linkerd").size(), 5u) << "no linkerd uninstall: the mesh was there before this run";
  EXPECT_TRUE(server_->Find("Namespace", "", "linkerd").is_object());
  EXPECT_FALSE(std::filesystem::exists(StateDir("mesh-linkerd"))) << "an upgrade keeps the cluster's certificates";
  EXPECT_EQ(Lines("outputs.txt"), (std::vector<std::string>{"stable-2.14.10", "false"}));
}

TEST_F(MeshLinkerdWithRecordingFakeLinkerdTest, NamespaceWithoutAnsweringControlPlaneIsLeftToTheOperator) {
  CreateNamespace("linkerd");
  ExpectVersion(false);
  ExpectVersion(false);
  auto r = Run({"apply", "p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(r.out, "namespace linkerd exists but `linkerd version` reports no control plane")) << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("linkerd").size(), 2u) << "neither install nor uninstall";
  EXPECT_TRUE(server_->Find("Namespace", "", "linkerd").is_object());
  EXPECT_FALSE(std::filesystem::exists(StateDir("mesh-linkerd")));
}

TEST_F(MeshLinkerdWithRecordingFakeLinkerdTest, GivenCertificatesArePassedAsIsAndNothingIsGenerated) {
  // Certificates made beforehand (by the real openssl, as an operator would).
  std::filesystem::create_directories(Path("certs"));
  std::string d = Path("certs").string();
  auto cnf = d + "/x.cnf";
  Write("certs/x.cnf", "[req]\ndistinguished_name = dn\n[dn]\n[ca]\nbasicConstraints = critical,CA:TRUE\n");
  for (const Argv& a : std::vector<Argv>{
           {"ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", d + "/ca.key"},
           {"req", "-x509", "-new", "-key", d + "/ca.key", "-days", "2", "-subj", "/CN=root.linkerd.cluster.local",
            "-config", cnf, "-extensions", "ca", "-out", d + "/ca.crt"},
           {"ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", d + "/issuer.key"},
           {"req", "-x509", "-new", "-key", d + "/issuer.key", "-days", "2", "-subj",
            "/CN=identity.linkerd.cluster.local", "-config", cnf, "-extensions", "ca", "-out", d + "/issuer.crt"}}) {
    auto made = Openssl(a);
    ASSERT_EQ(made.exit_code, 0) << made.err;
  }
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: mesh}
steps:
  - id: mesh
    uses: mesh.linkerd
    with:
      ha: true
      trust_anchor: {cert: certs/ca.crt}
      issuer: {cert: certs/issuer.crt, key: certs/issuer.key}
)");
  ExpectVersion(false);
  ExpectVersion(false);
  fakes_->ExpectCanned("linkerd", {"install", "--crds"}, "linkerd.install_crds");
  fakes_->ExpectCanned("linkerd",
                       {"install", "--identity-trust-anchors-file", d + "/ca.crt", "--identity-issuer-certificate-file",
                        d + "/issuer.crt", "--identity-issuer-key-file", d + "/issuer.key", "--ha"},
                       "linkerd.install");
  fakes_->ExpectCanned("linkerd", {"check"}, "linkerd.check");
  auto r = Run({"apply", "p.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_FALSE(std::filesystem::exists(StateDir("mesh-linkerd"))) << "nothing is generated when both are given";
}

TEST_F(MeshLinkerdWithRecordingFakeLinkerdTest, DryRunShowsOpensslAndLinkerdCommandsWithoutRunningThem) {
  ExpectVersion(false);
  auto r = Run({"plan", "p.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("linkerd"), (std::vector<Argv>{{"version"}}));
  EXPECT_TRUE(Contains(r.out, "probe ran: would install linkerd stable-2.14 with generated certificates in " +
                                  StateDir("mesh-linkerd")))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "openssl ecparam -name prime256v1 -genkey -noout -out " + Cert("ca.key"))) << r.out;
  EXPECT_TRUE(Contains(r.out, "-days 30 -subj /CN=root.linkerd.cluster.local")) << r.out;
  EXPECT_TRUE(Contains(r.out, "linkerd install --crds | kubectl apply --server-side --field-manager=slipway -f -"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "linkerd install --identity-trust-anchors-file " + Cert("ca.crt") +
                                  " --identity-issuer-certificate-file " + Cert("issuer.crt") +
                                  " --identity-issuer-key-file " + Cert("issuer.key") +
                                  " | kubectl apply --server-side --field-manager=slipway -f -"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "linkerd check")) << r.out;
  EXPECT_FALSE(std::filesystem::exists(StateDir("mesh-linkerd"))) << "a dry-run generates no certificates";
  EXPECT_TRUE(server_->Find("Namespace", "", "linkerd").is_null());
}

// ------------------------------------------------------------------------------------------ validate

class MeshValidateTest : public TempDirTest {};

TEST_F(MeshValidateTest, RejectsUnknownModeIssuerWithoutAnchorAndPoliciesWithoutNamespace) {
  Write("p.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: bad}
steps:
  - id: istio
    uses: mesh.istio
    with: {mtls: STRIKT, authorization: [templates/mesh/authorization-policy.yaml], timeout: soon}
  - id: linkerd
    uses: mesh.linkerd
    with: {issuer: {cert: i.crt, key: i.key}, cert_validity: 1y}
)");
  auto r = Slipway({"validate", "p.yaml"});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  for (const char* msg :
       {"p.yaml:7:18: error: unknown mtls mode 'STRIKT'; expected STRICT or PERMISSIVE\n",
        "p.yaml:7:41: error: 'with.authorization' needs 'with.namespace'; the AuthorizationPolicies are rendered for "
        "the app namespace\n",
        "p.yaml:7:94: error: 'with.timeout': invalid duration 'soon'",
        "p.yaml:10:20: error: 'with.issuer' is given without 'with.trust_anchor'; give the anchor that signed the "
        "issuer, or neither (slipway then generates both)\n",
        "p.yaml:10:62: error: 'with.cert_validity': invalid duration '1y'", "5 errors"})
    EXPECT_TRUE(r.all().find(msg) != std::string::npos) << msg << "\n" << r.all();
}

}  // namespace
}  // namespace slipway::test
