// Durations: what the plan accepts and how durations are shown to people.

#include "pipeline/duration.h"

#include <gtest/gtest.h>

namespace slipway::pipeline {
namespace {

using std::chrono::milliseconds;

class DurationTest : public ::testing::Test {
 protected:
  /// Milliseconds, or -1 when the text is rejected.
  static long long Ms(std::string_view text) {
    auto d = ParseDuration(text);
    return d ? d->count() : -1;
  }
};

TEST_F(DurationTest, ParsesEachUnit) {
  EXPECT_EQ(Ms("250ms"), 250);
  EXPECT_EQ(Ms("30s"), 30'000);
  EXPECT_EQ(Ms("5m"), 300'000);
  EXPECT_EQ(Ms("1h"), 3'600'000);
  EXPECT_EQ(Ms("1d"), 86'400'000);
}

TEST_F(DurationTest, ParsesCompoundsAndFractions) {
  EXPECT_EQ(Ms("1h30m"), 5'400'000);
  EXPECT_EQ(Ms("1m30s500ms"), 90'500);
  EXPECT_EQ(Ms("1.5s"), 1'500);
  EXPECT_EQ(Ms(".5s"), 500);
  EXPECT_EQ(Ms("0s"), 0);
}

TEST_F(DurationTest, BareNumberMeansSeconds) {
  EXPECT_EQ(Ms("30"), 30'000);
  EXPECT_EQ(Ms("0.25"), 250);
}

TEST_F(DurationTest, RejectsMalformedText) {
  for (const char* bad : {"", "5x", "s", "-5s", "1s30", "1..5s", "1 s", "5 m", "ten", "1e3s", "30sec"})
    EXPECT_EQ(Ms(bad), -1) << "'" << bad << "' was accepted";
}

TEST_F(DurationTest, ErrorNamesTheTextAndTheUnits) {
  auto d = ParseDuration("5x");
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().message,
            "invalid duration '5x'; expected a number with a unit: ms, s, m, h (e.g. 500ms, 30s, 5m, 1h30m)");
}

TEST_F(DurationTest, FormatsForPeople) {
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0ms");
  EXPECT_EQ(FormatDuration(milliseconds(850)), "850ms");
  EXPECT_EQ(FormatDuration(milliseconds(1'000)), "1.0s");
  EXPECT_EQ(FormatDuration(milliseconds(12'345)), "12.3s");
  EXPECT_EQ(FormatDuration(milliseconds(60'000)), "1m00s");
  EXPECT_EQ(FormatDuration(milliseconds(245'000)), "4m05s");
  EXPECT_EQ(FormatDuration(milliseconds(3'720'000)), "1h02m");
  EXPECT_EQ(FormatDuration(milliseconds(90'000'000)), "25h00m");
}

TEST_F(DurationTest, FormatParsesBackForWholeUnits) {
  for (long long ms : {250LL, 60'000LL, 245'000LL, 3'720'000LL}) {
    std::string text = FormatDuration(milliseconds(ms));
    EXPECT_EQ(Ms(text), ms) << text;
  }
}

}  // namespace
}  // namespace slipway::pipeline
