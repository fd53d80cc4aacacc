// GitHub workflow-command escaping: what a plan path or an error message can contain must not end the
// command early or split its properties.
#include <gtest/gtest.h>

#include "pipeline/events.h"

namespace slipway::pipeline {
namespace {

TEST(GithubEscape, MessageEscapesPercentAndLineBreaksOnly) {
  EXPECT_EQ(GithubEscape("50% done\r\nnext: a,b", false), "50%25 done%0D%0Anext: a,b");
}

TEST(GithubEscape, PropertyAlsoEscapesColonAndComma) {
  EXPECT_EQ(GithubEscape("C:\\plans\\a,b.yaml", true), "C%3A\\plans\\a%2Cb.yaml");
  EXPECT_EQ(GithubEscape("100%", true), "100%25");
}

TEST(GithubErrorCommand, WithLocation) {
  SourceLoc loc{"plans/x,y.yaml", 6, 10};
  EXPECT_EQ(GithubErrorCommand(loc, "step failed:\nexit 3"),
            "::error file=plans/x%2Cy.yaml,line=6,col=10::step failed:%0Aexit 3");
}

TEST(GithubErrorCommand, WithoutLocation) {
  EXPECT_EQ(GithubErrorCommand(SourceLoc{"p.yaml", 0, 0}, "run failed"), "::error::run failed");
}

}  // namespace
}  // namespace slipway::pipeline
