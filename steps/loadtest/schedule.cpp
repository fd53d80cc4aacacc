#include "steps/loadtest/schedule.h"

#include <algorithm>
#include <cmath>

namespace slipway::steps::loadtest {

namespace {
constexpr double kSecond = static_cast<double>(kNanosPerSecond);
}

RateProfile RateProfile::Constant(double rate_per_second, Nanos duration) {
  RateProfile p;
  p.segments.push_back({duration == 0 ? INT64_MAX / 4 : duration, rate_per_second, rate_per_second});
  return p;
}

RateProfile RateProfile::FromStages(double start_per_second, const std::vector<Stage>& stages, double unit_scale) {
  RateProfile p;
  double from = start_per_second;
  for (const auto& s : stages) {
    double to = s.target * unit_scale;
    p.segments.push_back({s.duration, from, to});
    from = to;
  }
  return p;
}

double RateProfile::Integral(Nanos t) const {
  double total = 0;
  for (const auto& s : segments) {
    if (t <= 0) break;
    Nanos d = std::min(t, s.duration);
    double secs = static_cast<double>(d) / kSecond;
    double seg_secs = static_cast<double>(s.duration) / kSecond;
    double slope = seg_secs > 0 ? (s.to - s.from) / seg_secs : 0;
    total += s.from * secs + 0.5 * slope * secs * secs;
    t -= d;
  }
  return total;
}

ArrivalSchedule::ArrivalSchedule(RateProfile profile, std::uint64_t lane, std::uint64_t lanes)
    : profile_(std::move(profile)), lanes_(lanes ? lanes : 1), index_(lane) {
  time_ = TimeOf(static_cast<double>(index_));
}

void ArrivalSchedule::Advance() {
  if (time_ == kNever) return;
  index_ += lanes_;
  time_ = TimeOf(static_cast<double>(index_));
}

// Solves Integral(t) = k for the segment holding it, walking the cursor forward (k only grows).
Nanos ArrivalSchedule::TimeOf(double k) {
  while (seg_ < profile_.segments.size()) {
    const auto& s = profile_.segments[seg_];
    double secs = static_cast<double>(s.duration) / kSecond;
    double slope = secs > 0 ? (s.to - s.from) / secs : 0;
    double in_seg = s.from * secs + 0.5 * slope * secs * secs;
    double x = k - seg_start_count_;
    if (x < in_seg) {
      double tau;  // seconds into the segment
      if (std::abs(slope) < 1e-12) {
        tau = x / s.from;
      } else {
        // from*tau + slope/2*tau^2 = x; the root that starts from 0.
        double disc = s.from * s.from + 2 * slope * x;
        tau = (-s.from + std::sqrt(std::max(0.0, disc))) / slope;
      }
      tau = std::clamp(tau, 0.0, secs);
      return seg_start_time_ + static_cast<Nanos>(std::llround(tau * kSecond));
    }
    seg_start_count_ += in_seg;
    seg_start_time_ += s.duration;
    ++seg_;
  }
  return kNever;
}

std::uint64_t ShareOf(std::uint64_t total, std::uint64_t lane, std::uint64_t lanes) {
  if (lanes == 0) return total;
  return total / lanes + (lane < total % lanes ? 1 : 0);
}

VuSchedule::VuSchedule(const Config& cfg, std::uint64_t lane, std::uint64_t lanes)
    : lane_(lane), lanes_(lanes ? lanes : 1) {
  if (cfg.executor == Executor::kRampingVus) {
    stages_ = cfg.stages;
    start_ = cfg.start_vus;
    ramping_ = true;
  } else {
    start_ = cfg.vus;
  }
}

int VuSchedule::Share(double global) const {
  auto total = static_cast<std::uint64_t>(std::max(0.0, std::floor(global + 1e-9)));
  return static_cast<int>(ShareOf(total, lane_, lanes_));
}

int VuSchedule::TargetAt(Nanos t) const {
  if (!ramping_) return Share(start_);
  double from = start_;
  Nanos at = 0;
  for (const auto& s : stages_) {
    if (t < at + s.duration) {
      double f = s.duration > 0 ? static_cast<double>(t - at) / static_cast<double>(s.duration) : 1.0;
      return Share(from + (s.target - from) * f);
    }
    at += s.duration;
    from = s.target;
  }
  return Share(from);
}

int VuSchedule::Peak() const {
  double peak = start_;
  for (const auto& s : stages_) peak = std::max(peak, s.target);
  return Share(peak);
}

}  // namespace slipway::steps::loadtest
