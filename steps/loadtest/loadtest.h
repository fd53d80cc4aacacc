#pragma once
// slipway's built-in load-test engine: the API the loadtest step and `slipway loadtest` use.
//
//   auto cfg = ParseConfig(with);            // a step's `with:` as JSON
//   auto result = Run(*cfg, hooks);          // in-process, N local workers, or a Kubernetes Job
//   SummaryJson(*result) / SummaryTable(*result) / result->ThresholdsOk()
//
// Engine: one libcurl multi handle per thread driven by curl_multi_socket_action on epoll; easy handles,
// header lists and buffers are reused, so memory depends on the concurrency, not on the request count.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pipeline/error.h"
#include "steps/loadtest/config.h"
#include "steps/loadtest/result.h"
#include "steps/loadtest/summary.h"

namespace slipway::steps::loadtest {

/// A once-a-second snapshot for live progress.
struct Progress {
  double elapsed_s = 0;
  double planned_s = 0;  // 0 when bounded by max_requests only
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::uint64_t dropped = 0;
  double rps = 0;     // in the last complete second
  double p95_ms = 0;  // in the last complete second
  int in_flight = 0;
};

/// How the caller follows and stops a run, and where scale-out finds its programs.
struct Hooks {
  std::function<void(const Progress&)> on_progress;  // called from Run's thread, about once a second
  const std::atomic<bool>* cancel = nullptr;         // set to stop now (in-flight requests are dropped)
  /// The `slipway` binary that local workers run (`EXE loadtest --config F --worker ...`);
  /// empty: /proc/self/exe.
  std::string worker_executable;
  /// kubectl for the Kubernetes mode; empty: "kubectl" from PATH.
  std::string kubectl;
};

/// Runs the test: in this process (threads), as `workers` local processes, or as a Kubernetes Indexed
/// Job (`kubernetes:`), and returns the merged result with thresholds judged. Fails when the test could
/// not run (unreadable body_file, a worker that crashed or printed no result, kubectl failing); a failed
/// threshold is a successful run whose ThresholdsOk() is false.
Expected<Result> Run(const Config& cfg, const Hooks& hooks);

/// Runs only this process's share of the test (worker_index/worker_count of cfg), ignoring workers and
/// kubernetes; what Run does in-process and what `slipway loadtest --worker` runs.
Expected<Result> RunInProcess(const Config& cfg, const Hooks& hooks);

/// Runs cfg.workers local worker processes and returns each one's result, unmerged.
Expected<std::vector<Result>> RunLocalWorkers(const Config& cfg, const Hooks& hooks);

/// The result a worker printed: its last stdout line that is a JSON summary; fails naming `who`.
Expected<Result> ParseWorkerOutput(const std::string& out, const std::string& who);

/// The ConfigMap + Indexed Job (multi-document YAML) that runs the test in cfg.kubernetes->replicas pods,
/// each `slipway loadtest --config /etc/slipway/loadtest.json --worker --worker-count N` (the index
/// comes from JOB_COMPLETION_INDEX). What dry-run shows.
std::string RenderKubernetesJob(const Config& cfg);

/// Applies the Job with kubectl, waits for it, reads each pod's result from its log and returns them.
Expected<std::vector<Result>> RunKubernetesJob(const Config& cfg, const Hooks& hooks);

/// "  12.0s/30s   500 req/s   p95 1.23 ms   errors 0 (0.00%)" — one line, no newline.
std::string ProgressLine(const Progress& p);

/// Progress as one JSON line (what `--worker --progress-json` prints on stderr) and back.
std::string ProgressJsonLine(const Progress& p);
bool ParseProgressJsonLine(std::string_view line, Progress& out);

}  // namespace slipway::steps::loadtest
