#pragma once
// Request metrics of the demo service and their rendering in the Prometheus text exposition
// format 0.0.4. Format of what Render() writes (only label sets that were observed appear):
//   http_requests_total{method="GET",path="/",code="200"} 5
//   http_request_duration_seconds_bucket{method="GET",path="/",le="0.005"} 5   (… le="+Inf")
//   http_request_duration_seconds_sum{method="GET",path="/"} 0.000412000
//   http_request_duration_seconds_count{method="GET",path="/"} 5
//   demo_up 1
//   process_start_time_seconds 1717171717.123
// The `path` label is the route, not the raw path, so a scan of random URLs cannot blow up
// the series count: "/", "/health", "/api/items", or "other" for everything else.
// Each event-loop thread owns one ThreadMetrics and is its only writer; a scrape sums all of
// them, so the hot path takes no lock and does no contended atomic read-modify-write.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace slipway::demo {

/// The route a request matched; its label is the `path` label value.
enum class Route : std::uint8_t { kRoot, kHealth, kItems, kOther };
inline constexpr std::size_t kRouteCount = 4;

/// The request method as a label; methods outside the list are counted as "OTHER".
enum class Method : std::uint8_t { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kOther };
inline constexpr std::size_t kMethodCount = 8;

/// Every status code the service can answer with; Record() ignores any other code.
inline constexpr std::array<int, 10> kStatusCodes = {200, 201, 400, 404, 405, 413, 431, 500, 501, 505};

/// Upper bounds of the duration histogram in nanoseconds (0.005 s … 10 s), then their labels.
inline constexpr std::array<std::int64_t, 11> kBucketBoundsNs = {
    5'000'000, 10'000'000, 25'000'000, 50'000'000, 100'000'000, 250'000'000,
    500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};
inline constexpr std::array<std::string_view, 11> kBucketLabels = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"};

/// Label value of a route ("/", "/health", "/api/items", "other").
std::string_view RouteLabel(Route route);
/// Label value of a method ("GET", …, "OTHER").
std::string_view MethodLabel(Method method);
/// Maps a request method to its label; case-sensitive as HTTP methods are.
Method MethodFromString(std::string_view method);
/// Index of `status` in kStatusCodes, nullopt for a code the service never sends.
std::optional<std::size_t> StatusIndex(int status);

/// Counters of one event-loop thread. Only the owning thread calls Record(); any thread may
/// read them through MetricsRegistry::Render().
class alignas(64) ThreadMetrics {
 public:
  /// Counts one answered request and its duration (from request parsed to response written).
  void Record(Method method, Route route, int status, std::chrono::nanoseconds duration);

 private:
  friend class MetricsRegistry;
  static constexpr std::size_t kSeries = kRouteCount * kMethodCount;
  static constexpr std::size_t kBuckets = kBucketBoundsNs.size() + 1;  // + the +Inf overflow

  // Single writer: load + store is enough, and avoids a locked instruction per request.
  static void Bump(std::atomic<std::uint64_t>& counter, std::uint64_t by) {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }

  std::array<std::atomic<std::uint64_t>, kSeries * kStatusCodes.size()> requests_{};
  std::array<std::atomic<std::uint64_t>, kSeries * kBuckets> buckets_{};  // not cumulative
  std::array<std::atomic<std::uint64_t>, kSeries> duration_ns_sum_{};
};

/// All threads' metrics plus the process-level gauges.
class MetricsRegistry {
 public:
  /// `start_time_seconds` is the process start as seconds since the Unix epoch.
  MetricsRegistry(std::size_t threads, double start_time_seconds);

  /// The counters owned by event-loop thread `index` (< threads).
  ThreadMetrics& ForThread(std::size_t index) { return threads_[index]; }

  /// The whole exposition (text format 0.0.4), summed over threads at call time.
  std::string Render() const;

 private:
  std::size_t thread_count_;
  double start_time_seconds_;
  std::unique_ptr<ThreadMetrics[]> threads_;
};

}  // namespace slipway::demo
