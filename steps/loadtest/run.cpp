#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <map>
#include <optional>
#include <thread>

#include <curl/curl.h>

#include "steps/loadtest/curl_alloc.h"
#include "steps/loadtest/engine.h"
#include "steps/loadtest/loadtest.h"
#include "steps/loadtest/threshold.h"

namespace slipway::steps::loadtest {

namespace {

using internal::Delta;

// Threads: one per CPU at most; fewer when the load is small (a thread handles ~10k req/s easily).
int ChooseThreads(const Config& cfg) {
  int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (cfg.threads > 0) return cfg.threads;
  int want;
  if (IsArrivalRate(cfg.executor)) {
    double per_lane = cfg.PeakRatePerSecond() / std::max(1, cfg.worker_count);
    want = static_cast<int>(std::ceil(per_lane / 10000.0));
  } else {
    want = std::max(1, cfg.PeakVus() / std::max(1, cfg.worker_count));
  }
  return std::clamp(want, 1, hw);
}

// Adds the threads' per-second deltas into running totals and the series.
class Aggregator {
 public:
  explicit Aggregator(const Config& cfg) : cfg_(cfg), per_request_(cfg.requests.size()) {}

  void Add(const Delta& d) {
    std::vector<Stats>& window = window_[d.second];
    if (window.empty()) window.resize(per_request_.size());
    SeriesPoint& sp = series_[d.second];
    sp.t = d.second;
    sp.dropped += d.dropped;
    dropped_ += d.dropped;
    for (std::size_t p = 0; p < d.protocols.size(); ++p) protocols_[p] += d.protocols[p];
    for (std::size_t r = 0; r < d.per_request.size(); ++r) {
      const internal::RequestDelta& rd = d.per_request[r];
      if (rd.requests == 0) continue;
      Stats& s = per_request_[r];
      s.requests += rd.requests;
      s.errors += rd.errors;
      for (std::size_t c = 0; c < rd.causes.size(); ++c) s.errors_by_cause[c] += rd.causes[c];
      for (const auto& [code, n] : rd.status) s.status_codes[code] += n;
      s.latency.Merge(rd.latency);
      Stats& w = window[r];
      w.requests += rd.requests;
      w.errors += rd.errors;
      for (std::size_t c = 0; c < rd.causes.size(); ++c) w.errors_by_cause[c] += rd.causes[c];
      w.latency.Merge(rd.latency);
      sp.requests += rd.requests;
      sp.errors += rd.errors;
      sp.latency.Merge(rd.latency);
    }
  }

  // A Result of everything so far (series only when asked: the controller's checks do not need it).
  Result Snapshot(double duration_s, bool with_series) const {
    Result r;
    r.executor = ExecutorName(cfg_.executor);
    r.duration_s = duration_s;
    r.dropped = dropped_;
    for (std::size_t i = 0; i < per_request_.size(); ++i) {
      r.by_request[cfg_.requests[i].name] = per_request_[i];
      r.total.Merge(per_request_[i]);
    }
    static const char* kProtocols[] = {"1.1", "2", "3"};
    for (std::size_t p = 0; p < protocols_.size(); ++p)
      if (protocols_[p]) r.protocols[kProtocols[p]] = protocols_[p];
    if (with_series && !series_.empty()) {
      for (std::int64_t t = 0; t <= series_.rbegin()->first; ++t) {
        auto it = series_.find(t);
        SeriesPoint sp = it == series_.end() ? SeriesPoint{} : it->second;
        sp.t = t;
        r.series.push_back(std::move(sp));
      }
    }
    return r;
  }

  // One second's data as a Result of 1 s (what abort_on_fail judges), or nullopt when it has no requests.
  std::optional<Result> SecondResult(std::int64_t t) const {
    auto it = window_.find(t);
    if (it == window_.end()) return std::nullopt;
    Result r;
    r.duration_s = 1.0;
    for (std::size_t i = 0; i < it->second.size(); ++i) {
      r.by_request[cfg_.requests[i].name] = it->second[i];
      r.total.Merge(it->second[i]);
    }
    if (r.total.requests == 0) return std::nullopt;
    if (const SeriesPoint* sp = Second(t)) r.dropped = sp->dropped;
    return r;
  }
  // Forgets per-second detail older than `t` (the series keeps its own summary).
  void PruneWindow(std::int64_t t) {
    while (!window_.empty() && window_.begin()->first < t) window_.erase(window_.begin());
  }

  const SeriesPoint* Second(std::int64_t t) const {
    auto it = series_.find(t);
    return it == series_.end() ? nullptr : &it->second;
  }
  std::uint64_t Requests() const {
    std::uint64_t n = 0;
    for (const auto& s : per_request_) n += s.requests;
    return n;
  }
  std::uint64_t Errors() const {
    std::uint64_t n = 0;
    for (const auto& s : per_request_) n += s.errors;
    return n;
  }
  std::uint64_t Dropped() const { return dropped_; }

 private:
  const Config& cfg_;
  std::vector<Stats> per_request_;
  std::map<std::int64_t, SeriesPoint> series_;
  std::map<std::int64_t, std::vector<Stats>> window_;  // the last few seconds, per request
  std::uint64_t dropped_ = 0;
  std::array<std::uint64_t, 3> protocols_{};
};

// Judges abort_on_fail thresholds once a second on the second that just ended (counts: on the whole run
// so far). A breach must persist for delay_abort_eval before the run is aborted, so one slow second does
// not stop a run; a second without responses neither starts nor ends a breach.
class AbortWatch {
 public:
  explicit AbortWatch(const Config& cfg) {
    for (const auto& t : cfg.thresholds) {
      if (!t.abort_on_fail) continue;
      // A worker sees only its share of counts, so count-like metrics are judged only after merging.
      bool intensive = t.key.metric == Metric::kHttpReqDuration || t.key.metric == Metric::kHttpReqFailed;
      if (cfg.worker_count > 1 && !intensive) continue;
      specs_.push_back(t);
    }
    since_.assign(specs_.size(), -1);
  }
  bool Empty() const { return specs_.empty(); }
  // Returns the reason to abort, or "". `second` is the last complete second.
  std::string Check(const Aggregator& agg, std::int64_t second, std::int64_t elapsed_ns) {
    std::optional<Result> window = agg.SecondResult(second);
    std::optional<Result> cumulative;
    for (std::size_t i = 0; i < specs_.size(); ++i) {
      const ThresholdSpec& spec = specs_[i];
      const Result* data;
      if (spec.expr.agg == ThresholdExpr::Agg::kCount) {
        if (!cumulative) cumulative = agg.Snapshot(static_cast<double>(elapsed_ns) / kNanosPerSecond, false);
        data = &*cumulative;
      } else {
        if (!window) continue;
        data = &*window;
      }
      double measured = Measure(spec.key, spec.expr, *data);
      if (Holds(measured, spec.expr.op, spec.expr.limit)) {
        since_[i] = -1;
        continue;
      }
      // The breach started when the offending second did.
      if (since_[i] < 0) since_[i] = second * kNanosPerSecond;
      std::int64_t lasted = (second + 1) * kNanosPerSecond - since_[i];
      if (lasted > spec.delay_abort_eval) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%g", measured);
        return "threshold " + spec.key.text + " " + spec.expr.text + " failed (measured " + buf + ") for " +
               FormatDuration(lasted) + ", at " + FormatDuration(elapsed_ns / kNanosPerMilli * kNanosPerMilli);
      }
    }
    return "";
  }

 private:
  std::vector<ThresholdSpec> specs_;
  std::vector<std::int64_t> since_;
};

}  // namespace

Expected<Result> RunInProcess(const Config& cfg, const Hooks& hooks) {
  internal::InitCurlWithFreeLists();
  // A peer closing a TLS connection while we write must not kill the process (NOSIGNAL handles).
  std::signal(SIGPIPE, SIG_IGN);
  const int threads = ChooseThreads(cfg);
  auto plan = internal::CompilePlan(cfg, threads);
  if (!plan) return tl::unexpected(plan.error());
  internal::Shared shared;
  internal::DeltaQueue queue;
  std::vector<std::unique_ptr<internal::Engine>> engines;
  for (int t = 0; t < threads; ++t) {
    engines.push_back(std::make_unique<internal::Engine>(*plan, t, shared, queue));
    if (auto ok = engines.back()->Init(); !ok) return tl::unexpected(ok.error());
  }
  Aggregator agg(cfg);
  AbortWatch abort_watch(cfg);
  const std::int64_t start = internal::MonotonicNanos() + 2 * kNanosPerMilli;
  shared.start_ns = start;
  std::vector<std::thread> running;
  for (auto& e : engines) running.emplace_back([&e] { e->Loop(); });

  const double planned_s = static_cast<double>(cfg.PlannedDuration()) / kNanosPerSecond;
  std::int64_t next_check = kNanosPerSecond + 200 * kNanosPerMilli;  // threads flush a second at its end
  bool aborted = false;
  std::string abort_reason;
  for (;;) {
    bool all_done = true;
    for (const auto& e : engines) all_done = all_done && e->Finished();
    if (all_done) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (auto& d : queue.Take()) agg.Add(d);
    if (hooks.cancel && hooks.cancel->load()) shared.stop.store(internal::kInterrupt);
    std::int64_t elapsed = internal::MonotonicNanos() - start;
    if (elapsed < next_check) continue;
    std::int64_t last_second = elapsed / kNanosPerSecond - 1;
    next_check = (elapsed / kNanosPerSecond + 1) * kNanosPerSecond + 200 * kNanosPerMilli;
    if (!abort_watch.Empty() && !aborted && last_second >= 0) {
      std::string why = abort_watch.Check(agg, last_second, elapsed);
      if (!why.empty()) {
        aborted = true;
        abort_reason = why;
        shared.stop.store(internal::kInterrupt);
      }
    }
    if (hooks.on_progress) {
      Progress p;
      p.elapsed_s = static_cast<double>(elapsed) / kNanosPerSecond;
      p.planned_s = planned_s;
      p.requests = agg.Requests();
      p.errors = agg.Errors();
      p.dropped = agg.Dropped();
      if (const SeriesPoint* sp = agg.Second(last_second)) {
        p.rps = static_cast<double>(sp->requests);
        p.p95_ms = static_cast<double>(sp->latency.Percentile(95)) / 1e6;
      }
      for (const auto& e : engines) p.in_flight += e->InFlight();
      hooks.on_progress(p);
    }
    agg.PruneWindow(last_second - 2);
  }
  for (auto& t : running) t.join();
  const std::int64_t elapsed = internal::MonotonicNanos() - start;
  for (auto& d : queue.Take()) agg.Add(d);
  Result r = agg.Snapshot(static_cast<double>(elapsed) / kNanosPerSecond, true);
  r.threads = threads;
  r.workers = 1;
  for (const auto& e : engines) r.interrupted += e->Interrupted();
  r.aborted = aborted;
  r.abort_reason = abort_reason;
  r.thresholds = EvaluateThresholds(cfg.thresholds, r);
  return r;
}

Expected<Result> Run(const Config& cfg, const Hooks& hooks) {
  if (cfg.worker_count <= 1 && cfg.kubernetes) {
    auto parts = RunKubernetesJob(cfg, hooks);
    if (!parts) return tl::unexpected(parts.error());
    Result merged = Merge(*parts);
    merged.thresholds = EvaluateThresholds(cfg.thresholds, merged);
    return merged;
  }
  if (cfg.worker_count <= 1 && cfg.workers > 1) {
    auto parts = RunLocalWorkers(cfg, hooks);
    if (!parts) return tl::unexpected(parts.error());
    Result merged = Merge(*parts);
    merged.thresholds = EvaluateThresholds(cfg.thresholds, merged);
    return merged;
  }
  return RunInProcess(cfg, hooks);
}

std::string ProgressLine(const Progress& p) {
  char buf[256];
  std::string planned = p.planned_s > 0 ? "/" + FormatDuration(static_cast<Nanos>(p.planned_s * kNanosPerSecond)) : "";
  double rate = p.requests ? 100.0 * static_cast<double>(p.errors) / static_cast<double>(p.requests) : 0.0;
  std::snprintf(buf, sizeof buf, "  %5.1fs%s  %8.0f req/s  p95 %8.2f ms  errors %llu (%.2f%%)", p.elapsed_s,
                planned.c_str(), p.rps, p.p95_ms, static_cast<unsigned long long>(p.errors), rate);
  std::string s = buf;
  if (p.dropped) s += "  dropped " + std::to_string(p.dropped);
  s += "  requests " + std::to_string(p.requests);
  return s;
}

std::string ProgressJsonLine(const Progress& p) {
  nlohmann::json j = {{"progress",
                       {{"elapsed_s", p.elapsed_s},
                        {"planned_s", p.planned_s},
                        {"requests", p.requests},
                        {"errors", p.errors},
                        {"dropped", p.dropped},
                        {"rps", p.rps},
                        {"p95_ms", p.p95_ms},
                        {"in_flight", p.in_flight}}}};
  return j.dump();
}

bool ParseProgressJsonLine(std::string_view line, Progress& out) {
  if (line.rfind("{\"progress\"", 0) != 0) return false;
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.contains("progress") || !j["progress"].is_object()) return false;
  const auto& p = j["progress"];
  out.elapsed_s = p.value("elapsed_s", 0.0);
  out.planned_s = p.value("planned_s", 0.0);
  out.requests = p.value("requests", std::uint64_t{0});
  out.errors = p.value("errors", std::uint64_t{0});
  out.dropped = p.value("dropped", std::uint64_t{0});
  out.rps = p.value("rps", 0.0);
  out.p95_ms = p.value("p95_ms", 0.0);
  out.in_flight = p.value("in_flight", 0);
  return true;
}

}  // namespace slipway::steps::loadtest
