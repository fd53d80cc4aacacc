// mesh.istio and mesh.linkerd validation through the built binary (no cluster needed). Everything they
// do on a cluster is tested on the real test cluster: mesh_istio_cluster_test.cpp and
// mesh_linkerd_cluster_test.cpp.
#include "support/e2e_harness.h"

namespace slipway::test {
namespace {

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
