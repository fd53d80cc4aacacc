#pragma once
// The demo service's HTTP/1.1 server: N event-loop threads, each with its own epoll instance
// and its own SO_REUSEPORT listening socket, so the kernel spreads connections over threads
// and no lock is shared between them.
//
// Behaviour the demo plan and the load-test tests rely on:
//  * Injected latency (--latency-ms + uniform [0, --jitter-ms]) and injected errors
//    (--error-rate) apply to the application routes "/" and "/api/items" only. A delayed
//    response waits in a per-thread timer heap; the event loop never sleeps for it.
//  * Stalls: with --stall-every E --stall-for F, the windows [kE, kE + F) after start (k >= 1)
//    are stalls. Requests are still read and parsed during a stall, but no response is written
//    until the stall ends; that holds for every route, /health and /metrics included, since a
//    stall models the whole process freezing (a GC pause, a lock convoy).
//  * Requests on one connection are answered in order, one at a time (pipelined requests wait
//    for the one before them).
//  * Stop(): listeners close, idle connections close, requests in flight are answered with
//    "Connection: close" (bounded by a drain timeout), then the threads exit.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "demo/demo_metrics.h"
#include "demo/demo_options.h"

namespace slipway::demo {

class Worker;

/// State every worker reads; fixed after Bind() apart from the atomics.
struct ServerShared {
  DemoOptions options;
  std::chrono::steady_clock::time_point start;  ///< origin of the stall schedule
  MetricsRegistry metrics;
  std::atomic<std::uint64_t> next_connection{0};  ///< numbers connections to seed their PRNGs
  std::atomic<std::uint64_t> items_created{0};    ///< POST /api/items count, for ids
  std::atomic<bool> stopping{false};

  ServerShared(DemoOptions opts, double start_time_seconds);

  /// True while `now` lies in a stall window.
  bool InStall(std::chrono::steady_clock::time_point now) const;
  /// End of the stall window containing `now` (only meaningful when InStall(now)).
  std::chrono::steady_clock::time_point StallEnd(std::chrono::steady_clock::time_point now) const;
};

/// The server. Bind(), then Start(); Stop() (or the destructor) drains and joins the threads.
class DemoServer {
 public:
  /// Keeps the options; nothing is opened until Bind().
  explicit DemoServer(DemoOptions options);
  ~DemoServer();
  DemoServer(const DemoServer&) = delete;
  DemoServer& operator=(const DemoServer&) = delete;

  /// Opens one listening socket per thread on options.listen:options.port. Returns the error
  /// ("bind 127.0.0.1:80: Permission denied"), or nullopt once every socket listens.
  std::optional<std::string> Bind();

  /// The bound port (the kernel's choice when options.port was 0); valid after Bind().
  int Port() const { return port_; }

  /// "127.0.0.1:8080" or "[::1]:8080"; valid after Bind().
  std::string Address() const;

  /// Starts the event-loop threads; returns at once.
  void Start();

  /// Drains and stops the threads; idempotent. Returns when every thread has exited.
  void Stop();

 private:
  std::unique_ptr<ServerShared> shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  bool ipv6_ = false;
};

}  // namespace slipway::demo
