#pragma once
// The load test's reports: the JSON summary (a stable, documented format), its exact inverse, the merge
// of several workers' results, and the end-of-run table.
//
// Format of the JSON summary (schema "slipway.loadtest/v1"); times in milliseconds unless named _ns/_s:
// {
//   "schema": "slipway.loadtest/v1",
//   "executor": "constant-arrival-rate",   // k6 executor name
//   "duration_s": 30.002,                  // start to last response (or stop)
//   "threads": 2, "workers": 1,            // engine threads (summed) and merged processes/pods
//   "requests": 15000,                     // completed requests, failed ones included
//   "rps": 499.97,                         // requests / duration_s
//   "errors": 12, "error_rate": 0.0008,    // failed requests and errors / requests (0 when none)
//   "dropped": 0,                          // arrivals with no free in-flight slot (never sent)
//   "interrupted": 0,                      // in flight when the test was stopped; not counted above
//   "aborted": false, "abort_reason": "",  // a threshold with abort_on_fail stopped the run
//   "latency_ms": {"min", "mean", "p50", "p90", "p95", "p99", "p999", "max"},
//                                          // from each request's intended start (arrival-rate
//                                          // executors) or actual start (VU executors) to its end;
//                                          // connect failures have no latency
//   "errors_by_cause": {"status", "timeout", "connect", "expectation"},
//   "status_codes": {"200": 14988, "0": 2},// "0": no response
//   "protocols": {"1.1": 15000},           // responses by HTTP version
//   "by_request": {NAME: {"requests", "errors", "error_rate", "latency_ms", "errors_by_cause",
//                         "status_codes", "histogram"}},
//   "thresholds": [{"metric": "http_req_duration", "expr": "p(95)<200", "measured": 1.2, "limit": 200,
//                   "ok": true, "abort_on_fail": false}],
//   "thresholds_ok": true,
//   "series": [{"t": 0, "requests", "errors", "dropped", "p50_ms", "p95_ms", "p99_ms", "histogram"}],
//                                          // one entry per second of the run by completion time, no gaps
//   "histogram": {...}                     // all latencies; see histogram.h for the bucket format
// }
// Every "histogram" is {"scheme": "loglinear-ns-7", "count", "min_ns", "max_ns", "sum_ns",
// "buckets": "gap:count,gap:count,..."} (gap: bucket index minus the previous one's); ResultFromJson rebuilds percentiles from them, so merging workers'
// summaries is exact.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/error.h"
#include "steps/loadtest/result.h"

namespace slipway::steps::loadtest {

/// The documented JSON summary above (with histogram buckets).
nlohmann::json SummaryJson(const Result& result);
/// Exact inverse of SummaryJson (counts, buckets, series, thresholds); derived fields (rps, percentiles)
/// are recomputed. Fails naming the first missing or malformed field.
Expected<Result> ResultFromJson(const nlohmann::json& j);
/// Adds counters and histogram buckets of every part (never averages percentiles); duration is the
/// longest part's; series points with the same t are added; thresholds of the first part are
/// re-evaluated on the merged data.
Result Merge(const std::vector<Result>& parts);
/// The clean end-of-run table (plain text, fixed-width columns).
std::string SummaryTable(const Result& result);

}  // namespace slipway::steps::loadtest
