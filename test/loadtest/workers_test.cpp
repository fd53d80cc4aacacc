// Scale-out to local worker processes: the built `slipway loadtest` command (loadtest_cli) runs each
// share, and the merge of their JSON results is exact.
#include <gtest/gtest.h>

#include "steps/loadtest/loadtest.h"
#include "test/support/loadtest/test_http_server.h"

namespace slipway::steps::loadtest {
namespace {

using nlohmann::json;
using slipway::test::loadtest::TestHttpServer;
using slipway::test::loadtest::TestRequest;
using slipway::test::loadtest::TestResponse;

class WorkersTest : public ::testing::Test {
 protected:
  Hooks WorkerHooks() {
    Hooks h;
    h.worker_executable = LOADTEST_CLI;
    return h;
  }
};

TEST_F(WorkersTest, TwoWorkersMergeToExactlyTheHistogramOfAllTheirSamples) {
  std::atomic<int> n{0};
  TestHttpServer server([&](const TestRequest&) {
    // Spread latencies so the percentiles are not all the same bucket.
    return TestResponse{200, "ok", std::chrono::microseconds(100 * (n++ % 20))};
  });
  auto cfg = ParseConfig({{"target", server.Url()}, {"vus", 4}, {"max_requests", 300}, {"workers", 2},
                          {"thresholds", {{"http_reqs", {"count==300"}}, {"http_req_duration", {"p(99)<1000"}}}}});
  ASSERT_TRUE(cfg) << cfg.error().message;
  auto parts = RunLocalWorkers(*cfg, WorkerHooks());
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].total.requests + (*parts)[1].total.requests, 300u);
  EXPECT_EQ((*parts)[0].total.requests, 150u);  // the bound is split between the workers

  // Single-process view of the same data: one histogram fed every bucket of both workers.
  Histogram all;
  for (const auto& p : *parts) {
    SparseHistogram s = p.total.latency.ToSparse();
    for (const auto& [index, count] : s.buckets) EXPECT_GT(count, 0u) << index;
    all.Merge(s);
  }
  Result merged = Merge(*parts);
  EXPECT_TRUE(merged.total.latency == all);
  for (double q : {50.0, 90.0, 95.0, 99.0, 99.9}) EXPECT_EQ(merged.total.latency.Percentile(q), all.Percentile(q)) << q;
  EXPECT_EQ(merged.total.requests, 300u);
  EXPECT_EQ(merged.workers, 2);
  std::uint64_t series_total = 0;
  for (const auto& p : merged.series) series_total += p.requests;
  EXPECT_EQ(series_total, 300u);
  EXPECT_EQ(server.Requests(), 300u);

  // Run() does the same and judges the thresholds on the merged result.
  auto run = loadtest::Run(*cfg, WorkerHooks());
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->total.requests, 300u);
  EXPECT_EQ(run->workers, 2);
  ASSERT_EQ(run->thresholds.size(), 2u);
  const ThresholdResult& count = run->thresholds[1];  // thresholds come in metric name order
  EXPECT_EQ(count.metric, "http_reqs");
  EXPECT_TRUE(count.ok);
  EXPECT_EQ(count.measured, 300);  // judged on the merge: each worker alone has 150
}

TEST_F(WorkersTest, ArrivalScheduleIsSplitNotMultiplied) {
  TestHttpServer server([](const TestRequest&) { return TestResponse{}; });
  auto cfg = ParseConfig({{"target", server.Url()}, {"rate", 100}, {"duration", "1s"}, {"workers", 2}});
  ASSERT_TRUE(cfg);
  auto r = loadtest::Run(*cfg, WorkerHooks());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->total.requests, 100u);
  EXPECT_EQ(r->dropped, 0u);
}

TEST_F(WorkersTest, AFailingWorkerFailsTheRunWithItsMessage) {
  auto cfg = ParseConfig({{"target", "http://127.0.0.1:9"}, {"vus", 1}, {"max_requests", 1}, {"workers", 2}});
  ASSERT_TRUE(cfg);
  Hooks h;
  h.worker_executable = "/bin/false";
  auto r = loadtest::Run(*cfg, h);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "worker 0 (/bin/false) exited with code 1");
}

}  // namespace
}  // namespace slipway::steps::loadtest
