#include "demo/demo_metrics.h"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

namespace slipway::demo {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

class DemoMetricsTest : public ::testing::Test {
 protected:
  static std::string Histogram(const std::string& labels, const std::string& cumulative_counts,
                               const std::string& sum, int count) {
    static const char* kLe[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"};
    std::string out;
    std::size_t pos = 0;
    for (const char* le : kLe) {
      std::size_t comma = cumulative_counts.find(',', pos);
      out += "http_request_duration_seconds_bucket{" + labels + ",le=\"" + le + "\"} " +
             cumulative_counts.substr(pos, comma - pos) + "\n";
      pos = comma + 1;
    }
    out += "http_request_duration_seconds_sum{" + labels + "} " + sum + "\n";
    out += "http_request_duration_seconds_count{" + labels + "} " + std::to_string(count) + "\n";
    return out;
  }
};

TEST_F(DemoMetricsTest, RendersObservedSeriesSummedOverThreads) {
  MetricsRegistry registry(2, 1700000000.5);
  registry.ForThread(0).Record(Method::kGet, Route::kRoot, 200, milliseconds(3));
  registry.ForThread(1).Record(Method::kGet, Route::kRoot, 200, milliseconds(60));
  registry.ForThread(1).Record(Method::kGet, Route::kRoot, 500, milliseconds(20));
  registry.ForThread(0).Record(Method::kPost, Route::kItems, 201, milliseconds(11'000));

  std::string expected =
      "# HELP http_requests_total HTTP requests answered, by method, route and status (/metrics excluded).\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"GET\",path=\"/\",code=\"200\"} 2\n"
      "http_requests_total{method=\"GET\",path=\"/\",code=\"500\"} 1\n"
      "http_requests_total{method=\"POST\",path=\"/api/items\",code=\"201\"} 1\n"
      "# HELP http_request_duration_seconds Time from a request being parsed to its response being written, "
      "injected latency and stalls included.\n"
      "# TYPE http_request_duration_seconds histogram\n" +
      Histogram("method=\"GET\",path=\"/\"", "1,1,2,2,3,3,3,3,3,3,3,3", "0.083000000", 3) +
      Histogram("method=\"POST\",path=\"/api/items\"", "0,0,0,0,0,0,0,0,0,0,0,1", "11.000000000", 1) +
      "# HELP demo_up 1 while the demo service is serving.\n"
      "# TYPE demo_up gauge\n"
      "demo_up 1\n"
      "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
      "# TYPE process_start_time_seconds gauge\n"
      "process_start_time_seconds 1700000000.500\n";
  EXPECT_EQ(registry.Render(), expected);
}

TEST_F(DemoMetricsTest, BucketBoundIsInclusive) {
  MetricsRegistry registry(1, 0);
  registry.ForThread(0).Record(Method::kGet, Route::kHealth, 200, milliseconds(5));
  registry.ForThread(0).Record(Method::kGet, Route::kHealth, 200, milliseconds(5) + nanoseconds(1));
  std::string text = registry.Render();
  EXPECT_NE(text.find("http_request_duration_seconds_bucket{method=\"GET\",path=\"/health\",le=\"0.005\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("http_request_duration_seconds_bucket{method=\"GET\",path=\"/health\",le=\"0.01\"} 2\n"),
            std::string::npos);
}

TEST_F(DemoMetricsTest, IgnoresStatusCodesTheServiceNeverSends) {
  MetricsRegistry registry(1, 0);
  registry.ForThread(0).Record(Method::kGet, Route::kRoot, 299, milliseconds(1));
  EXPECT_EQ(registry.Render().find("http_requests_total{"), std::string::npos);
}

TEST_F(DemoMetricsTest, MapsMethodsAndRoutesToLabels) {
  EXPECT_EQ(MethodFromString("GET"), Method::kGet);
  EXPECT_EQ(MethodFromString("OPTIONS"), Method::kOptions);
  EXPECT_EQ(MethodFromString("get"), Method::kOther);
  EXPECT_EQ(MethodFromString("BREW"), Method::kOther);
  EXPECT_EQ(MethodLabel(Method::kOther), "OTHER");
  EXPECT_EQ(RouteLabel(Route::kItems), "/api/items");
  EXPECT_EQ(RouteLabel(Route::kOther), "other");
  EXPECT_EQ(StatusIndex(505), kStatusCodes.size() - 1);
  EXPECT_EQ(StatusIndex(302), std::nullopt);
}

}  // namespace
}  // namespace slipway::demo
