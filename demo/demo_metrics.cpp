#include "demo/demo_metrics.h"

#include <cstdio>

namespace slipway::demo {
namespace {

constexpr std::array<std::string_view, kRouteCount> kRouteLabels = {"/", "/health", "/api/items", "other"};
constexpr std::array<std::string_view, kMethodCount> kMethodLabels = {"GET",    "HEAD",  "POST",    "PUT",
                                                                      "DELETE", "PATCH", "OPTIONS", "OTHER"};

std::size_t SeriesIndex(Method method, Route route) {
  return static_cast<std::size_t>(route) * kMethodCount + static_cast<std::size_t>(method);
}

void AppendLabels(std::string& out, std::string_view method, std::string_view path) {
  out += "{method=\"";
  out += method;
  out += "\",path=\"";
  out += path;
  out += '"';
}

}  // namespace

std::string_view RouteLabel(Route route) { return kRouteLabels[static_cast<std::size_t>(route)]; }

std::string_view MethodLabel(Method method) { return kMethodLabels[static_cast<std::size_t>(method)]; }

Method MethodFromString(std::string_view method) {
  for (std::size_t i = 0; i + 1 < kMethodCount; ++i) {
    if (kMethodLabels[i] == method) return static_cast<Method>(i);
  }
  return Method::kOther;
}

std::optional<std::size_t> StatusIndex(int status) {
  for (std::size_t i = 0; i < kStatusCodes.size(); ++i) {
    if (kStatusCodes[i] == status) return i;
  }
  return std::nullopt;
}

void ThreadMetrics::Record(Method method, Route route, int status, std::chrono::nanoseconds duration) {
  auto status_index = StatusIndex(status);
  if (!status_index) return;
  std::size_t series = SeriesIndex(method, route);
  std::int64_t ns = duration.count() < 0 ? 0 : duration.count();
  std::size_t bucket = 0;
  while (bucket < kBucketBoundsNs.size() && ns > kBucketBoundsNs[bucket]) ++bucket;
  // No lock ties these together: a scrape racing this call may see the histogram and the
  // counter one request apart for that instant; the next scrape sees both.
  Bump(buckets_[series * kBuckets + bucket], 1);
  Bump(duration_ns_sum_[series], static_cast<std::uint64_t>(ns));
  Bump(requests_[series * kStatusCodes.size() + *status_index], 1);
}

MetricsRegistry::MetricsRegistry(std::size_t threads, double start_time_seconds)
    : thread_count_(threads), start_time_seconds_(start_time_seconds), threads_(new ThreadMetrics[threads]) {}

std::string MetricsRegistry::Render() const {
  constexpr std::size_t kSeries = ThreadMetrics::kSeries;
  constexpr std::size_t kBuckets = ThreadMetrics::kBuckets;
  constexpr std::size_t kCodes = kStatusCodes.size();

  std::array<std::uint64_t, kSeries * kCodes> requests{};
  std::array<std::uint64_t, kSeries * kBuckets> buckets{};
  std::array<std::uint64_t, kSeries> sums{};
  for (std::size_t t = 0; t < thread_count_; ++t) {
    const ThreadMetrics& m = threads_[t];
    for (std::size_t i = 0; i < requests.size(); ++i) requests[i] += m.requests_[i].load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += m.buckets_[i].load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < sums.size(); ++i) sums[i] += m.duration_ns_sum_[i].load(std::memory_order_relaxed);
  }

  std::string out;
  out.reserve(4096);
  out += "# HELP http_requests_total HTTP requests answered, by method, route and status (/metrics excluded).\n";
  out += "# TYPE http_requests_total counter\n";
  for (std::size_t series = 0; series < kSeries; ++series) {
    auto route = static_cast<Route>(series / kMethodCount);
    auto method = static_cast<Method>(series % kMethodCount);
    for (std::size_t code = 0; code < kCodes; ++code) {
      std::uint64_t value = requests[series * kCodes + code];
      if (value == 0) continue;
      out += "http_requests_total";
      AppendLabels(out, MethodLabel(method), RouteLabel(route));
      out += ",code=\"" + std::to_string(kStatusCodes[code]) + "\"} " + std::to_string(value) + "\n";
    }
  }

  out += "# HELP http_request_duration_seconds Time from a request being parsed to its response being "
         "written, injected latency and stalls included.\n";
  out += "# TYPE http_request_duration_seconds histogram\n";
  for (std::size_t series = 0; series < kSeries; ++series) {
    std::uint64_t count = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) count += buckets[series * kBuckets + b];
    if (count == 0) continue;
    std::string_view route = RouteLabel(static_cast<Route>(series / kMethodCount));
    std::string_view method = MethodLabel(static_cast<Method>(series % kMethodCount));
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) {
      cumulative += buckets[series * kBuckets + b];
      out += "http_request_duration_seconds_bucket";
      AppendLabels(out, method, route);
      out += ",le=\"";
      out += b < kBucketLabels.size() ? kBucketLabels[b] : std::string_view("+Inf");
      out += "\"} " + std::to_string(cumulative) + "\n";
    }
    // The count is the +Inf bucket by construction, so the two can never disagree.
    char sum[64];
    std::snprintf(sum, sizeof sum, "%.9f", static_cast<double>(sums[series]) / 1e9);
    out += "http_request_duration_seconds_sum";
    AppendLabels(out, method, route);
    out += "} ";
    out += sum;
    out += "\nhttp_request_duration_seconds_count";
    AppendLabels(out, method, route);
    out += "} " + std::to_string(count) + "\n";
  }

  char start[64];
  std::snprintf(start, sizeof start, "%.3f", start_time_seconds_);
  out += "# HELP demo_up 1 while the demo service is serving.\n# TYPE demo_up gauge\ndemo_up 1\n";
  out += "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n";
  out += "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds ";
  out += start;
  out += "\n";
  return out;
}

}  // namespace slipway::demo
