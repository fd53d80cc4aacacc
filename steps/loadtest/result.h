#pragma once
// The outcome of a load test: counters, latency histograms (overall, per request name, per second) and
// threshold verdicts. Results of several workers merge exactly (see Merge in summary.h).

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "steps/loadtest/histogram.h"

namespace slipway::steps::loadtest {

/// Why a request counted as failed, in order of precedence.
enum class Cause : int {
  kStatus = 0,       // a response whose status the request does not expect (default: not 2xx/3xx)
  kTimeout = 1,      // no complete response within `timeout`
  kConnect = 2,      // could not connect, TLS failed, or the connection broke mid-exchange
  kExpectation = 3,  // body_contains or max_latency not met
};
inline constexpr int kCauseCount = 4;
/// "status", "timeout", "connect", "expectation".
const char* CauseName(Cause c);

/// Counters and latency of one request name, or of all requests.
struct Stats {
  std::uint64_t requests = 0;  // completed (including failed ones)
  std::uint64_t errors = 0;
  std::array<std::uint64_t, kCauseCount> errors_by_cause{};
  std::map<int, std::uint64_t> status_codes;  // 0: no response
  /// Latency from intended start to the end of the response, for every request except connect
  /// failures (a refused connection has no meaningful latency).
  Histogram latency;

  /// Adds `other`'s counts and samples.
  void Merge(const Stats& other);
  double ErrorRate() const { return requests ? static_cast<double>(errors) / static_cast<double>(requests) : 0.0; }
};

/// One second of the run (t counts from 0 at the start), by completion time.
struct SeriesPoint {
  std::int64_t t = 0;
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::uint64_t dropped = 0;
  SparseHistogram latency;
};

/// A threshold's verdict: `measured` vs `limit` (milliseconds for http_req_duration).
struct ThresholdResult {
  std::string metric;  // e.g. "http_req_duration" or "http_req_duration{name:home}"
  std::string expr;    // e.g. "p(95)<200"
  double measured = 0;
  double limit = 0;
  bool ok = true;
  bool abort_on_fail = false;
};

/// Everything a run measured.
struct Result {
  std::string executor;
  double duration_s = 0;  // wall time from start to the last response (or the stop)
  int threads = 0;        // engine threads, summed over workers
  int workers = 1;        // processes (or pods) whose results were merged
  std::uint64_t dropped = 0;      // arrivals that found no free in-flight slot (arrival-rate executors)
  std::uint64_t interrupted = 0;  // requests cut off by the end of graceful_stop, a cancel or an abort
  Stats total;
  std::map<std::string, Stats> by_request;
  std::map<std::string, std::uint64_t> protocols;  // "1.1", "2" -> responses
  std::vector<SeriesPoint> series;                 // t ascending, no gaps
  std::vector<ThresholdResult> thresholds;
  bool aborted = false;  // stopped early by a threshold with abort_on_fail
  std::string abort_reason;

  /// True when every threshold passed (also when there are none).
  bool ThresholdsOk() const {
    for (const auto& t : thresholds)
      if (!t.ok) return false;
    return true;
  }
  double Rps() const { return duration_s > 0 ? static_cast<double>(total.requests) / duration_s : 0.0; }
};

}  // namespace slipway::steps::loadtest
