#include "steps/loadtest/schedule.h"

#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

namespace slipway::steps::loadtest {
namespace {

std::vector<Nanos> AllTimes(ArrivalSchedule s) {
  std::vector<Nanos> out;
  while (s.Time() != ArrivalSchedule::kNever && out.size() < 1000000) {
    out.push_back(s.Time());
    s.Advance();
  }
  return out;
}

TEST(ScheduleTest, ConstantRateSpacesArrivalsEvenly) {
  auto times = AllTimes(ArrivalSchedule(RateProfile::Constant(200, kNanosPerSecond), 0, 1));
  ASSERT_EQ(times.size(), 200u);
  for (std::size_t k = 0; k < times.size(); ++k) EXPECT_EQ(times[k], static_cast<Nanos>(k) * 5 * kNanosPerMilli);
}

TEST(ScheduleTest, LanesPartitionTheGlobalScheduleExactly) {
  RateProfile p = RateProfile::FromStages(0, {{2 * kNanosPerSecond, 300}, {kNanosPerSecond, 300}, {kNanosPerSecond, 0}}, 1.0);
  auto one = AllTimes(ArrivalSchedule(p, 0, 1));
  std::vector<Nanos> merged;
  for (std::uint64_t lane = 0; lane < 6; ++lane) {
    auto part = AllTimes(ArrivalSchedule(p, lane, 6));
    merged.insert(merged.end(), part.begin(), part.end());
  }
  std::sort(merged.begin(), merged.end());
  EXPECT_EQ(merged, one);
}

TEST(ScheduleTest, RampingRateFollowsTheIntegralOfTheRamp) {
  // 0 -> 100/s over 2 s, then 100/s for 1 s: 100 + 100 arrivals.
  RateProfile p = RateProfile::FromStages(0, {{2 * kNanosPerSecond, 100}, {kNanosPerSecond, 100}}, 1.0);
  EXPECT_DOUBLE_EQ(p.Integral(2 * kNanosPerSecond), 100.0);
  auto times = AllTimes(ArrivalSchedule(p, 0, 1));
  ASSERT_EQ(times.size(), 200u);
  // On the ramp, arrival k is at sqrt(2k/slope) with slope 50/s^2: k = 25 at 1 s.
  EXPECT_EQ(times[25], kNanosPerSecond);
  EXPECT_EQ(times[100], 2 * kNanosPerSecond);
  EXPECT_EQ(times[150], 2 * kNanosPerSecond + 500 * kNanosPerMilli);
}

TEST(ScheduleTest, VuTargetsRampLinearlyAndAreSharedAmongLanes) {
  Config cfg;
  cfg.executor = Executor::kRampingVus;
  cfg.start_vus = 0;
  cfg.stages = {{10 * kNanosPerSecond, 10}, {5 * kNanosPerSecond, 10}, {5 * kNanosPerSecond, 0}};
  VuSchedule one(cfg, 0, 1);
  EXPECT_EQ(one.TargetAt(0), 0);
  EXPECT_EQ(one.TargetAt(5 * kNanosPerSecond), 5);
  EXPECT_EQ(one.TargetAt(12 * kNanosPerSecond), 10);
  EXPECT_EQ(one.TargetAt(17500 * kNanosPerMilli), 5);
  EXPECT_EQ(one.TargetAt(30 * kNanosPerSecond), 0);
  EXPECT_EQ(one.Peak(), 10);
  EXPECT_TRUE(one.Ramping());
  int sum = 0;
  for (std::uint64_t lane = 0; lane < 3; ++lane) sum += VuSchedule(cfg, lane, 3).TargetAt(7 * kNanosPerSecond);
  EXPECT_EQ(sum, 7);
}

TEST(ScheduleTest, SharesSplitAsEvenlyAsPossible) {
  EXPECT_EQ(ShareOf(101, 0, 4), 26u);
  EXPECT_EQ(ShareOf(101, 1, 4), 25u);
  EXPECT_EQ(ShareOf(101, 3, 4), 25u);
  EXPECT_EQ(ShareOf(2, 3, 4), 0u);
}

}  // namespace
}  // namespace slipway::steps::loadtest
