// The slo kind against a real Prometheus (Debian's /usr/bin/prometheus) scraping two real
// slipway-demo-service processes every second: "demo-ok" answers every request, "demo-bad" fails
// about half of them with 500s. Everything is started once for the suite and killed (whole
// process groups) when it ends. Skipped, saying so, when prometheus is not installed.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <thread>

#include "pipeline/subprocess.h"
#include "steps/http_client.h"
#include "steps/slo.h"
#include "steps/slo_prometheus.h"
#include "test/slo/slo_test_support.h"

namespace slipway::steps {
namespace {

using namespace std::chrono_literals;
using pipeline::Json;
using pipeline::Level;
using slo_testing::Background;
using slo_testing::Harness;

constexpr int kFirstBatch = 20;
constexpr int kSecondBatch = 100;

// What the suite shares: the processes, their ports, and why setting up failed (if it did).
struct PromEnv {
  slo_testing::TempDir dir;
  Background ok, bad, prometheus, proxy;
  int ok_port = 0, bad_port = 0, prom_port = 0, proxy_port = 0;
  std::string skip;       // prometheus is not installed
  std::string error;      // something did not come up
  std::string tls_skip;   // nginx or openssl is missing: the TLS cases skip
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(prom_port); }
  std::string TlsUrl() const { return "https://127.0.0.1:" + std::to_string(proxy_port); }
  std::string CaFile() const { return dir.File("server.crt"); }
};

constexpr const char* kToken = "s3cret-token";
constexpr const char* kTenant = "tenant-1";

// nginx as a TLS reverse proxy in front of Prometheus that wants a bearer token and a tenant
// header, as a hosted Prometheus (Mimir, Thanos, Grafana Cloud) would. Returns "" or why not.
std::string StartTlsProxy(PromEnv& e) {
  const std::string nginx = pipeline::FindOnPath("nginx", "/usr/sbin:/usr/bin:/sbin:/bin");
  const std::string openssl = pipeline::FindOnPath("openssl", "/usr/bin:/bin");
  if (nginx.empty() || openssl.empty()) return "nginx or openssl is not installed";
  pipeline::ProcessSpec cert;
  cert.argv = {openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
               "-keyout", e.dir.File("server.key"), "-out", e.CaFile(), "-days", "1", "-subj", "/CN=127.0.0.1",
               "-addext", "subjectAltName=IP:127.0.0.1"};
  cert.timeout = 10s;
  auto made = pipeline::RunProcess(cert);
  if (!made || !made->Ok()) return "openssl could not make a certificate: " + (made ? made->err : made.error().message);
  e.proxy_port = slo_testing::FreePort();
  const std::string d = e.dir.Path().string();
  const std::string conf =
      "daemon off;\nmaster_process off;\nworker_processes 1;\npid " + d + "/nginx.pid;\nevents {}\nhttp {\n"
      "  access_log off;\n  client_body_temp_path " + d + "/nginx_body;\n  proxy_temp_path " + d + "/nginx_proxy;\n"
      "  fastcgi_temp_path " + d + "/nginx_fastcgi;\n  uwsgi_temp_path " + d + "/nginx_uwsgi;\n"
      "  scgi_temp_path " + d + "/nginx_scgi;\n  default_type application/json;\n"
      "  server {\n    listen 127.0.0.1:" + std::to_string(e.proxy_port) + " ssl;\n"
      "    ssl_certificate " + e.CaFile() + ";\n    ssl_certificate_key " + d + "/server.key;\n"
      "    location / {\n"
      "      if ($http_authorization != \"Bearer " + kToken + "\") {\n"
      "        return 401 '{\"status\":\"error\",\"errorType\":\"unauthorized\",\"error\":\"bad bearer token\"}';\n"
      "      }\n"
      "      if ($http_x_scope_orgid != \"" + kTenant + "\") {\n"
      "        return 403 '{\"status\":\"error\",\"errorType\":\"forbidden\",\"error\":\"unknown tenant\"}';\n"
      "      }\n"
      "      proxy_pass http://127.0.0.1:" + std::to_string(e.prom_port) + ";\n"
      "    }\n  }\n}\n";
  slo_testing::WriteFile(d + "/nginx.conf", conf);
  if (!e.proxy.Start({nginx, "-p", d, "-c", d + "/nginx.conf", "-e", d + "/nginx-error.log"}, d + "/nginx.log"))
    return "cannot start nginx";
  HttpRequest probe;
  probe.url = e.TlsUrl() + "/";
  probe.insecure = true;
  probe.timeout = 1s;
  for (auto until = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < until;) {
    if (HttpDo(probe)) return "";
    if (!e.proxy.Running()) break;
    std::this_thread::sleep_for(50ms);
  }
  return "nginx did not come up: " + slo_testing::ReadFile(d + "/nginx-error.log");
}

int WaitForPortFile(const std::string& path, Background& process, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline && process.Running()) {
    std::string text = slo_testing::ReadFile(path);
    if (!text.empty()) {
      int port = std::atoi(text.c_str());
      if (port > 0) return port;
    }
    std::this_thread::sleep_for(20ms);
  }
  return 0;
}

// Sends `n` GET / requests, each on a new connection (as HttpDo does); false if one had no answer.
bool Traffic(int port, int n) {
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  req.timeout = 5s;
  for (int i = 0; i < n; ++i)
    if (!HttpDo(req)) return false;
  return true;
}

// The single value of an instant query now, or nullopt.
std::optional<double> PromValue(const slo::PrometheusClient& client, const std::string& q) {
  auto now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto r = client.Query(q, now);
  if (!r || r->size() != 1) return std::nullopt;
  return r->front().value;
}

// Waits until Prometheus' latest sample of both services' request counters equals `count`.
bool WaitForCount(const slo::PrometheusClient& client, int count, std::chrono::steady_clock::time_point deadline) {
  while (std::chrono::steady_clock::now() < deadline) {
    auto ok = PromValue(client, "sum(http_requests_total{job=\"demo-ok\",path=\"/\"})");
    auto bad = PromValue(client, "sum(http_requests_total{job=\"demo-bad\",path=\"/\"})");
    if (ok && bad && *ok == count && *bad == count) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

std::string Availability(const std::string& job) {
  return "sum(rate(http_requests_total{job=\"" + job + "\",code!~\"5..\"}[$window]))";
}
std::string Total(const std::string& job) { return "sum(rate(http_requests_total{job=\"" + job + "\"}[$window]))"; }

class SloPrometheusTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    env_ = new PromEnv();
    PromEnv& e = *env_;
    const std::string prom_bin = SLIPWAY_PROMETHEUS_BIN;
    if (prom_bin.empty() || ::access(prom_bin.c_str(), X_OK) != 0) {
      e.skip = "prometheus is not installed (apt-get install prometheus)";
      return;
    }
    auto start_demo = [&](Background& p, const std::string& name, const std::string& error_rate) {
      const std::string port_file = e.dir.File(name + ".port");
      if (!p.Start({SLIPWAY_DEMO_SERVICE_BIN, "--listen", "127.0.0.1", "--port", "0", "--port-file", port_file,
                    "--error-rate", error_rate, "--seed", "1", "--threads", "1"},
                   e.dir.File(name + ".log")))
        return 0;
      return WaitForPortFile(port_file, p, 5s);
    };
    e.ok_port = start_demo(e.ok, "ok", "0");
    e.bad_port = start_demo(e.bad, "bad", "0.5");
    if (!e.ok_port || !e.bad_port) {
      e.error = "the demo service did not start: " + slo_testing::ReadFile(e.dir.File("ok.log")) +
                slo_testing::ReadFile(e.dir.File("bad.log"));
      return;
    }
    e.prom_port = slo_testing::FreePort();
    auto target = [](int port) { return "[\"127.0.0.1:" + std::to_string(port) + "\"]"; };
    const std::string config = "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
                               "scrape_configs:\n"
                               "  - {job_name: prometheus, static_configs: [{targets: " + target(e.prom_port) + "}]}\n"
                               "  - {job_name: demo-ok, static_configs: [{targets: " + target(e.ok_port) + "}]}\n"
                               "  - {job_name: demo-bad, static_configs: [{targets: " + target(e.bad_port) + "}]}\n";
    slo_testing::WriteFile(e.dir.File("prometheus.yml"), config);
    if (!e.prometheus.Start({prom_bin, "--config.file=" + e.dir.File("prometheus.yml"),
                             "--storage.tsdb.path=" + e.dir.File("data"),
                             "--web.listen-address=127.0.0.1:" + std::to_string(e.prom_port), "--log.level=warn"},
                            e.dir.File("prometheus.log"))) {
      e.error = "cannot start " + prom_bin;
      return;
    }
    // Bounded waits: ready, then the first batch scraped, then the second (the rate() windows
    // need a sample before and after the second batch).
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    HttpRequest ready;
    ready.url = e.Url() + "/-/ready";
    ready.timeout = 1s;
    bool up = false;
    while (!up && std::chrono::steady_clock::now() < deadline && e.prometheus.Running()) {
      auto r = HttpDo(ready);
      up = r && r->status == 200;
      if (!up) std::this_thread::sleep_for(100ms);
    }
    if (!up) {
      e.error = "prometheus did not become ready: " + slo_testing::ReadFile(e.dir.File("prometheus.log"));
      return;
    }
    slo::PrometheusConfig pc;
    pc.url = e.Url();
    pc.retries = 0;
    slo::PrometheusClient client(pc);
    if (!Traffic(e.ok_port, kFirstBatch) || !Traffic(e.bad_port, kFirstBatch) ||
        !WaitForCount(client, kFirstBatch, deadline) || !Traffic(e.ok_port, kSecondBatch) ||
        !Traffic(e.bad_port, kSecondBatch) || !WaitForCount(client, kFirstBatch + kSecondBatch, deadline))
      e.error = "prometheus did not scrape the demo services' requests within 20s";
    if (e.error.empty()) e.tls_skip = StartTlsProxy(e);
  }

  static void TearDownTestSuite() {
    delete env_;  // kills the process groups and removes the temp dir
    env_ = nullptr;
  }

  void SetUp() override {
    if (!env_->skip.empty()) GTEST_SKIP() << env_->skip;
    ASSERT_TRUE(env_->error.empty()) << env_->error;
  }

  static Json Prometheus() { return {{"url", env_->Url()}, {"timeout", "5s"}, {"retries", 1}}; }

  static Json Ratio(const std::string& name, const std::string& job, Json extra = Json::object()) {
    Json o = {{"name", name}, {"ratio", {{"good", Availability(job)}, {"total", Total(job)}}}, {"target", 99.9}};
    for (auto it = extra.begin(); it != extra.end(); ++it) o[it.key()] = it.value();
    return o;
  }

  static PromEnv* env_;
};

PromEnv* SloPrometheusTest::env_ = nullptr;

TEST_F(SloPrometheusTest, PassingGateWithErrorBudget) {
  const std::string p95 =
      "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job=\"demo-ok\",path=\"/\"}"
      "[$window])))";
  Harness h(Json{{"prometheus", Prometheus()},
             {"window", "1m"},
             {"objectives",
              Json::array({Ratio("availability", "demo-ok", {{"key", true}}),
                           {{"name", "p95"},
                            {"query", p95},
                            {"pass", "< 200ms"},
                            {"min_samples", 10},
                            {"samples", "sum(increase(http_requests_total{job=\"demo-ok\",path=\"/\"}[$window]))"}}})},
             {"error_budget", {{"objective", "availability"}, {"period", "1h"}, {"freeze", true}}}});
  auto r = SloStep().Apply(h.ctx);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->outputs.at("result"), "pass");
  EXPECT_EQ(r->outputs.at("score"), "100");
  EXPECT_EQ(r->outputs.at("availability.value"), "100");
  EXPECT_EQ(r->outputs.at("availability.result"), "pass");
  EXPECT_EQ(r->outputs.at("p95.result"), "pass");
  const double p95_value = std::stod(r->outputs.at("p95.value"));
  EXPECT_GT(p95_value, 0);
  EXPECT_LT(p95_value, 0.2);
  EXPECT_EQ(r->outputs.at("budget_remaining"), "100");
  EXPECT_EQ(r->outputs.at("burn_rate"), "0");
  EXPECT_EQ(r->summary, "SLO gate pass: score 100 %, 2/2 objectives pass, error budget 100.0 % remaining");

  Json report = Json::parse(r->outputs.at("report_json"));
  EXPECT_EQ(report["prometheus"], env_->Url());
  EXPECT_EQ(report["window"], "1m");
  const Json& avail = report["objectives"][0];
  EXPECT_EQ(avail["query"], "100 * (sum(rate(http_requests_total{job=\"demo-ok\",code!~\"5..\"}[1m]))) / "
                            "(sum(rate(http_requests_total{job=\"demo-ok\"}[1m])))");
  EXPECT_EQ(avail["message"], "measured 100 %, target >= 99.9");
  // The range query over the window: one point per second where rate() has data (how many depends
  // on how long ago the second batch was scraped), each 100 %.
  ASSERT_TRUE(avail.contains("series"));
  ASSERT_GE(avail["series"].size(), 1u);
  for (const auto& point : avail["series"]) EXPECT_EQ(point[1], 100);
  const Json& latency = report["objectives"][1];
  EXPECT_EQ(latency["unit"], "s");
  EXPECT_GE(latency["samples"].get<double>(), 10);
  EXPECT_EQ(report["error_budget"]["state"], "ok");
  EXPECT_EQ(report["error_budget"]["period"], "1h");
  EXPECT_EQ(report["error_budget"]["consumed_percent"], 0);
  EXPECT_EQ(report["error_budget"]["message"], "consumed 0.0 % of 0.1 % over 1h, 100.0 % remaining");
}

TEST_F(SloPrometheusTest, FailingAvailabilityFailsTheStepNamingIt) {
  Harness h(Json{{"prometheus", Prometheus()},
             {"window", "1m"},
             {"objectives", Json::array({Ratio("availability", "demo-bad", {{"key", true}, {"warning", 99.5}})})}});
  auto r = SloStep().Apply(h.ctx);
  ASSERT_FALSE(r.has_value());
  std::smatch m;
  const std::string& msg = r.error().message;
  ASSERT_TRUE(std::regex_match(msg, m,
                               std::regex("SLO gate failed \\(score 0 % is below the warning threshold 75 %; key "
                                          "objective 'availability' failed\\): availability \\[key\\]: measured "
                                          "([0-9.]+) %, target >= 99\\.9 \\(warning >= 99\\.5\\)")))
      << msg;
  // About half of the second batch failed with 500s (seeded; a new connection per request).
  const double measured = std::stod(m[1].str());
  EXPECT_GT(measured, 30);
  EXPECT_LT(measured, 70);
}

TEST_F(SloPrometheusTest, WarningGatePassesAndLogsAWarning) {
  Harness h(Json{{"prometheus", Prometheus()},
             {"window", "1m"},
             {"objectives", Json::array({Ratio("ok-availability", "demo-ok", {{"weight", 3}}),
                                         Ratio("bad-availability", "demo-bad", {{"warning", 10}})})}});
  auto r = SloStep().Apply(h.ctx);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->outputs.at("result"), "warning");
  EXPECT_EQ(r->outputs.at("score"), "87.5");
  EXPECT_EQ(r->outputs.at("ok-availability.result"), "pass");
  EXPECT_EQ(r->outputs.at("bad-availability.result"), "warning");
  EXPECT_EQ(h.sink.Messages(Level::kWarn),
            std::vector<std::string>{"SLO gate warning: score 87.5 %, 1/2 objectives pass; score 87.5 % is below the "
                                     "pass threshold 90 %"});
}

TEST_F(SloPrometheusTest, EmptyResultIsNoDataAndShowsTheQuery) {
  Harness h(Json{{"prometheus", Prometheus()},
             {"window", "1m"},
             {"objectives", Json::array({{{"name", "missing"},
                                          {"query", "sum(rate(slipway_metric_that_does_not_exist_total[$window]))"},
                                          {"pass", "< 1"}}})}});
  auto r = SloStep().Apply(h.ctx);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message,
            "SLO gate failed (score 0 % is below the warning threshold 75 %): missing: no data: the query returned no "
            "data (query: sum(rate(slipway_metric_that_does_not_exist_total[1m]))); counted as fail (on_no_data: "
            "fail)");
}

TEST_F(SloPrometheusTest, BadPromQLFailsTheObjectiveWithPrometheusMessage) {
  Harness h(Json{{"prometheus", Prometheus()},
             {"objectives", Json::array({{{"name", "broken"}, {"query", "sum(rate("}, {"pass", "< 1"},
                                          {"on_no_data", "pass"}}})}});
  auto r = SloStep().Apply(h.ctx);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message.rfind("SLO gate failed (score 0 % is below the warning threshold 75 %): broken: query "
                                    "failed: Prometheus rejected the query: bad_data: ",
                                    0),
            0u)
      << r.error().message;
  EXPECT_NE(r.error().message.find("(query: sum(rate()"), std::string::npos) << r.error().message;
}

TEST_F(SloPrometheusTest, MinSamplesGuardsARatioFromTooFewRequests) {
  Harness h(Json{{"prometheus", Prometheus()},
             {"window", "1m"},
             {"objectives",
              Json::array({Ratio("availability", "demo-ok",
                                 {{"min_samples", 100000},
                                  {"on_no_data", "warn"},
                                  {"samples", "sum(increase(http_requests_total{job=\"demo-ok\"}[$window]))"}})})},
             {"gate", {{"pass", 90}, {"warning", 50}}}});
  auto r = SloStep().Apply(h.ctx);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->outputs.at("result"), "warning");
  EXPECT_EQ(r->outputs.at("availability.result"), "warning");
  EXPECT_EQ(r->outputs.at("availability.value"), "");
  Json report = Json::parse(r->outputs.at("report_json"));
  const std::string message = report["objectives"][0]["message"];
  EXPECT_TRUE(std::regex_match(message, std::regex("no data: only [0-9.]+ samples, min_samples is 100000 \\(value "
                                                   "100 % not trusted\\) \\(query: .*\\); counted as warning "
                                                   "\\(on_no_data: warn\\)")))
      << message;
}

TEST_F(SloPrometheusTest, FreezeFailsBeforeEvaluatingAnythingElse) {
  Harness h(Json{{"prometheus", Prometheus()},
             {"window", "1m"},
             {"objectives", Json::array({Ratio("availability", "demo-bad"),
                                         {{"name", "client-p95"}, {"from", "load-test"}, {"metric", "p(95)"},
                                          {"pass", "< 200ms"}}})},
             {"error_budget", {{"objective", "availability"}, {"period", "1h"}, {"freeze", true}}}});
  auto r = SloStep().Apply(h.ctx);
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(std::regex_match(r.error().message,
                               std::regex("deployment freeze: the error budget of 'availability' is spent \\(consumed "
                                          "[0-9]+\\.[0-9] % of 0\\.1 % over 1h\\)")))
      << r.error().message;
  EXPECT_TRUE(h.sink.events.empty()) << "no objective was evaluated, so none was logged";
}

TEST_F(SloPrometheusTest, ClientInstantScalarAndRangeQueries) {
  slo::PrometheusConfig pc;
  pc.url = env_->Url() + "/";  // a trailing slash is fine
  slo::PrometheusClient client(pc);
  auto now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto scalar = client.Query("1 + 1", now);
  ASSERT_TRUE(scalar.has_value()) << scalar.error().message;
  ASSERT_EQ(scalar->size(), 1u);
  EXPECT_EQ(scalar->front().value, 2);
  EXPECT_TRUE(scalar->front().labels.empty());

  auto up = client.Query("up{job=\"demo-ok\"}", now);
  ASSERT_TRUE(up.has_value()) << up.error().message;
  ASSERT_EQ(up->size(), 1u);
  EXPECT_EQ(up->front().value, 1);
  EXPECT_EQ(slo::LabelsText(up->front().labels),
            "{__name__=\"up\", instance=\"127.0.0.1:" + std::to_string(env_->ok_port) + "\", job=\"demo-ok\"}");

  auto range = client.QueryRange("sum(http_requests_total{job=\"demo-ok\",path=\"/\"})", now - 2, now, 1);
  ASSERT_TRUE(range.has_value()) << range.error().message;
  ASSERT_EQ(range->size(), 1u);
  ASSERT_GE(range->front().points.size(), 1u);  // the series exists since the first batch was scraped
  EXPECT_LE(range->front().points.size(), 3u);
  EXPECT_NEAR(range->front().points.back().first, now, 0.01);  // points run from start to end by step
  EXPECT_EQ(range->front().points.back().second, kFirstBatch + kSecondBatch);

  auto matrix = client.Query("up[1m]", now);
  ASSERT_FALSE(matrix.has_value());
  EXPECT_EQ(matrix.error().kind, slo::QueryFailure::Kind::kQuery);
  EXPECT_EQ(matrix.error().message,
            "the query returned a range vector; an objective needs a single value per series (wrap it in rate(), "
            "increase() or avg_over_time())");

  slo::PrometheusConfig wrong = pc;
  wrong.url = env_->Url() + "/nothing-here";
  auto not_found = slo::PrometheusClient(wrong).Query("up", now);
  ASSERT_FALSE(not_found.has_value());
  EXPECT_EQ(not_found.error().message.rfind("HTTP 404 from " + env_->Url() +
                                                "/nothing-here/api/v1/query (is url the Prometheus base URL?)",
                                            0),
            0u)
      << not_found.error().message;
}

TEST_F(SloPrometheusTest, TlsWithCaFileBearerTokenAndHeaders) {
  if (!env_->tls_skip.empty()) GTEST_SKIP() << env_->tls_skip;
  Harness h(Json{{"prometheus", {{"url", env_->TlsUrl()},
                                 {"bearer_token", kToken},
                                 {"headers", {{"X-Scope-OrgID", kTenant}}},
                                 {"ca_file", env_->CaFile()}}},
                 {"window", "1m"},
                 {"objectives", Json::array({Ratio("availability", "demo-ok")})}});
  auto r = SloStep().Apply(h.ctx);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->outputs.at("result"), "pass");
  EXPECT_EQ(r->outputs.at("availability.value"), "100");
  EXPECT_EQ(r->outputs.at("report_json").find(kToken), std::string::npos) << "the token never lands in a report";
}

TEST_F(SloPrometheusTest, RejectedCredentialsStopTheEvaluationAtOnce) {
  if (!env_->tls_skip.empty()) GTEST_SKIP() << env_->tls_skip;
  Json objectives = Json::array({Ratio("availability", "demo-ok"), Ratio("other", "demo-bad")});
  Harness wrong_token(Json{{"prometheus", {{"url", env_->TlsUrl()},
                                           {"bearer_token", "wrong"},
                                           {"headers", {{"X-Scope-OrgID", kTenant}}},
                                           {"ca_file", env_->CaFile()}}},
                           {"objectives", objectives}});
  auto r = SloStep().Apply(wrong_token.ctx);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "Prometheus at " + env_->TlsUrl() +
                                   " answered HTTP 401 (check bearer_token and headers): unauthorized: bad bearer token");
  Harness no_tenant(Json{{"prometheus", {{"url", env_->TlsUrl()}, {"bearer_token", kToken}, {"ca_file", env_->CaFile()}}},
                         {"objectives", objectives}});
  r = SloStep().Apply(no_tenant.ctx);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "Prometheus at " + env_->TlsUrl() +
                                   " answered HTTP 403 (check bearer_token and headers): forbidden: unknown tenant");
}

TEST_F(SloPrometheusTest, UntrustedCertificateFailsUnlessInsecure) {
  if (!env_->tls_skip.empty()) GTEST_SKIP() << env_->tls_skip;
  Json prometheus = {{"url", env_->TlsUrl()},
                     {"bearer_token", kToken},
                     {"headers", {{"X-Scope-OrgID", kTenant}}},
                     {"retries", 0}};
  Harness untrusted(Json{{"prometheus", prometheus}, {"objectives", Json::array({Ratio("availability", "demo-ok")})}});
  auto r = SloStep().Apply(untrusted.ctx);
  ASSERT_FALSE(r.has_value());
  const std::string prefix = "cannot reach Prometheus at " + env_->TlsUrl() + " after 1 attempt: POST " +
                             env_->TlsUrl() + "/api/v1/query: SSL certificate problem: self-signed certificate";
  EXPECT_EQ(r.error().message.rfind(prefix, 0), 0u) << r.error().message;

  prometheus["insecure"] = true;
  Harness insecure(Json{{"prometheus", prometheus},
                        {"window", "1m"},
                        {"objectives", Json::array({Ratio("availability", "demo-ok")})}});
  auto ok = SloStep().Apply(insecure.ctx);
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->outputs.at("result"), "pass");
}

class SloUnreachableTest : public ::testing::Test {};

TEST_F(SloUnreachableTest, ClosedPortIsAClearErrorAfterTheConfiguredRetries) {
  const int port = slo_testing::FreePort();  // nothing listens there
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  Harness h(Json{{"prometheus", {{"url", url}, {"retries", 2}, {"timeout", "2s"}}},
             {"objectives", Json::array({{{"name", "availability"},
                                          {"ratio", {{"good", "sum(a)"}, {"total", "sum(b)"}}},
                                          {"target", 99.9}},
                                         {{"name", "p95"}, {"query", "x"}, {"pass", "< 1"}}})}});
  auto start = std::chrono::steady_clock::now();
  auto r = SloStep().Apply(h.ctx);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.has_value());
  const std::string prefix = "cannot reach Prometheus at " + url + " after 3 attempts: POST " + url +
                             "/api/v1/query: Failed to connect to 127.0.0.1 port " + std::to_string(port);
  EXPECT_EQ(r.error().message.rfind(prefix, 0), 0u) << r.error().message;
  // Two backoffs (500 ms, then 1 s) between three attempts, and only for the first query: the
  // evaluation stops there instead of retrying every objective.
  EXPECT_GE(elapsed, 1500ms);
  EXPECT_LT(elapsed, 3000ms);
}

}  // namespace
}  // namespace slipway::steps
