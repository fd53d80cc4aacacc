// Diagnostics: collection, terminal formatting (sorted by position, source line and caret) and
// the "did you mean" suggestions every error message relies on.

#include "pipeline/diagnostics.h"

#include <gtest/gtest.h>

#include "test/pipeline/testing.h"

namespace slipway::pipeline {
namespace {

class DiagnosticsTest : public ::testing::Test {
 protected:
  Diagnostics diag_;
};

TEST_F(DiagnosticsTest, FormatShortHasPositionMessageAndHint) {
  Diagnostic d{SourceLoc{"plan.yaml", 3, 7}, "unknown key 'x'", "did you mean 'y'?"};
  EXPECT_EQ(Diagnostics::FormatShort(d), "plan.yaml:3:7: error: unknown key 'x'; did you mean 'y'?");
  Diagnostic no_file{SourceLoc{}, "--set: invalid 'x'", ""};
  EXPECT_EQ(Diagnostics::FormatShort(no_file), "error: --set: invalid 'x'");
  Diagnostic file_only{SourceLoc{"values.yaml", 0, 0}, "cannot read", ""};
  EXPECT_EQ(Diagnostics::FormatShort(file_only), "values.yaml: error: cannot read");
}

TEST_F(DiagnosticsTest, FormatSortsByPositionQuotesTheLineAndCounts) {
  diag_.AddSource("plan.yaml", "first: 1\nsecond: 2\n  third: 3\n");
  diag_.Error(SourceLoc{"plan.yaml", 3, 3}, "late");
  diag_.Error(SourceLoc{"plan.yaml", 1, 8}, "early", "a hint");
  diag_.Error(SourceLoc{}, "no position");
  EXPECT_TRUE(diag_.HasErrors());
  EXPECT_EQ(diag_.Items().size(), 3u);
  EXPECT_EQ(diag_.Items()[0].message, "late");  // Items() keeps the order found
  EXPECT_EQ(diag_.Format(),
            "error: no position\n"
            "plan.yaml:1:8: error: early; a hint\n"
            "  first: 1\n"
            "         ^\n"
            "plan.yaml:3:3: error: late\n"
            "    third: 3\n"
            "    ^\n"
            "3 errors\n");
}

TEST_F(DiagnosticsTest, EmptyDiagnosticsFormatAsZeroErrors) {
  EXPECT_FALSE(diag_.HasErrors());
  EXPECT_EQ(diag_.Format(), "0 errors\n");
}

TEST_F(DiagnosticsTest, ClosestMatchSuggestsNearTyposOnly) {
  const std::vector<std::string> keys = {"needs", "with", "tags", "timeout", "retries"};
  EXPECT_EQ(ClosestMatch("need", keys), "needs");
  EXPECT_EQ(ClosestMatch("tiemout", keys), "timeout");
  EXPECT_EQ(ClosestMatch("retry", keys), "");  // 2 edits in a 5-letter word: too far
  EXPECT_EQ(ClosestMatch("image", keys), "");
  EXPECT_EQ(ClosestMatch("anything", {}), "");
}

// Swapped letters are the commonest typo; Levenshtein counts a swap as two edits, so short words
// with a swap ("biuld", "nmae") get no suggestion.
TEST_F(DiagnosticsTest, ClosestMatchSuggestsForSwappedLetters) {
  EXPECT_EQ(ClosestMatch("biuld", {"build", "deploy"}), "build");
  EXPECT_EQ(ClosestMatch("nmae", {"name", "created"}), "name");
  EXPECT_EQ(ClosestMatch("tgas", {"tags", "needs"}), "tags");
}

}  // namespace
}  // namespace slipway::pipeline
