#pragma once
// When requests start: the arrival times of the arrival-rate executors and the VU counts of the VU
// executors, for one "lane" (an engine thread of one worker) out of all lanes of a test.
//
// One global schedule is dealt out round-robin: arrival k of the whole test (k = 0, 1, ...) belongs to
// lane k mod lanes, so N lanes together start exactly the requests one lane would, at the same times.

#include <cstdint>
#include <vector>

#include "steps/loadtest/config.h"

namespace slipway::steps::loadtest {

/// Piecewise-linear rate (requests per second) from t = 0.
struct RateProfile {
  struct Segment {
    Nanos duration = 0;
    double from = 0;  // per second at the segment's start
    double to = 0;    // per second at its end
  };
  std::vector<Segment> segments;

  /// constant-arrival-rate: rate per time_unit for duration (a duration of 0 means unbounded).
  static RateProfile Constant(double rate_per_second, Nanos duration);
  /// ramping-arrival-rate: from start_rate through each stage's target.
  static RateProfile FromStages(double start_per_second, const std::vector<Stage>& stages, double unit_scale);
  /// Expected number of arrivals in [0, t).
  double Integral(Nanos t) const;
};

/// The arrival times of one lane.
class ArrivalSchedule {
 public:
  ArrivalSchedule(RateProfile profile, std::uint64_t lane, std::uint64_t lanes);
  /// Time (ns from start) of the current arrival, or kNever when the schedule is over.
  Nanos Time() const { return time_; }
  /// Index of the current arrival in the whole test.
  std::uint64_t Index() const { return index_; }
  /// Moves to this lane's next arrival.
  void Advance();

  static constexpr Nanos kNever = INT64_MAX;

 private:
  Nanos TimeOf(double k);
  RateProfile profile_;
  std::uint64_t lanes_;
  std::uint64_t index_;
  Nanos time_ = 0;
  // Cursor: the segment holding the last solved arrival and the arrivals before it.
  std::size_t seg_ = 0;
  double seg_start_count_ = 0;
  Nanos seg_start_time_ = 0;
};

/// The VU target of one lane over time (constant-vus or ramping-vus).
class VuSchedule {
 public:
  VuSchedule(const Config& cfg, std::uint64_t lane, std::uint64_t lanes);
  /// VUs this lane should run at t (ns from start): its share of floor(the interpolated global target).
  int TargetAt(Nanos t) const;
  /// The most VUs this lane ever runs.
  int Peak() const;
  /// True when the target changes over time (ramping-vus).
  bool Ramping() const { return ramping_; }

 private:
  int Share(double global) const;
  std::vector<Stage> stages_;
  double start_ = 0;
  bool ramping_ = false;
  std::uint64_t lane_;
  std::uint64_t lanes_;
};

/// Lane `lane`'s share of `total` when split as evenly as possible among `lanes`.
std::uint64_t ShareOf(std::uint64_t total, std::uint64_t lane, std::uint64_t lanes);

}  // namespace slipway::steps::loadtest
