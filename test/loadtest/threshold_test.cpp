#include "steps/loadtest/threshold.h"

#include <gtest/gtest.h>

#include "steps/loadtest/result.h"

namespace slipway::steps::loadtest {
namespace {

using Agg = ThresholdExpr::Agg;
using Op = ThresholdExpr::Op;

TEST(ThresholdTest, ParsesPercentilesWithUnits) {
  auto e = ParseThresholdExpr("p(95)<200", Metric::kHttpReqDuration);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->agg, Agg::kPercentile);
  EXPECT_EQ(e->percentile, 95);
  EXPECT_EQ(e->op, Op::kLt);
  EXPECT_EQ(e->limit, 200);
  e = ParseThresholdExpr("p(99.9) <= 1.5s", Metric::kHttpReqDuration);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->percentile, 99.9);
  EXPECT_EQ(e->op, Op::kLe);
  EXPECT_EQ(e->limit, 1500);
  e = ParseThresholdExpr("avg<250us", Metric::kHttpReqDuration);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->agg, Agg::kAvg);
  EXPECT_EQ(e->limit, 0.25);
  e = ParseThresholdExpr("med>=3ms", Metric::kHttpReqDuration);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->agg, Agg::kMed);
  EXPECT_EQ(e->op, Op::kGe);
}

TEST(ThresholdTest, ParsesRatesAndCounts) {
  auto e = ParseThresholdExpr("rate<0.01", Metric::kHttpReqFailed);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->agg, Agg::kRate);
  EXPECT_EQ(e->limit, 0.01);
  e = ParseThresholdExpr("rate < 1%", Metric::kHttpReqFailed);
  ASSERT_TRUE(e);
  EXPECT_DOUBLE_EQ(e->limit, 0.01);
  e = ParseThresholdExpr("rate>100", Metric::kHttpReqs);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->op, Op::kGt);
  e = ParseThresholdExpr("count==0", Metric::kDroppedIterations);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->agg, Agg::kCount);
  EXPECT_EQ(e->op, Op::kEq);
}

TEST(ThresholdTest, RejectsAggregationsTheMetricDoesNotHave) {
  auto e = ParseThresholdExpr("rate<0.01", Metric::kHttpReqDuration);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message,
            "invalid threshold 'rate<0.01': not an aggregation of http_req_duration (use p(N), avg, min, max or med)");
  e = ParseThresholdExpr("p(95)<1", Metric::kHttpReqFailed);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message, "invalid threshold 'p(95)<1': not an aggregation of http_req_failed (use rate)");
}

TEST(ThresholdTest, RejectsMalformedExpressions) {
  EXPECT_EQ(ParseThresholdExpr("p(95)", Metric::kHttpReqDuration).error().message,
            "invalid threshold 'p(95)': expected an operator: <, <=, >, >=, == or !=");
  EXPECT_EQ(ParseThresholdExpr("p(101)<5", Metric::kHttpReqDuration).error().message,
            "invalid threshold 'p(101)<5': percentile must be a number in (0, 100]");
  EXPECT_EQ(ParseThresholdExpr("p(95)<fast", Metric::kHttpReqDuration).error().message,
            "invalid threshold 'p(95)<fast': expected a number after the operator");
  EXPECT_EQ(ParseThresholdExpr("p(95)<5h", Metric::kHttpReqDuration).error().message,
            "invalid threshold 'p(95)<5h': unknown unit 'h' (use ms, s, us or m)");
  EXPECT_EQ(ParseThresholdExpr("mean<5", Metric::kHttpReqDuration).error().message,
            "invalid threshold 'mean<5': expected an aggregation: p(N), avg, min, max, med, rate or count");
}

TEST(ThresholdTest, ParsesMetricNamesWithARequestTag) {
  auto k = ParseMetricKey("http_req_duration{name:home}");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->metric, Metric::kHttpReqDuration);
  EXPECT_EQ(k->request_name, "home");
  EXPECT_EQ(k->text, "http_req_duration{name:home}");
  k = ParseMetricKey("http_req_failed{ name: \"api\" }");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->request_name, "api");
  EXPECT_EQ(k->text, "http_req_failed{name:api}");
  EXPECT_EQ(ParseMetricKey("http_req_latency").error().message,
            "unknown metric 'http_req_latency' (known: http_req_duration, http_req_failed, http_reqs, dropped_iterations)");
  EXPECT_EQ(ParseMetricKey("http_reqs{status:200}").error().message,
            "unsupported tag in 'http_reqs{status:200}' (only {name:NAME} is supported)");
}

TEST(ThresholdTest, EvaluatesAgainstAResultWithMeasuredAndLimit) {
  Result r;
  r.duration_s = 10;
  for (int i = 0; i < 99; ++i) r.total.latency.Record(10'000'000);  // 10 ms
  r.total.latency.Record(900'000'000);                               // one 900 ms
  r.total.requests = 100;
  r.total.errors = 2;
  Stats home;
  home.requests = 40;
  home.latency.Record(3'000'000);
  r.by_request["home"] = home;
  r.dropped = 5;
  std::vector<ThresholdSpec> specs;
  auto add = [&](const char* metric, const char* expr) {
    auto k = ParseMetricKey(metric);
    auto e = ParseThresholdExpr(expr, k->metric);
    specs.push_back({*k, *e, false, 0});
  };
  add("http_req_duration", "p(95)<200");
  add("http_req_duration", "p(100)<200");
  add("http_req_failed", "rate<0.01");
  add("http_reqs", "rate>=10");
  add("http_req_duration{name:home}", "max<5");
  add("dropped_iterations", "count==0");
  auto v = EvaluateThresholds(specs, r);
  ASSERT_EQ(v.size(), 6u);
  EXPECT_TRUE(v[0].ok);
  EXPECT_NEAR(v[0].measured, 10.0, 0.05);
  EXPECT_EQ(v[0].limit, 200);
  EXPECT_FALSE(v[1].ok);
  EXPECT_NEAR(v[1].measured, 900.0, 0.01);
  EXPECT_FALSE(v[2].ok);
  EXPECT_DOUBLE_EQ(v[2].measured, 0.02);
  EXPECT_TRUE(v[3].ok);
  EXPECT_DOUBLE_EQ(v[3].measured, 10.0);
  EXPECT_TRUE(v[4].ok);
  EXPECT_NEAR(v[4].measured, 3.0, 0.01);
  EXPECT_FALSE(v[5].ok);
  EXPECT_EQ(v[5].measured, 5);
  EXPECT_EQ(v[5].metric, "dropped_iterations");
  EXPECT_EQ(v[5].expr, "count==0");
}

}  // namespace
}  // namespace slipway::steps::loadtest
