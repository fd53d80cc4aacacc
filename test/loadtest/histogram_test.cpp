#include "steps/loadtest/histogram.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace slipway::steps::loadtest {
namespace {

constexpr std::int64_t kUs = 1000;
constexpr std::int64_t kSec = 1000000000;

// The exact q-th percentile by the same rank rule (ceil(q% * n)-th smallest).
std::int64_t ExactPercentile(std::vector<std::int64_t> v, double q) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(q / 100.0 * static_cast<double>(v.size()) - 1e-9));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

TEST(HistogramTest, EveryValueFrom1usTo60sIsReportedWithinOnePercent) {
  double worst = 0;
  // 2000 log-spaced values plus every bucket boundary region near powers of two.
  for (int i = 0; i <= 2000; ++i) {
    auto v = static_cast<std::int64_t>(std::llround(kUs * std::pow(60.0 * 1e6, i / 2000.0)));
    for (std::int64_t x : {v, v + 1, v - 1}) {
      std::int64_t rep = Buckets::Representative(Buckets::IndexOf(x));
      double err = std::abs(static_cast<double>(rep - x)) / static_cast<double>(x);
      worst = std::max(worst, err);
    }
  }
  EXPECT_LE(worst, 0.01);
  EXPECT_LE(worst, 0.004);  // midpoints of buckets 1/128 wide
}

TEST(HistogramTest, PercentilesOfManySamplesMatchExactOnesWithinOnePercent) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(std::log(2e6), 1.0);  // median 2 ms, long tail
  std::vector<std::int64_t> samples;
  Histogram h;
  for (int i = 0; i < 200000; ++i) {
    auto v = std::clamp<std::int64_t>(static_cast<std::int64_t>(dist(rng)), kUs, 60 * kSec);
    samples.push_back(v);
    h.Record(v);
  }
  for (double q : {50.0, 90.0, 95.0, 99.0, 99.9}) {
    double exact = static_cast<double>(ExactPercentile(samples, q));
    EXPECT_NEAR(static_cast<double>(h.Percentile(q)), exact, exact * 0.01) << "p" << q;
  }
  EXPECT_EQ(h.Min(), *std::min_element(samples.begin(), samples.end()));
  EXPECT_EQ(h.Max(), *std::max_element(samples.begin(), samples.end()));
  EXPECT_EQ(h.Count(), 200000u);
}

TEST(HistogramTest, MergeEqualsOneHistogramFedEverySample) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::int64_t> fast(50 * kUs, 2000 * kUs);
  std::uniform_int_distribution<std::int64_t> slow(100 * 1000 * kUs, 900 * 1000 * kUs);
  Histogram a, b, all;
  for (int i = 0; i < 50000; ++i) {
    auto v = fast(rng);
    a.Record(v);
    all.Record(v);
  }
  for (int i = 0; i < 1000; ++i) {
    auto v = slow(rng);
    b.Record(v);
    all.Record(v);
  }
  Histogram ab = a;
  ab.Merge(b);
  EXPECT_TRUE(ab == all);
  Histogram ba = b;
  ba.Merge(a);
  EXPECT_TRUE(ba == all);  // commutative
  for (double q : {50.0, 95.0, 99.0, 99.9}) EXPECT_EQ(ab.Percentile(q), all.Percentile(q));
  // Averaging the parts' p95 would be wrong by two orders of magnitude: the merged p95 is a fast request.
  double averaged = (static_cast<double>(a.Percentile(95)) + static_cast<double>(b.Percentile(95))) / 2;
  EXPECT_LT(all.Percentile(95), 2001 * kUs);
  EXPECT_GT(averaged, 100.0 * static_cast<double>(all.Percentile(95)));
}

TEST(HistogramTest, SparseMergeMatchesDenseMerge) {
  Histogram a, b, c;
  for (std::int64_t v = kUs; v < 100 * kSec / 1000; v = v * 3 / 2 + 7) a.Record(v);
  for (std::int64_t v = 3 * kUs; v < 5 * kSec; v = v * 2 + 1) b.Record(v);
  for (std::int64_t v = 5; v < 1000; v += 37) c.Record(v);
  SparseHistogram s = a.ToSparse();
  s.Merge(b.ToSparse());
  s.Merge(c.ToSparse());
  Histogram dense = a;
  dense.Merge(b);
  dense.Merge(c);
  EXPECT_EQ(s, dense.ToSparse());
  for (double q : {1.0, 50.0, 99.0, 100.0}) EXPECT_EQ(s.Percentile(q), dense.Percentile(q));
  Histogram back;
  back.Merge(s);
  EXPECT_TRUE(back == dense);
}

TEST(HistogramTest, SparseRoundTripsThroughJson) {
  Histogram h;
  for (std::int64_t v : {kUs, 2 * kUs, 2 * kUs, 5 * kSec, 70 * kSec}) h.Record(v);
  SparseHistogram s = h.ToSparse();
  auto back = SparseHistogram::FromJson(s.ToJson());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, s);
  EXPECT_EQ(s.ToJson()["scheme"], "loglinear-ns-7");
  EXPECT_EQ(s.ToJson()["count"], 5);
  EXPECT_EQ(s.ToJson()["max_ns"], 70 * kSec);
  // 1 us and 2 us are buckets 506 and 634 (gap 128); 5 s and 70 s follow.
  EXPECT_EQ(s.ToJson()["buckets"].get<std::string>().rfind("506:1,128:2,", 0), 0u) << s.ToJson()["buckets"];
}

TEST(HistogramTest, FromJsonRejectsInconsistentData) {
  nlohmann::json j = {{"scheme", "loglinear-ns-7"}, {"count", 3}, {"min_ns", 1}, {"max_ns", 5}, {"sum_ns", 9},
                      {"buckets", "1:1,4:1"}};
  auto r = SparseHistogram::FromJson(j);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "histogram: bucket counts add up to 2, not count 3");
  j["buckets"] = "5:2,0:1";
  r = SparseHistogram::FromJson(j);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "histogram.buckets: index 5 out of range or out of order");
  j["buckets"] = "4352:3";
  EXPECT_EQ(SparseHistogram::FromJson(j).error().message, "histogram.buckets: index 4352 out of range or out of order");
  j["buckets"] = "1-3";
  EXPECT_EQ(SparseHistogram::FromJson(j).error().message, "histogram.buckets: expected \"gap:count,...\" pairs");
  j["scheme"] = "hdr";
  r = SparseHistogram::FromJson(j);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "histogram: unknown scheme (expected \"loglinear-ns-7\")");
}

TEST(HistogramTest, MemoryIsFixedAndHugeValuesClampButMaxStaysExact) {
  static_assert(sizeof(Histogram) < 36 * 1024, "a histogram is a fixed ~34 KiB array");
  Histogram h;
  h.Record(3600 * kSec);  // an hour: beyond the resolved range
  h.Record(kUs);
  EXPECT_EQ(h.Max(), 3600 * kSec);
  EXPECT_EQ(h.Percentile(100), 3600 * kSec);
  EXPECT_EQ(Buckets::IndexOf(3600 * kSec), Buckets::kCount - 1);
  EXPECT_EQ(h.Percentile(50), kUs + 1);  // the midpoint of [1000, 1004) ns
}

TEST(HistogramTest, ResetForgetsEverything) {
  Histogram h;
  h.Record(5 * kUs);
  h.Record(9 * kSec);
  h.Reset();
  EXPECT_TRUE(h == Histogram());
  EXPECT_EQ(h.Percentile(99), 0);
}

}  // namespace
}  // namespace slipway::steps::loadtest
