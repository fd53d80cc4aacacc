// mesh.linkerd through the built binary on the REAL test cluster (real kubectl and apiserver, kwok
// making the control plane's pods Ready), the REAL openssl, and a recording FAKE of linkerd
// (test/support/fakes/; no approved module builds it) that asserts every argv and plays back canned
// outputs shaped like linkerd stable-2.14.10: its `install --crds` / `install` manifests are applied to
// the real apiserver, so they must be valid there.
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "pipeline/subprocess.h"
#include "test/support/cluster/cluster_fakes.h"

namespace slipway::test {
namespace {

using nlohmann::json;
using Argv = std::vector<std::string>;

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

class MeshLinkerdOnRealClusterWithFakeLinkerdTest : public ClusterTestWithFakes {
 protected:
  void SetUp() override {
    ClusterTestWithFakes::SetUp();
    if (HasFatalFailure()) return;
    RemoveLinkerd();  // whatever an earlier test left
    Write("p.yaml", kLinkerdPlan);
  }
  void TearDown() override {
    if (fakes_) RemoveLinkerd();
    ClusterTestWithFakes::TearDown();
  }
  CliResult Run(std::vector<std::string> args) { return ClusterTest::Run(std::move(args), env_); }
  bool Contains(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }
  std::string StateDir(const std::string& kind, const std::string& id = "mesh") {
    return (dir_ / ".slipway" / kind / id).string();
  }
  static bool Present(const json& o) { return o.is_object() && !o.contains("error") && !o["metadata"].contains("deletionTimestamp"); }
  static bool Gone(const json& o) { return !Present(o); }
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
  struct Result {
    int exit_code = -1;
    std::string out, err;
  };
  Result Openssl(const Argv& args) {
    pipeline::ProcessSpec spec;
    spec.argv = {"openssl"};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = {{"PATH", "/usr/bin:/bin"}};
    auto r = pipeline::RunProcess(spec);
    if (!r) return {-1, "", r.error().message};
    return {r->exit_code, r->out, r->err};
  }
  static unsigned Mode(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0xFFFF;
  }

};

TEST_F(MeshLinkerdOnRealClusterWithFakeLinkerdTest, InstallGeneratesCertificatesAppliesManifestsAndRerunReusesThem) {
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
  EXPECT_TRUE(Present(cluster().Get("CustomResourceDefinition", "", "serviceprofiles.linkerd.io")));
  EXPECT_TRUE(Present(cluster().Get("Deployment", "linkerd", "linkerd-identity")));
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

TEST_F(MeshLinkerdOnRealClusterWithFakeLinkerdTest, FailingLinkerdCheckExitsOneAndRemovesTheFreshInstall) {
  ExpectInstallUpToCheck();
  fakes_->ExpectCanned("linkerd", {"check"}, "linkerd.check_failed");
  ExpectUninstall();
  auto r = Run({"apply", "p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(r.all(), "linkerd check: exit 1:")) << r.all();
  EXPECT_TRUE(Contains(r.all(), "Status check results are \u00d7")) << r.all();
  EXPECT_TRUE(Contains(r.all(), "(removed what this attempt installed: linkerd uninstall | kubectl delete)")) << r.all();
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_TRUE(Gone(cluster().Get("Namespace", "", "linkerd")));
  EXPECT_TRUE(Gone(cluster().Get("CustomResourceDefinition", "", "serviceprofiles.linkerd.io")));
}

TEST_F(MeshLinkerdOnRealClusterWithFakeLinkerdTest, LaterFailureRollsBackTheFreshInstall) {
  ExpectInstallUpToCheck();
  fakes_->ExpectCanned("linkerd", {"check"}, "linkerd.check");
  ExpectUninstall();
  auto r = Run({"apply", "p.yaml", "--set", "fail=yes"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(r.out, "[mesh] rolled back")) << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("linkerd").back(), (Argv{"uninstall"}));
  EXPECT_TRUE(Gone(cluster().Get("Namespace", "", "linkerd")));
  EXPECT_TRUE(Gone(cluster().Get("Deployment", "linkerd", "linkerd-identity")));
}

TEST_F(MeshLinkerdOnRealClusterWithFakeLinkerdTest, OlderControlPlaneIsUpgradedAndNotUninstalledOnRollback) {
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
  EXPECT_TRUE(Present(cluster().Get("Namespace", "", "linkerd")));
  EXPECT_FALSE(std::filesystem::exists(StateDir("mesh-linkerd"))) << "an upgrade keeps the cluster's certificates";
  EXPECT_EQ(Lines("outputs.txt"), (std::vector<std::string>{"stable-2.14.10", "false"}));
}

TEST_F(MeshLinkerdOnRealClusterWithFakeLinkerdTest, NamespaceWithoutAnsweringControlPlaneIsLeftToTheOperator) {
  Kubectl({"create", "namespace", "linkerd"});
  ExpectVersion(false);
  ExpectVersion(false);
  auto r = Run({"apply", "p.yaml"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(r.out, "namespace linkerd exists but `linkerd version` reports no control plane")) << r.out;
  EXPECT_EQ(fakes_->Missing(), std::vector<std::string>{});
  EXPECT_EQ(fakes_->Argvs("linkerd").size(), 2u) << "neither install nor uninstall";
  EXPECT_TRUE(Present(cluster().Get("Namespace", "", "linkerd")));
  EXPECT_FALSE(std::filesystem::exists(StateDir("mesh-linkerd")));
}

TEST_F(MeshLinkerdOnRealClusterWithFakeLinkerdTest, GivenCertificatesArePassedAsIsAndNothingIsGenerated) {
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

TEST_F(MeshLinkerdOnRealClusterWithFakeLinkerdTest, DryRunShowsOpensslAndLinkerdCommandsWithoutRunningThem) {
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
  EXPECT_TRUE(Gone(cluster().Get("Namespace", "", "linkerd")));
}

}  // namespace
}  // namespace slipway::test
