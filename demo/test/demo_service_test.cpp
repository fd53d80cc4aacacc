// End-to-end tests of the built slipway-demo-service binary: each test starts its own process
// on a free port (own process group, SIGKILLed on teardown) and talks HTTP to it.

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "demo/test/demo_test_support.h"

namespace slipway::demo::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr auto kStartTimeout = milliseconds(5000);

struct Service {
  ChildProcess process;
  int port = 0;
};

// Starts the service with `flags` plus --port 0 and reads the port from its first stdout line.
void StartService(Service& service, const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {SLIPWAY_DEMO_SERVICE_BIN, "--port", "0"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  ASSERT_TRUE(service.process.Spawn(argv)) << "cannot spawn " << SLIPWAY_DEMO_SERVICE_BIN;
  auto line = service.process.ReadStdoutLine(kStartTimeout);
  ASSERT_TRUE(line.has_value()) << "service printed no 'listening on' line";
  const std::string prefix = "listening on 127.0.0.1:";
  ASSERT_TRUE(line->starts_with(prefix)) << *line;
  service.port = std::stoi(line->substr(prefix.size()));
  ASSERT_GT(service.port, 0);
}

std::map<std::string, double> Scrape(int port) {
  HttpClient client(port);
  auto response = client.Request("GET", "/metrics");
  if (!response || response->status != 200) return {};
  return ParseExposition(response->body);
}

int Status(const std::optional<HttpResponse>& response) { return response ? response->status : -1; }

double SumOf(const std::map<std::string, double>& metrics, const std::string& prefix) {
  double sum = 0;
  for (const auto& [series, value] : metrics) {
    if (series.starts_with(prefix)) sum += value;
  }
  return sum;
}

// 'E' for a 500, '.' for a 200, '?' for anything else, over `n` GET / on one connection.
std::string StatusSequence(int port, int n) {
  HttpClient client(port);
  std::string sequence;
  for (int i = 0; i < n; ++i) {
    auto response = client.Request("GET", "/");
    sequence += !response ? '?' : response->status == 500 ? 'E' : response->status == 200 ? '.' : '?';
  }
  return sequence;
}

class DemoServiceTest : public ::testing::Test {
 protected:
  Service service_;
};

TEST_F(DemoServiceTest, RootAnswersWithServiceName) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {}));
  HttpClient client(service_.port);
  auto response = client.Request("GET", "/");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "slipway demo service\n");
  EXPECT_EQ(response->Header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(response->Header("connection"), "keep-alive");
}

TEST_F(DemoServiceTest, HealthAnswersOk) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {}));
  HttpClient client(service_.port);
  auto response = client.Request("GET", "/health");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ok");
}

TEST_F(DemoServiceTest, UnknownPathIs404) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {}));
  HttpClient client(service_.port);
  auto response = client.Request("GET", "/no/such/page?x=1");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->body, "not found\n");
}

TEST_F(DemoServiceTest, WrongMethodIs405WithAllowHeader) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {}));
  HttpClient client(service_.port);
  auto root = client.Request("DELETE", "/");
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(root->status, 405);
  EXPECT_EQ(root->Header("allow"), "GET, HEAD");
  auto items = client.Request("PUT", "/api/items", "{}");
  ASSERT_TRUE(items.has_value());
  EXPECT_EQ(items->status, 405);
  EXPECT_EQ(items->Header("allow"), "GET, HEAD, POST");
}

TEST_F(DemoServiceTest, PostItemsReturns201WithNewIdAndListCountsIt) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {}));
  HttpClient client(service_.port);
  auto first = client.Request("POST", "/api/items", R"({"name":"davit"})");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 201);
  EXPECT_EQ(first->body, "{\"id\":4}\n");
  EXPECT_EQ(first->Header("location"), "/api/items/4");
  EXPECT_EQ(first->Header("content-type"), "application/json");
  auto second = client.Request("POST", "/api/items", "");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 201);
  EXPECT_EQ(second->Header("location"), "/api/items/5");

  auto list = client.Request("GET", "/api/items");
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->status, 200);
  auto json = nlohmann::json::parse(list->body);
  EXPECT_EQ(json["items"].size(), 3u);
  EXPECT_EQ(json["items"][0]["name"], "anchor");
  EXPECT_EQ(json["created"], 2);
}

TEST_F(DemoServiceTest, HeadAnswersHeadersWithoutBody) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {}));
  HttpClient client(service_.port);
  auto head = client.Request("HEAD", "/");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-length"), "21");
  EXPECT_EQ(head->body, "");
  // The connection is still in sync: no body bytes were sent after the HEAD response.
  auto next = client.Request("GET", "/health");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body, "ok");
}

TEST_F(DemoServiceTest, PipelinedRequestsAreAnsweredInOrder) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {"--latency-ms", "30"}));
  HttpClient client(service_.port);
  ASSERT_TRUE(client.SendRaw("GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto a = client.ReadResponse();
  auto b = client.ReadResponse();
  auto c = client.ReadResponse();
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->body, "slipway demo service\n");  // the delayed one still comes first
  EXPECT_EQ(b->body, "ok");
  EXPECT_EQ(c->status, 404);
}

TEST_F(DemoServiceTest, Http10WithoutKeepAliveIsClosedAfterResponse) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {}));
  HttpClient client(service_.port);
  ASSERT_TRUE(client.SendRaw("GET /health HTTP/1.0\r\n\r\n"));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(DemoServiceTest, MalformedRequestIs400AndClosesConnection) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {}));
  HttpClient client(service_.port);
  ASSERT_TRUE(client.SendRaw("this is not http\r\n\r\n"));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 400);
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(DemoServiceTest, MetricsCountEveryRequestExactlyOnceWithRouteLabels) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {"--threads", "2"}));
  auto before = Scrape(service_.port);
  EXPECT_EQ(SumOf(before, "http_requests_total{"), 0.0);
  {
    // Two connections, so with two threads both threads' counters are likely summed.
    HttpClient a(service_.port);
    HttpClient b(service_.port);
    for (int i = 0; i < 5; ++i) ASSERT_EQ(Status(a.Request("GET", "/")), 200);
    for (int i = 0; i < 3; ++i) ASSERT_EQ(Status(b.Request("GET", "/health")), 200);
    for (int i = 0; i < 2; ++i) ASSERT_EQ(Status(a.Request("GET", "/missing")), 404);
    for (int i = 0; i < 4; ++i) ASSERT_EQ(Status(b.Request("POST", "/api/items", "{}")), 201);
    ASSERT_EQ(Status(a.Request("GET", "/api/items")), 200);
    ASSERT_EQ(Status(b.Request("DELETE", "/")), 405);
  }
  auto after = Scrape(service_.port);
  auto again = Scrape(service_.port);

  EXPECT_EQ(SeriesValue(after, R"(http_requests_total{method="GET",path="/",code="200"})"), 5);
  EXPECT_EQ(SeriesValue(after, R"(http_requests_total{method="GET",path="/health",code="200"})"), 3);
  EXPECT_EQ(SeriesValue(after, R"(http_requests_total{method="GET",path="other",code="404"})"), 2);
  EXPECT_EQ(SeriesValue(after, R"(http_requests_total{method="POST",path="/api/items",code="201"})"), 4);
  EXPECT_EQ(SeriesValue(after, R"(http_requests_total{method="GET",path="/api/items",code="200"})"), 1);
  EXPECT_EQ(SeriesValue(after, R"(http_requests_total{method="DELETE",path="/",code="405"})"), 1);
  EXPECT_EQ(SumOf(after, "http_requests_total{"), 16);
  // Scraping is not counted: two scrapes later nothing has moved.
  EXPECT_EQ(SumOf(again, "http_requests_total{"), 16);
  EXPECT_EQ(SumOf(again, "http_request_duration_seconds_count{"), 16);

  EXPECT_EQ(SeriesValue(after, R"(http_request_duration_seconds_count{method="GET",path="/"})"), 5);
  EXPECT_EQ(SeriesValue(after, R"(http_request_duration_seconds_bucket{method="GET",path="/",le="+Inf"})"), 5);
  EXPECT_EQ(SeriesValue(after, R"(http_request_duration_seconds_count{method="POST",path="/api/items"})"), 4);
  EXPECT_EQ(SeriesValue(after, R"(http_request_duration_seconds_count{method="GET",path="/health"})"), 3);
  // Unloaded, every request is far below the first bucket bound of 5 ms.
  EXPECT_EQ(SeriesValue(after, R"(http_request_duration_seconds_bucket{method="GET",path="/",le="0.005"})"), 5);
  EXPECT_LT(SeriesValue(after, R"(http_request_duration_seconds_sum{method="GET",path="/"})"), 0.025);
  EXPECT_EQ(SumOf(after, R"(http_requests_total{method="GET",path="/metrics")"), 0);

  EXPECT_EQ(SeriesValue(after, "demo_up"), 1);
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  double started = SeriesValue(after, "process_start_time_seconds");
  EXPECT_GT(started, now - 60);
  EXPECT_LE(started, now + 1);
}

TEST_F(DemoServiceTest, MetricsUseTextFormat004ContentType) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {}));
  HttpClient client(service_.port);
  auto response = client.Request("GET", "/metrics");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(response->body.find("# TYPE http_request_duration_seconds histogram\n"), std::string::npos);
  EXPECT_NE(response->body.find("# TYPE http_requests_total counter\n"), std::string::npos);
}

TEST_F(DemoServiceTest, ErrorRateHalfAnswersAboutHalfWith500) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {"--error-rate", "0.5", "--seed", "1"}));
  std::string sequence = StatusSequence(service_.port, 1000);
  ASSERT_EQ(sequence.find('?'), std::string::npos) << "a request failed outright";
  auto errors = std::count(sequence.begin(), sequence.end(), 'E');
  // Binomial(1000, 0.5) has a standard deviation of ~16; ±60 is beyond 3.5 sigma.
  EXPECT_GE(errors, 440);
  EXPECT_LE(errors, 560);
  auto metrics = Scrape(service_.port);
  EXPECT_EQ(SeriesValue(metrics, R"(http_requests_total{method="GET",path="/",code="500"})"), errors);
  EXPECT_EQ(SeriesValue(metrics, R"(http_requests_total{method="GET",path="/",code="200"})"), 1000 - errors);
}

TEST_F(DemoServiceTest, SameSeedGivesSameErrorSequenceOnAConnection) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {"--error-rate", "0.3", "--seed", "7"}));
  Service twin;
  ASSERT_NO_FATAL_FAILURE(StartService(twin, {"--error-rate", "0.3", "--seed", "7"}));
  Service other_seed;
  ASSERT_NO_FATAL_FAILURE(StartService(other_seed, {"--error-rate", "0.3", "--seed", "8"}));
  std::string a = StatusSequence(service_.port, 200);
  std::string b = StatusSequence(twin.port, 200);
  std::string c = StatusSequence(other_seed.port, 200);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a.find('E'), std::string::npos);
}

TEST_F(DemoServiceTest, LatencyDelaysApplicationRoutesButNotHealth) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {"--latency-ms", "50"}));
  HttpClient client(service_.port);
  auto start = Clock::now();
  auto root = client.Request("GET", "/");
  double root_ms = MillisSince(start);
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(root->status, 200);
  EXPECT_GE(root_ms, 50.0);
  EXPECT_LT(root_ms, 500.0);

  start = Clock::now();
  auto health = client.Request("GET", "/health");
  double health_ms = MillisSince(start);
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
  EXPECT_LT(health_ms, 40.0);

  // The service's own histogram saw the delay: the request is above the 0.05 s bucket bound.
  auto metrics = Scrape(service_.port);
  EXPECT_EQ(SeriesValue(metrics, R"(http_request_duration_seconds_bucket{method="GET",path="/",le="0.05"})"), 0);
  EXPECT_EQ(SeriesValue(metrics, R"(http_request_duration_seconds_bucket{method="GET",path="/",le="+Inf"})"), 1);
  EXPECT_EQ(SeriesValue(metrics, R"(http_request_duration_seconds_bucket{method="GET",path="/health",le="0.05"})"),
            1);
}

TEST_F(DemoServiceTest, LatencyIsTimerBasedAndDoesNotBlockTheEventLoop) {
  // One thread, 20 concurrent requests of 200 ms each: a sleeping loop would need 4 s.
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {"--threads", "1", "--latency-ms", "200"}));
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < 20; ++i) clients.push_back(std::make_unique<HttpClient>(service_.port));
  auto start = Clock::now();
  for (auto& client : clients) ASSERT_TRUE(client->SendRaw("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  for (auto& client : clients) {
    auto response = client->ReadResponse();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200);
  }
  double elapsed = MillisSince(start);
  EXPECT_GE(elapsed, 200.0);
  EXPECT_LT(elapsed, 800.0);
}

TEST_F(DemoServiceTest, JitterAddsBetweenZeroAndJitterOnTopOfLatency) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {"--latency-ms", "10", "--jitter-ms", "40", "--seed", "3"}));
  HttpClient client(service_.port);
  double low = 1e9;
  double high = 0;
  for (int i = 0; i < 20; ++i) {
    auto start = Clock::now();
    auto response = client.Request("GET", "/api/items");
    double ms = MillisSince(start);
    ASSERT_TRUE(response.has_value());
    low = std::min(low, ms);
    high = std::max(high, ms);
  }
  EXPECT_GE(low, 10.0);
  EXPECT_LT(high, 50.0 + 100.0);  // 40 ms of jitter plus scheduling slack on a shared machine
  EXPECT_GT(high - low, 10.0) << "20 draws from U[0, 40] ms should not all be this close";
}

TEST_F(DemoServiceTest, HealthIsExemptFromInjectedErrors) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {"--error-rate", "1"}));
  HttpClient client(service_.port);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Status(client.Request("GET", "/health")), 200);
    EXPECT_EQ(Status(client.Request("GET", "/")), 500);
  }
  EXPECT_EQ(Status(client.Request("POST", "/api/items", "{}")), 500);
}

TEST_F(DemoServiceTest, RequestDuringStallWaitsForTheRemainingStall) {
  // Stalls at [1.0 s, 1.4 s), [2.0 s, 2.4 s), ... after start.
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {"--stall-every", "1s", "--stall-for", "400ms", "--threads", "1"}));
  HttpClient prober(service_.port);
  // Find the end of the first stall: the first slow /health response arrives as it ends.
  std::optional<Clock::time_point> stall_end;
  auto give_up = Clock::now() + milliseconds(3000);
  while (!stall_end && Clock::now() < give_up) {
    auto start = Clock::now();
    auto response = prober.Request("GET", "/health");
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200);
    if (MillisSince(start) >= 100.0) stall_end = Clock::now();
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_TRUE(stall_end.has_value()) << "no request was held by a stall within 3 s";

  // The next stall runs from stall_end + 600 ms to stall_end + 1000 ms; arrive in its middle.
  std::this_thread::sleep_until(*stall_end + milliseconds(800));
  HttpClient client(service_.port);
  auto start = Clock::now();
  auto response = client.Request("GET", "/");
  double waited = MillisSince(start);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_GE(waited, 200.0 - 40.0);
  EXPECT_LE(waited, 200.0 + 80.0);

  // Right after the stall, the service is fast again.
  start = Clock::now();
  ASSERT_TRUE(client.Request("GET", "/").has_value());
  EXPECT_LT(MillisSince(start), 50.0);
}

TEST_F(DemoServiceTest, SigtermAnswersRequestInFlightThenExitsZero) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {"--latency-ms", "300"}));
  HttpClient idle(service_.port);
  ASSERT_TRUE(idle.Request("GET", "/health").has_value());
  HttpClient busy(service_.port);
  ASSERT_TRUE(busy.SendRaw("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(milliseconds(50));
  service_.process.Signal(SIGTERM);

  auto response = busy.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_TRUE(idle.WaitForClose());
  auto status = service_.process.Wait(milliseconds(3000));
  ASSERT_TRUE(status.has_value()) << "still running 3 s after SIGTERM";
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST_F(DemoServiceTest, SigintExitsZero) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {}));
  service_.process.Signal(SIGINT);
  auto status = service_.process.Wait(milliseconds(3000));
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST_F(DemoServiceTest, PortFileHoldsTheBoundPort) {
  TempDir dir;
  std::string port_file = dir.Path() + "/port";
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {"--port-file", port_file}));
  EXPECT_EQ(ReadFile(port_file), std::to_string(service_.port) + "\n");
}

TEST_F(DemoServiceTest, BusyPortFailsWithExitOne) {
  ASSERT_NO_FATAL_FAILURE(StartService(service_, {}));
  TempDir dir;
  ChildProcess second;
  ASSERT_TRUE(second.Spawn({SLIPWAY_DEMO_SERVICE_BIN, "--port", std::to_string(service_.port)}, dir.Path() + "/err"));
  auto status = second.Wait(milliseconds(3000));
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  EXPECT_EQ(ReadFile(dir.Path() + "/err"), "slipway-demo-service: bind 127.0.0.1:" + std::to_string(service_.port) +
                                               ": Address already in use\n");
}

TEST_F(DemoServiceTest, UnknownFlagExitsTwo) {
  TempDir dir;
  ASSERT_TRUE(service_.process.Spawn({SLIPWAY_DEMO_SERVICE_BIN, "--bogus", "1"}, dir.Path() + "/err"));
  auto status = service_.process.Wait(milliseconds(3000));
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 2);
  EXPECT_EQ(ReadFile(dir.Path() + "/err"), "slipway-demo-service: unknown flag '--bogus'\n(see --help)\n");
}

}  // namespace
}  // namespace slipway::demo::testing
