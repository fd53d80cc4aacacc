// End to end against real nginx-light: keep-alive over HTTP/1.1, `return 204`, and TLS with
// verification on by default, a CA file, `insecure`, and HTTP/2 negotiated by ALPN.
#include <fstream>
#include <regex>

#include <gtest/gtest.h>

#include "steps/loadtest/loadtest.h"
#include "test/support/loadtest/nginx_fixture.h"
#include "test/support/loadtest/test_http_server.h"

namespace slipway::steps::loadtest {
namespace {

using nlohmann::json;
using slipway::test::loadtest::HttpGetBody;
using slipway::test::loadtest::NginxServer;

class NginxTest : public ::testing::Test {
 protected:
  void StartNginx(bool tls) {
    if (!NginxServer::Available()) GTEST_SKIP() << "nginx-light is not installed at " << NginxServer::kBinary;
    std::string error;
    nginx_ = NginxServer::Start("    location = /204 { return 204; }\n", tls, &error);
    ASSERT_NE(nginx_, nullptr) << error;
  }
  // nginx's own count of accepted connections (stub_status).
  long Accepts() {
    std::string status = HttpGetBody("127.0.0.1", nginx_->Port(), "/nginx_status");
    std::smatch m;
    if (!std::regex_search(status, m, std::regex(R"(\n\s*(\d+)\s+(\d+)\s+(\d+))"))) return -1;
    return std::stol(m[1]);
  }
  Result MustRun(const json& with) {
    auto cfg = ParseConfig(with);
    EXPECT_TRUE(cfg) << cfg.error().message;
    if (!cfg) return {};
    auto r = loadtest::Run(*cfg, {});
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : Result{};
  }
  std::unique_ptr<NginxServer> nginx_;
};

TEST_F(NginxTest, ServesAFileOverKeptAliveConnections) {
  StartNginx(false);
  std::string kib(1024, 'a');
  kib.replace(500, 6, "MARKER");
  std::ofstream(nginx_->HtmlDir() + "/1k.bin") << kib;
  Result r = MustRun({{"target", nginx_->Url()}, {"vus", 4}, {"threads", 2}, {"max_requests", 2000},
                      {"requests", {{{"name", "file"}, {"path", "/1k.bin"}, {"expect", {{"status", 200}, {"body_contains", "MARKER"}}}},
                                    {{"name", "empty"}, {"path", "/204"}}}}});
  EXPECT_EQ(r.total.requests, 2000u);
  EXPECT_EQ(r.total.errors, 0u);
  EXPECT_EQ(r.total.status_codes.at(200) + r.total.status_codes.at(204), 2000u);
  EXPECT_EQ(r.by_request.at("empty").status_codes.at(204), r.by_request.at("empty").requests);
  EXPECT_EQ(r.protocols.at("1.1"), 2000u);
  long accepts = Accepts();
  EXPECT_GE(accepts, 1);
  EXPECT_LE(accepts, 4 + 2);  // one per VU, reused for 2000 requests (+ the readiness probe and this query)
  EXPECT_GT(r.total.latency.Percentile(50), 0);
}

TEST_F(NginxTest, TlsIsVerifiedByDefaultAndHttp2IsUsedWhenOffered) {
  StartNginx(true);
  std::ofstream(nginx_->HtmlDir() + "/index.html") << "hello tls";
  json base = {{"target", nginx_->Url() + "/index.html"}, {"vus", 2}, {"max_requests", 20}};

  Result unverified = MustRun(base);
  EXPECT_EQ(unverified.total.errors, 20u);  // self-signed: rejected unless told otherwise
  EXPECT_EQ(unverified.total.errors_by_cause[static_cast<int>(Cause::kConnect)], 20u);

  json with_ca = base;
  with_ca["ca_file"] = nginx_->CertFile();
  Result verified = MustRun(with_ca);
  EXPECT_EQ(verified.total.errors, 0u);
  EXPECT_EQ(verified.protocols.at("2"), 20u);  // ALPN offered h2

  json insecure = base;
  insecure["insecure"] = true;
  insecure["http2"] = false;
  Result plain = MustRun(insecure);
  EXPECT_EQ(plain.total.errors, 0u);
  EXPECT_EQ(plain.protocols.at("1.1"), 20u);
}

}  // namespace
}  // namespace slipway::steps::loadtest
