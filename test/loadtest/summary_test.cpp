#include "steps/loadtest/summary.h"

#include <gtest/gtest.h>

#include "steps/loadtest/threshold.h"

namespace slipway::steps::loadtest {
namespace {

constexpr std::int64_t kMs = 1'000'000;

// A result with two request names, some errors and a three-second series.
Result Sample(std::int64_t base_ms, std::uint64_t n) {
  Result r;
  r.executor = "constant-arrival-rate";
  r.duration_s = 3.0;
  r.threads = 1;
  r.dropped = 2;
  for (const char* name : {"home", "api"}) {
    Stats s;
    for (std::uint64_t i = 0; i < n; ++i) {
      s.latency.Record((base_ms + static_cast<std::int64_t>(i % 50)) * kMs);
      ++s.status_codes[i % 10 == 0 ? 500 : 200];
    }
    s.requests = n;
    s.errors = n / 10;
    s.errors_by_cause[static_cast<int>(Cause::kStatus)] = n / 10;
    r.by_request[name] = s;
    r.total.Merge(s);
  }
  r.protocols["1.1"] = 2 * n;
  for (std::int64_t t = 0; t < 3; ++t) {
    SeriesPoint p;
    p.t = t;
    Histogram h;
    for (std::uint64_t i = 0; i < n; ++i) h.Record((base_ms + t) * kMs);
    p.latency = h.ToSparse();
    p.requests = n;
    p.errors = t;
    r.series.push_back(p);
  }
  auto key = ParseMetricKey("http_req_duration");
  auto expr = ParseThresholdExpr("p(95)<100", key->metric);
  r.thresholds = EvaluateThresholds({{*key, *expr, false, 0}}, r);
  return r;
}

TEST(SummaryTest, JsonHasTheDocumentedTopLevelFields) {
  nlohmann::json j = SummaryJson(Sample(10, 100));
  for (const char* key : {"schema", "executor", "duration_s", "requests", "rps", "errors", "error_rate", "dropped",
                          "latency_ms", "errors_by_cause", "status_codes", "by_request", "thresholds", "series",
                          "histogram", "protocols", "interrupted", "aborted", "threads", "workers"})
    EXPECT_TRUE(j.contains(key)) << key;
  for (const char* key : {"p50", "p90", "p95", "p99", "p999", "max", "min", "mean"})
    EXPECT_TRUE(j["latency_ms"].contains(key)) << key;
  for (const char* key : {"status", "timeout", "connect", "expectation"})
    EXPECT_TRUE(j["errors_by_cause"].contains(key)) << key;
  EXPECT_EQ(j["requests"], 200);
  EXPECT_EQ(j["errors"], 20);
  EXPECT_DOUBLE_EQ(j["error_rate"].get<double>(), 0.1);
  EXPECT_EQ(j["status_codes"]["500"], 20);
  EXPECT_EQ(j["by_request"]["api"]["requests"], 100);
  EXPECT_EQ(j["series"].size(), 3u);
  EXPECT_EQ(j["series"][1]["t"], 1);
  EXPECT_EQ(j["series"][1]["p50_ms"], 11.0);
  EXPECT_EQ(j["thresholds"][0]["metric"], "http_req_duration");
  EXPECT_EQ(j["thresholds"][0]["expr"], "p(95)<100");
  EXPECT_EQ(j["thresholds"][0]["ok"], true);
  EXPECT_EQ(j["latency_ms"]["max"], 59.0);
  EXPECT_EQ(j["latency_ms"]["min"], 10.0);
}

TEST(SummaryTest, ResultFromJsonIsTheExactInverse) {
  Result r = Sample(10, 1000);
  nlohmann::json j = SummaryJson(r);
  auto back = ResultFromJson(j);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(SummaryJson(*back), j);
  EXPECT_TRUE(back->total.latency == r.total.latency);
  EXPECT_TRUE(back->by_request.at("api").latency == r.by_request.at("api").latency);
  EXPECT_EQ(back->series[2].latency, r.series[2].latency);
}

TEST(SummaryTest, ResultFromJsonNamesWhatIsMissing) {
  nlohmann::json j = SummaryJson(Sample(1, 10));
  j["by_request"]["api"].erase("histogram");
  auto back = ResultFromJson(j);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().message, "summary.by_request.api.histogram: missing");
  EXPECT_EQ(ResultFromJson({{"schema", "other"}}).error().message, "summary.schema: expected \"slipway.loadtest/v1\"");
}

TEST(SummaryTest, MergeAddsHistogramBucketsNeverAveragesPercentiles) {
  Result fast = Sample(1, 1000);    // latencies 1..50 ms
  Result slow = Sample(400, 100);   // latencies 400..449 ms
  Result merged = Merge({fast, slow});
  Histogram all = fast.total.latency;
  all.Merge(slow.total.latency);
  EXPECT_TRUE(merged.total.latency == all);
  EXPECT_EQ(merged.total.latency.Percentile(99), all.Percentile(99));
  EXPECT_EQ(merged.total.requests, 2200u);
  EXPECT_EQ(merged.total.errors, 220u);
  EXPECT_EQ(merged.dropped, 4u);
  EXPECT_EQ(merged.workers, 2);
  EXPECT_EQ(merged.by_request.at("home").requests, 1100u);
  EXPECT_EQ(merged.protocols.at("1.1"), 2200u);
  ASSERT_EQ(merged.series.size(), 3u);
  EXPECT_EQ(merged.series[1].requests, 1100u);
  EXPECT_EQ(merged.series[2].errors, 4u);
  EXPECT_EQ(merged.series[0].latency.count, 1100u);
  // Thresholds are judged again on the merged data: p95 of the merge is in the slow part.
  ASSERT_EQ(merged.thresholds.size(), 1u);
  EXPECT_TRUE(fast.thresholds[0].ok);
  EXPECT_FALSE(merged.thresholds[0].ok);
  EXPECT_GT(merged.thresholds[0].measured, 400);
}

TEST(SummaryTest, TableShowsTotalsLatencyAndThresholdVerdicts) {
  Result r = Sample(400, 100);
  std::string t = SummaryTable(r);
  EXPECT_NE(t.find("slipway loadtest: constant-arrival-rate, 3.0 s, 1 thread"), std::string::npos) << t;
  EXPECT_NE(t.find("requests    200   66.7/s   dropped 2"), std::string::npos) << t;
  EXPECT_NE(t.find("errors      20   10.00 %   (status 20)"), std::string::npos) << t;
  EXPECT_NE(t.find("FAIL  http_req_duration  p(95)<100   measured 447.74 ms   limit 100"), std::string::npos) << t;
  EXPECT_NE(t.find("  home"), std::string::npos) << t;
}

}  // namespace
}  // namespace slipway::steps::loadtest
