// The engine against the in-process test server: pacing, the stall that the open model must show,
// expectations, error causes, templates, weights, bounds and abort_on_fail.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "steps/loadtest/loadtest.h"
#include "test/support/loadtest/test_http_server.h"

namespace slipway::steps::loadtest {
namespace {

using nlohmann::json;
using slipway::test::loadtest::FreePort;
using slipway::test::loadtest::TestHttpServer;
using slipway::test::loadtest::TestRequest;
using slipway::test::loadtest::TestResponse;
using Clock = std::chrono::steady_clock;

constexpr double kNsPerMs = 1e6;

Result MustRun(const json& with, const Hooks& hooks = {}) {
  auto cfg = ParseConfig(with);
  EXPECT_TRUE(cfg) << cfg.error().message;
  if (!cfg) return {};
  auto r = loadtest::Run(*cfg, hooks);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : Result{};
}

// A `with:` from JSON text plus the target.
json With(const std::string& target, const char* rest) {
  json j = json::parse(rest);
  j["target"] = target;
  return j;
}

double Ms(std::int64_t ns) { return static_cast<double>(ns) / kNsPerMs; }

class EngineTest : public ::testing::Test {};

TEST_F(EngineTest, ConstantArrivalRateHoldsTheRateWithinTwoPercentOverFiveSeconds) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{}; });
  std::vector<Progress> progress;
  Hooks hooks;
  hooks.on_progress = [&](const Progress& p) { progress.push_back(p); };
  Result r = MustRun({{"target", server.Url()}, {"rate", 200}, {"duration", "5s"}, {"threads", 2}}, hooks);
  EXPECT_EQ(r.executor, "constant-arrival-rate");
  EXPECT_EQ(r.total.requests, 1000u);  // exactly the schedule: t = k / 200 s for t < 5 s
  EXPECT_EQ(r.total.errors, 0u);
  EXPECT_EQ(r.dropped, 0u);
  EXPECT_NEAR(r.Rps(), 200.0, 200.0 * 0.02);
  EXPECT_NEAR(r.duration_s, 5.0, 0.1);
  ASSERT_GE(r.series.size(), 5u);
  for (int t = 0; t < 5; ++t) EXPECT_NEAR(static_cast<double>(r.series[static_cast<std::size_t>(t)].requests), 200.0, 10.0) << t;
  EXPECT_EQ(r.total.status_codes.at(200), 1000u);
  EXPECT_EQ(r.protocols.at("1.1"), 1000u);
  EXPECT_LE(server.Connections(), 20u);  // kept alive, not a connection per request
  ASSERT_GE(progress.size(), 3u);
  EXPECT_NEAR(progress[1].rps, 200.0, 20.0);
  EXPECT_EQ(progress.back().planned_s, 5.0);
}

// The server answers nothing during the first 200 ms of every second.
TestResponse Stalling(Clock::time_point start) {
  auto phase = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start) % std::chrono::seconds(1);
  TestResponse resp;
  if (phase < std::chrono::milliseconds(200)) resp.delay = std::chrono::milliseconds(200) - phase;
  return resp;
}

TEST_F(EngineTest, OpenModelPercentilesShowAServerStallThatTheClosedModelHides) {
  const auto start = Clock::now();
  TestHttpServer server([start](const TestRequest&) { return Stalling(start); });
  Result open = MustRun({{"target", server.Url()}, {"rate", 200}, {"duration", "3s"}, {"threads", 1}});
  EXPECT_EQ(open.total.requests, 600u);
  EXPECT_EQ(open.dropped, 0u);
  // ~20 % of arrivals wait out part of a pause: p99 sits near the full 200 ms, p95 near 150 ms.
  EXPECT_GE(Ms(open.total.latency.Percentile(99)), 150.0);
  EXPECT_GE(Ms(open.total.latency.Percentile(95)), 100.0);
  EXPECT_GE(Ms(open.total.latency.Max()), 180.0);
  EXPECT_LT(Ms(open.total.latency.Percentile(50)), 20.0);

  // One VU waits out each pause with a single request and then races on: the percentiles look clean.
  // The request bound must not end the run before 1.5 s (a fast machine does 20k requests in under
  // a second and would never meet a pause); the duration bounds it.
  Result closed = MustRun({{"target", server.Url()}, {"vus", 1}, {"duration", "1500ms"}, {"max_requests", 5000000}});
  EXPECT_GT(closed.total.requests, 200u);
  EXPECT_GE(Ms(closed.total.latency.Max()), 100.0);
  EXPECT_LT(Ms(closed.total.latency.Percentile(95)), 20.0);
  EXPECT_LT(closed.total.latency.Percentile(99), open.total.latency.Percentile(99) / 2);
}

TEST_F(EngineTest, UnmetExpectationsFailRequestsByCause) {
  TestHttpServer server([](const TestRequest& req) {
    TestResponse resp;
    if (req.target == "/ok") resp.body = "hello world";
    if (req.target == "/missing") resp.status = 404;
    if (req.target == "/created") resp.status = 201;
    if (req.target == "/slow") resp.delay = std::chrono::milliseconds(30);
    if (req.target == "/wrong-body") resp.body = "nothing here";
    if (req.target == "/boom") resp.status = 500;
    return resp;
  });
  Result r = MustRun(With(server.Url(), R"({"executor": "constant-vus", "vus": 2, "max_requests": 240, "seed": 7,
    "requests": [
      {"name": "ok", "path": "/ok", "expect": {"status": 200, "body_contains": "world", "max_latency": "1s"}},
      {"name": "missing", "path": "/missing", "expect": {"status": [200]}},
      {"name": "created", "path": "/created", "expect": {"status": [200, 201]}},
      {"name": "slow", "path": "/slow", "expect": {"max_latency": "10ms"}},
      {"name": "wrong-body", "path": "/wrong-body", "expect": {"body_contains": "hello"}},
      {"name": "boom", "path": "/boom"}]})"));
  EXPECT_EQ(r.total.requests, 240u);
  auto by = [&](const char* name) -> const Stats& { return r.by_request.at(name); };
  for (const char* name : {"ok", "missing", "created", "slow", "wrong-body", "boom"}) EXPECT_GT(by(name).requests, 10u) << name;
  EXPECT_EQ(by("ok").errors, 0u);
  EXPECT_EQ(by("created").errors, 0u);
  EXPECT_EQ(by("missing").errors, by("missing").requests);
  EXPECT_EQ(by("missing").errors_by_cause[static_cast<int>(Cause::kStatus)], by("missing").requests);
  EXPECT_EQ(by("missing").status_codes.at(404), by("missing").requests);
  EXPECT_EQ(by("boom").errors_by_cause[static_cast<int>(Cause::kStatus)], by("boom").requests);  // default: 2xx/3xx
  EXPECT_EQ(by("slow").errors_by_cause[static_cast<int>(Cause::kExpectation)], by("slow").requests);
  EXPECT_EQ(by("wrong-body").errors_by_cause[static_cast<int>(Cause::kExpectation)], by("wrong-body").requests);
  std::uint64_t failing = by("missing").requests + by("boom").requests + by("slow").requests + by("wrong-body").requests;
  EXPECT_EQ(r.total.errors, failing);
  EXPECT_EQ(r.total.errors_by_cause[static_cast<int>(Cause::kStatus)], by("missing").requests + by("boom").requests);
  EXPECT_EQ(r.total.errors_by_cause[static_cast<int>(Cause::kExpectation)], by("slow").requests + by("wrong-body").requests);
}

TEST_F(EngineTest, BodyContainsFindsTextSplitAcrossChunks) {
  std::string big(300000, 'x');
  big.replace(big.size() / 2 - 3, 8, "NEEDLE42");  // likely across a 16 KiB read boundary somewhere
  big.replace(16384 - 4, 8, "SPLIT-ME");           // straddles the first chunk boundary
  TestHttpServer server([&](const TestRequest&) { return TestResponse{200, big, {}}; });
  Result r = MustRun(With(server.Url(), R"({"vus": 1, "max_requests": 30, "seed": 5, "requests": [
      {"name": "a", "path": "/", "expect": {"body_contains": "NEEDLE42"}},
      {"name": "b", "path": "/", "expect": {"body_contains": "SPLIT-ME"}},
      {"name": "c", "path": "/", "expect": {"body_contains": "ABSENT"}}]})"));
  EXPECT_EQ(r.total.requests, 30u);
  ASSERT_EQ(r.by_request.size(), 3u);  // 30 weighted picks reach every request
  EXPECT_EQ(r.by_request.at("a").errors, 0u);
  EXPECT_EQ(r.by_request.at("b").errors, 0u);
  EXPECT_GT(r.by_request.at("c").requests, 0u);
  EXPECT_EQ(r.by_request.at("c").errors_by_cause[static_cast<int>(Cause::kExpectation)], r.by_request.at("c").requests);
  EXPECT_EQ(r.total.errors, r.by_request.at("c").requests);
}

TEST_F(EngineTest, RefusedConnectionsAreConnectErrorsWithoutLatency) {
  Result r = MustRun({{"target", "http://127.0.0.1:" + std::to_string(FreePort())}, {"vus", 2}, {"max_requests", 10}});
  EXPECT_EQ(r.total.requests, 10u);
  EXPECT_EQ(r.total.errors, 10u);
  EXPECT_EQ(r.total.errors_by_cause[static_cast<int>(Cause::kConnect)], 10u);
  EXPECT_EQ(r.total.latency.Count(), 0u);
  EXPECT_EQ(r.total.status_codes.at(0), 10u);
}

TEST_F(EngineTest, SlowResponsesPastTheTimeoutAreTimeouts) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{200, "late", std::chrono::milliseconds(400)}; });
  Result r = MustRun({{"target", server.Url()}, {"vus", 3}, {"max_requests", 3}, {"timeout", "100ms"}});
  EXPECT_EQ(r.total.requests, 3u);
  EXPECT_EQ(r.total.errors_by_cause[static_cast<int>(Cause::kTimeout)], 3u);
  EXPECT_EQ(r.total.latency.Count(), 3u);
  EXPECT_GE(Ms(r.total.latency.Min()), 99.0);
  EXPECT_LT(Ms(r.total.latency.Max()), 300.0);
}

TEST_F(EngineTest, TemplatesAreRenderedForEveryRequest) {
  std::mutex mu;
  std::vector<TestRequest> seen;
  TestHttpServer server([&](const TestRequest& req) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(req);
    return TestResponse{};
  });
  Result r = MustRun(With(server.Url(), R"({"vus": 1, "max_requests": 20, "requests": [{"name": "item",
      "method": "POST", "path": "/item/{{ request.index }}?w={{ worker.index }}",
      "headers": {"X-Index": "{{ request.index }}", "X-Static": "yes", "X-Rand": "{{ random.int(1, 3) }}"},
      "body": "n={{ request.index }}"}]})"));
  EXPECT_EQ(r.total.errors, 0u);
  ASSERT_EQ(seen.size(), 20u);
  std::set<std::string> paths;
  for (const auto& req : seen) {
    EXPECT_EQ(req.method, "POST");
    std::string index = req.headers.at("x-index");
    EXPECT_EQ(req.target, "/item/" + index + "?w=0");
    EXPECT_EQ(req.body, "n=" + index);
    EXPECT_EQ(req.headers.at("x-static"), "yes");
    int rnd = std::stoi(req.headers.at("x-rand"));
    EXPECT_TRUE(rnd >= 1 && rnd <= 3) << rnd;
    EXPECT_EQ(req.headers.count("expect"), 0u);
    paths.insert(req.target);
  }
  EXPECT_EQ(paths.size(), 20u);  // request.index is unique
  EXPECT_EQ(paths.count("/item/0?w=0"), 1u);
  EXPECT_EQ(paths.count("/item/19?w=0"), 1u);
}

// A connection slot alternates between a fixed URL (sent from a handle parsed once) and a templated one
// (rendered per request): each request still goes to its own URL, query string included.
TEST_F(EngineTest, FixedAndTemplatedUrlsMixOnOneConnection) {
  std::mutex mu;
  std::vector<std::string> targets;
  TestHttpServer server([&](const TestRequest& req) {
    std::lock_guard<std::mutex> lock(mu);
    targets.push_back(req.target);
    return TestResponse{};
  });
  Result r = MustRun(With(server.Url(), R"({"vus": 1, "max_requests": 200, "seed": 7, "requests": [
      {"name": "fixed", "path": "/fixed/a%20b?x=1&y=two"},
      {"name": "templated", "path": "/t/{{ request.index }}"}]})"));
  EXPECT_EQ(r.total.errors, 0u);
  ASSERT_EQ(targets.size(), 200u);
  int fixed = 0, templated = 0, switches = 0;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const std::string& t = targets[i];
    if (t == "/fixed/a%20b?x=1&y=two") {
      ++fixed;
    } else {
      EXPECT_EQ(t.rfind("/t/", 0), 0u) << t;
      ++templated;
    }
    if (i > 0 && (t[1] == 'f') != (targets[i - 1][1] == 'f')) ++switches;
  }
  EXPECT_EQ(fixed + templated, 200);
  EXPECT_GT(fixed, 60);
  EXPECT_GT(templated, 60);
  EXPECT_GT(switches, 20);  // the single connection really went back and forth
}

TEST_F(EngineTest, WeightsSplitTheRequestsAndMethodsAreSent) {
  std::atomic<int> heads{0}, deletes{0};
  TestHttpServer server([&](const TestRequest& req) {
    if (req.method == "HEAD") ++heads;
    if (req.method == "DELETE") ++deletes;
    return TestResponse{};
  });
  Result r = MustRun(With(server.Url(), R"({"vus": 4, "threads": 2, "max_requests": 801, "seed": 3, "requests": [
      {"name": "home", "path": "/", "weight": 3}, {"name": "head", "method": "HEAD", "path": "/h"},
      {"name": "del", "method": "DELETE", "path": "/d"}]})"));
  EXPECT_EQ(r.total.requests, 801u);  // max_requests is exact across threads
  EXPECT_EQ(r.total.errors, 0u);
  EXPECT_NEAR(static_cast<double>(r.by_request.at("home").requests), 801.0 * 3 / 5, 60.0);
  EXPECT_EQ(static_cast<std::uint64_t>(heads.load()), r.by_request.at("head").requests);
  EXPECT_EQ(static_cast<std::uint64_t>(deletes.load()), r.by_request.at("del").requests);
  EXPECT_EQ(r.threads, 2);
}

TEST_F(EngineTest, RampingArrivalRateFollowsItsStages) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{}; });
  // 0 -> 100/s over 1 s (50 arrivals), then 100/s for 1 s (100 arrivals).
  Result r = MustRun(With(server.Url(), R"({"executor": "ramping-arrival-rate", "start_rate": 0,
      "stages": [{"duration": "1s", "target": 100}, {"duration": "1s", "target": 100}]})"));
  EXPECT_EQ(r.total.requests, 150u);
  EXPECT_EQ(r.dropped, 0u);
  ASSERT_GE(r.series.size(), 2u);
  EXPECT_NEAR(static_cast<double>(r.series[0].requests), 50.0, 3.0);
  EXPECT_NEAR(static_cast<double>(r.series[1].requests), 100.0, 3.0);
}

TEST_F(EngineTest, ArrivalsWithoutAFreeSlotAreDropped) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{200, "ok", std::chrono::milliseconds(300)}; });
  // 100/s for 1 s with at most 5 in flight, each taking 300 ms: ~5 per 300 ms can start.
  Result r = MustRun({{"target", server.Url()}, {"rate", 100}, {"duration", "1s"}, {"max_in_flight", 5}, {"threads", 1}});
  EXPECT_EQ(r.total.requests + r.dropped, 100u);
  EXPECT_GE(r.dropped, 70u);
  EXPECT_LE(r.total.requests, 25u);
  std::uint64_t series_dropped = 0;
  for (const auto& p : r.series) series_dropped += p.dropped;
  EXPECT_EQ(series_dropped, r.dropped);
}

TEST_F(EngineTest, RampingVusAddsUsersOverTime) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{200, "ok", std::chrono::milliseconds(20)}; });
  // 0 -> 4 VUs over 1 s, each doing ~50 req/s: about 2 VUs on average, ~100 requests; then 4 VUs for 0.5 s.
  Result r = MustRun(With(server.Url(), R"({"executor": "ramping-vus", "stages": [{"duration": "1s", "target": 4},
      {"duration": "500ms", "target": 4}]})"));
  ASSERT_GE(r.series.size(), 2u);
  EXPECT_NEAR(static_cast<double>(r.series[0].requests), 75.0, 35.0);     // ramp: 0.25 s each at 0, 1, 2, 3 VUs
  EXPECT_NEAR(static_cast<double>(r.series[1].requests), 100.0, 35.0);    // 4 VUs for 0.5 s
  EXPECT_EQ(r.total.errors, 0u);
}

TEST_F(EngineTest, AbortOnFailStopsTheRunOnceTheBreachLastsTheDelay) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{200, "ok", std::chrono::milliseconds(40)}; });
  auto begin = Clock::now();
  Result r = MustRun(With(server.Url(), R"({"rate": 50, "duration": "10s", "thresholds": {"http_req_duration":
      [{"threshold": "p(95)<10", "abort_on_fail": true, "delay_abort_eval": "1s"}]}})"));
  double took = std::chrono::duration<double>(Clock::now() - begin).count();
  EXPECT_TRUE(r.aborted);
  EXPECT_LT(took, 4.0);
  EXPECT_NE(r.abort_reason.find("threshold http_req_duration p(95)<10 failed"), std::string::npos) << r.abort_reason;
  ASSERT_EQ(r.thresholds.size(), 1u);
  EXPECT_FALSE(r.thresholds[0].ok);
  EXPECT_GT(r.thresholds[0].measured, 39.0);
}

TEST_F(EngineTest, OneSlowSecondDoesNotAbortWhenTheDelayIsLonger) {
  std::atomic<long long> first{0};
  TestHttpServer server([&](const TestRequest&) {
    long long now = Clock::now().time_since_epoch().count();
    long long expected = 0;
    first.compare_exchange_strong(expected, now);
    TestResponse resp;
    if (now - first.load() < 900'000'000) resp.delay = std::chrono::milliseconds(40);  // only the first second
    return resp;
  });
  // Judged on the whole run so far, the slow first second would keep p95 over 10 ms past 1.5 s; judged
  // second by second, the breach ends with the first second.
  Result r = MustRun(With(server.Url(), R"({"rate": 50, "duration": "3s", "thresholds": {"http_req_duration":
      [{"threshold": "p(95)<10", "abort_on_fail": true, "delay_abort_eval": "1500ms"}]}})"));
  EXPECT_FALSE(r.aborted) << r.abort_reason;
  EXPECT_EQ(r.total.requests, 150u);
  ASSERT_EQ(r.thresholds.size(), 1u);
  EXPECT_FALSE(r.thresholds[0].ok);  // the whole run's p95 still includes the slow second
}

TEST_F(EngineTest, CancelStopsAtOnceAndCountsWhatWasInFlight) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{200, "ok", std::chrono::milliseconds(300)}; });
  std::atomic<bool> cancel{false};
  Hooks hooks;
  hooks.cancel = &cancel;
  hooks.on_progress = [&](const Progress&) { cancel.store(true); };
  auto begin = Clock::now();
  Result r = MustRun({{"target", server.Url()}, {"vus", 4}, {"duration", "20s"}}, hooks);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - begin).count(), 3.0);
  EXPECT_EQ(r.interrupted, 4u);
}

}  // namespace
}  // namespace slipway::steps::loadtest
