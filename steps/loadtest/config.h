#pragma once
// What a loadtest step's `with:` says, parsed and validated (see ParseConfig for the keys).

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/error.h"
#include "steps/loadtest/duration.h"
#include "steps/loadtest/template.h"
#include "steps/loadtest/threshold.h"

namespace slipway::steps::loadtest {

/// k6's executors.
enum class Executor { kConstantArrivalRate, kRampingArrivalRate, kConstantVus, kRampingVus };
/// "constant-arrival-rate", ...
const char* ExecutorName(Executor e);
/// Open model: requests start on a schedule whatever the server does.
inline bool IsArrivalRate(Executor e) {
  return e == Executor::kConstantArrivalRate || e == Executor::kRampingArrivalRate;
}

/// `http2:` true (default: HTTP/2 when TLS ALPN offers it, else HTTP/1.1), false, or "prior-knowledge" (h2c).
enum class Http2 { kAllow, kOff, kPriorKnowledge };

/// One ramp: reach `target` (VUs, or requests per time_unit) linearly over `duration`.
struct Stage {
  Nanos duration = 0;
  double target = 0;
};

/// What makes a response count as good.
struct Expect {
  std::vector<int> statuses;  // empty: any 2xx or 3xx
  std::string body_contains;  // empty: not checked
  Nanos max_latency = 0;      // 0: not checked
};

/// One entry of `requests:`.
struct RequestSpec {
  std::string name;
  std::string method = "GET";
  Template url;  // absolute, after joining `path` onto `target`
  std::vector<std::pair<std::string, Template>> headers;
  Template body;          // inline body (or empty)
  std::string body_file;  // read once when the run starts
  bool has_body = false;
  std::uint32_t weight = 1;
  Expect expect;
};

/// `kubernetes:` — run the workers as an Indexed Job.
struct KubernetesSpec {
  int replicas = 1;
  std::string image = "slipway:latest";
  std::string namespace_name = "default";
  std::string job_name = "slipway-loadtest";
  std::vector<std::string> command = {"slipway"};
  std::string context;     // kubectl --context
  std::string kubeconfig;  // kubectl --kubeconfig
  std::string service_account;
  std::string cpu;     // resources.requests/limits.cpu when set, e.g. "1"
  std::string memory;  // e.g. "256Mi"
};

/// Everything a loadtest step's `with:` says.
struct Config {
  std::string target;  // base URL; may be empty when every request has an absolute url
  Executor executor = Executor::kConstantVus;
  double rate = 0;         // arrivals per time_unit (constant-arrival-rate)
  double start_rate = 0;   // ramping-arrival-rate's rate at t=0
  Nanos time_unit = kNanosPerSecond;
  Nanos duration = 0;      // 0: until max_requests (constant executors); stages sum otherwise
  int vus = 0;             // constant-vus
  int start_vus = 0;       // ramping-vus at t=0
  std::vector<Stage> stages;
  int max_in_flight = 0;   // arrival-rate: requests in flight at most (k6 preAllocatedVUs/maxVUs)
  std::uint64_t max_requests = 0;  // 0: unbounded
  int threads = 0;         // 0: chosen from the load and the CPUs
  bool insecure = false;
  Http2 http2 = Http2::kAllow;
  std::string ca_file;
  Nanos timeout = 60 * kNanosPerSecond;
  Nanos graceful_stop = 30 * kNanosPerSecond;
  std::vector<RequestSpec> requests;
  std::vector<ThresholdSpec> thresholds;
  int workers = 1;
  std::optional<KubernetesSpec> kubernetes;
  std::uint64_t seed = 0;  // 0: random

  // Set by the process that runs a share of the test (slipway loadtest --worker), not by `with:`.
  int worker_index = 0;
  int worker_count = 1;

  /// The `with:` this was parsed from (what workers and pods are given).
  nlohmann::json source;

  /// Total planned length: duration, or the stages' sum; 0 when bounded by max_requests only.
  Nanos PlannedDuration() const;
  /// Highest rate (per second) an arrival-rate executor reaches.
  double PeakRatePerSecond() const;
  /// Highest VU count a VU executor reaches.
  int PeakVus() const;
};

/// Parses a step's `with:` (JSON, same shape as the YAML) into a Config. Keys: target, executor, rate,
/// start_rate, time_unit, duration, vus, start_vus, stages, max_in_flight (aliases preallocated_vus,
/// max_vus), max_requests, threads, insecure, http2, ca_file, timeout, graceful_stop, requests,
/// thresholds, workers, kubernetes, seed. Unknown keys are errors; every error names the key path, e.g.
/// "with.requests[1].weight: expected a positive integer".
Expected<Config> ParseConfig(const nlohmann::json& with);

/// Whether WorkerWith copies body files into the config (pods do not have the files) or leaves the paths
/// (local workers share the file system and the working directory).
enum class BodyFiles { kInline, kKeep };
/// The `with:` a worker process or pod runs: the source without workers/kubernetes; with kInline every
/// body_file becomes an inline body (it must be text). Fails when a body_file cannot be read.
Expected<nlohmann::json> WorkerWith(const Config& cfg, BodyFiles files);

}  // namespace slipway::steps::loadtest
