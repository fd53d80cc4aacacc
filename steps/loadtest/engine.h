#pragma once
// Internal: one engine thread = one libcurl multi handle driven by curl_multi_socket_action on its own
// epoll set. Threads share nothing on the hot path; once a second each hands its counters and sparse
// histograms of that second (a Delta) to the controller through a mutex-guarded queue.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <curl/curl.h>
#include <poll.h>

#include "pipeline/error.h"
#include "steps/loadtest/config.h"
#include "steps/loadtest/histogram.h"
#include "steps/loadtest/result.h"
#include "steps/loadtest/schedule.h"

struct epoll_event;

namespace slipway::steps::loadtest::internal {

/// A request as the engine sends it: the spec plus its body (read from body_file if needed).
struct CompiledRequest {
  const RequestSpec* spec = nullptr;
  Template body;
  bool dynamic_url = false;
  bool dynamic_headers = false;
  bool dynamic_body = false;
};

/// Everything the engine threads read and never write.
struct Plan {
  const Config* cfg = nullptr;
  std::vector<CompiledRequest> requests;
  std::vector<std::uint64_t> cumulative_weight;  // for the weighted pick
  int threads = 1;
  std::uint64_t lanes = 1;      // threads * worker_count
  std::uint64_t lane_base = 0;  // worker_index * threads
  std::size_t max_headers = 0;
  std::string proxy;     // "" = none
  std::string no_proxy;  // hosts that bypass the proxy
};

/// Builds the Plan: reads body files, sizes the lanes. Fails naming an unreadable body_file.
Expected<Plan> CompilePlan(const Config& cfg, int threads);

/// One request name's counters for one second, as handed to the controller.
struct RequestDelta {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::array<std::uint64_t, kCauseCount> causes{};
  std::vector<std::pair<int, std::uint64_t>> status;
  SparseHistogram latency;
};

/// One thread's second.
struct Delta {
  std::int64_t second = 0;
  std::uint64_t dropped = 0;
  std::array<std::uint64_t, 3> protocols{};  // HTTP/1.x, HTTP/2, HTTP/3
  std::vector<RequestDelta> per_request;     // indexed like Plan::requests (empty entries allowed)
};

/// Engine threads -> controller.
class DeltaQueue {
 public:
  void Push(Delta&& d) {
    std::lock_guard<std::mutex> lock(mu_);
    items_.push_back(std::move(d));
  }
  std::vector<Delta> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Delta> out;
    out.swap(items_);
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<Delta> items_;
};

/// How the controller tells the threads to stop.
enum StopMode : int { kRunning = 0, kGraceful = 1, kInterrupt = 2 };

/// State shared by the controller and every thread of a run.
struct Shared {
  std::int64_t start_ns = 0;  // CLOCK_MONOTONIC time of t = 0
  std::atomic<int> stop{kRunning};
};

/// CLOCK_MONOTONIC in nanoseconds.
std::int64_t MonotonicNanos();

class Engine {
 public:
  Engine(const Plan& plan, int thread_index, Shared& shared, DeltaQueue& queue);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Creates the epoll set and the multi handle; fails with the libcurl/system error.
  Expected<void> Init();
  /// Runs the event loop until the schedule is done and every request finished (or was interrupted).
  void Loop();

  std::uint64_t Interrupted() const { return interrupted_; }
  /// Requests in flight right now (for the progress line; relaxed).
  int InFlight() const { return in_flight_atomic_.load(std::memory_order_relaxed); }
  bool Finished() const { return finished_.load(std::memory_order_acquire); }

  struct Slot;

  /// libcurl's zero-timeout poll() on one of this thread's kept-alive connections, answered from what
  /// the event loop knows instead of a syscall (see the poll shim in engine.cpp). False: not ours.
  bool AnswerPoll(struct pollfd& p, int& answer);

 private:
  struct FdState {
    std::uint32_t registered = 0;  // events registered with epoll (0: not registered)
    bool wanted = false;           // libcurl wants events on it now
    bool owned = false;            // opened through our open-socket callback, closed through ours
    bool established = false;      // a request completed on it: connect and handshake are done
    bool dead = false;             // epoll saw input or a hangup while it was idle
  };
  struct RequestSecond {
    Histogram latency;
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;
    std::array<std::uint64_t, kCauseCount> causes{};
    std::array<std::uint32_t, 600> status{};
  };

  static int OnSocket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int OnTimer(CURLM* multi, long timeout_ms, void* userp);
  static curl_socket_t OnOpenSocket(void* clientp, curlsocktype purpose, struct curl_sockaddr* address);
  static int OnCloseSocket(void* clientp, curl_socket_t fd);

  FdState& Fd(int fd);
  void SetInterest(int fd, int what);
  Slot* Acquire();
  void Release(Slot* s);
  Slot* NewSlot();
  void Configure(Slot* s, int request, std::uint64_t index);
  void Start(Slot* s, std::int64_t intended, std::uint64_t index);
  void StartDue(std::int64_t now);
  void ProcessDone(std::int64_t now);
  void Complete(Slot* s, int curl_code, std::int64_t now);
  void SweepTimeouts(std::int64_t now);
  void Record(Slot* s, int curl_code, std::int64_t now);
  void Rollover(std::int64_t now);
  void Flush();
  void InterruptAll();
  int PickRequest();
  bool QuotaLeft() const { return quota_ == 0 || started_ < quota_; }
  // Waits for socket events up to wait_ns (epoll_pwait2, or epoll_wait where that is refused).
  int Wait(::epoll_event* events, std::int64_t wait_ns);

  const Plan& plan_;
  const Config& cfg_;
  int thread_index_;
  std::uint64_t lane_;
  Shared& shared_;
  DeltaQueue& queue_;

  int epfd_ = -1;
  bool pwait2_ = true;  // epoll_pwait2 works here (not under seccomp filters or tools that lack it)
  CURLM* multi_ = nullptr;
  std::vector<FdState> fds_;
  std::int64_t now_ = 0;  // last clock reading, relative to start
  std::int64_t curl_deadline_;

  std::vector<std::unique_ptr<Slot>> slots_;
  // Static URLs parsed once per thread: libcurl copies a parsed URL handle per request instead of parsing
  // the string again (a sixth of the user-space instructions per request on a short response). Null for templated URLs.
  std::vector<CURLU*> parsed_urls_;
  std::vector<Slot*> free_;
  std::size_t max_slots_ = 1;
  int in_flight_ = 0;
  std::atomic<int> in_flight_atomic_{0};
  std::atomic<bool> finished_{false};

  bool arrival_ = false;
  std::optional<ArrivalSchedule> arrivals_;
  std::optional<VuSchedule> vus_;
  int vu_target_ = 0;
  int active_vus_ = 0;
  std::uint64_t quota_ = 0;
  std::uint64_t started_ = 0;
  std::int64_t end_ = 0;        // no new requests from here (0: none)
  std::int64_t hard_stop_ = 0;  // interrupt what is left from here
  std::int64_t next_start_;
  bool draining_ = false;
  std::int64_t sweep_interval_ = 10 * kNanosPerMilli;
  std::int64_t next_sweep_ = 0;

  Rng rng_;
  std::vector<RequestSecond> sec_;
  std::int64_t cur_second_ = 0;
  std::int64_t next_second_ = kNanosPerSecond;
  std::uint64_t dropped_sec_ = 0;
  std::array<std::uint64_t, 3> protocols_sec_{};
  bool sec_dirty_ = false;
  std::uint64_t interrupted_ = 0;
};

}  // namespace slipway::steps::loadtest::internal
