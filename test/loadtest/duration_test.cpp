#include "steps/loadtest/duration.h"

#include <gtest/gtest.h>

namespace slipway::steps::loadtest {
namespace {

TEST(DurationTest, ParsesEveryUnitAndCompoundForms) {
  EXPECT_EQ(*ParseDuration("30s"), 30 * kNanosPerSecond);
  EXPECT_EQ(*ParseDuration("5m"), 300 * kNanosPerSecond);
  EXPECT_EQ(*ParseDuration("200ms"), 200 * kNanosPerMilli);
  EXPECT_EQ(*ParseDuration("1h"), 3600 * kNanosPerSecond);
  EXPECT_EQ(*ParseDuration("1m30s"), 90 * kNanosPerSecond);
  EXPECT_EQ(*ParseDuration("1.5s"), 1500 * kNanosPerMilli);
  EXPECT_EQ(*ParseDuration("250us"), 250 * kNanosPerMicro);
  EXPECT_EQ(*ParseDuration("10ns"), 10);
  EXPECT_EQ(*ParseDuration("0"), 0);
  EXPECT_EQ(*ParseDuration(" 2s "), 2 * kNanosPerSecond);
}

TEST(DurationTest, RejectsTextWithoutUnitsAndNamesIt) {
  auto bad = ParseDuration("abc");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "invalid duration 'abc' (expected e.g. 30s, 5m, 200ms, 1h)");
  for (const char* text : {"30", "s", "", "1.2.3s", "5x", "-1s", "1s5"}) EXPECT_FALSE(ParseDuration(text)) << text;
}

TEST(DurationTest, FormatsTheShortestReadableForm) {
  EXPECT_EQ(FormatDuration(30 * kNanosPerSecond), "30s");
  EXPECT_EQ(FormatDuration(90 * kNanosPerSecond), "1m30s");
  EXPECT_EQ(FormatDuration(3600 * kNanosPerSecond), "1h");
  EXPECT_EQ(FormatDuration(1500 * kNanosPerMilli), "1.5s");
  EXPECT_EQ(FormatDuration(200 * kNanosPerMilli), "200ms");
  EXPECT_EQ(FormatDuration(250 * kNanosPerMicro), "250us");
  EXPECT_EQ(FormatDuration(0), "0s");
}

}  // namespace
}  // namespace slipway::steps::loadtest
