// Reading a tool's version from what it prints, and matching it against a plan's constraint.
#include <gtest/gtest.h>

#include "steps/prereq.h"

namespace slipway::steps {
namespace {

using V = std::vector<int>;

TEST(ParseVersion, ReadsWhatRealToolsPrint) {
  EXPECT_EQ(ParseVersion("v1.32.4-dispatcher"), (V{1, 32, 4}));
  EXPECT_EQ(ParseVersion("v3.14.2+gc309b6f"), (V{3, 14, 2}));
  EXPECT_EQ(ParseVersion("Client version: stable-2.14.10"), (V{2, 14, 10}));
  EXPECT_EQ(ParseVersion("go version go1.21.5 linux/amd64"), (V{1, 21, 5}));
  EXPECT_EQ(ParseVersion("Python 3.11"), (V{3, 11, 0}));
  EXPECT_EQ(ParseVersion("jq-1.6"), (V{1, 6, 0}));
  EXPECT_EQ(ParseVersion("kubectl 1.30.1."), (V{1, 30, 1}));
}

TEST(ParseVersion, SkipsAddressesPrintedBeforeTheVersion) {
  EXPECT_EQ(ParseVersion("server 10.0.0.1:8085\nclient version 1.12.3"), (V{1, 12, 3}));
  EXPECT_EQ(ParseVersion("listening on 192.168.10.20"), V{});
}

TEST(ParseVersion, NoVersionIsEmpty) {
  EXPECT_EQ(ParseVersion("command not found"), V{});
  EXPECT_EQ(ParseVersion(""), V{});
  EXPECT_EQ(ParseVersion("99999999999.1"), V{});  // out of int range: no version rather than a crash
}

TEST(VersionSatisfies, Operators) {
  V v{1, 27, 3};
  EXPECT_TRUE(*VersionSatisfies(v, ">=1.27"));
  EXPECT_FALSE(*VersionSatisfies(v, ">=1.28"));
  EXPECT_TRUE(*VersionSatisfies(v, ">1.27"));
  EXPECT_FALSE(*VersionSatisfies(v, ">1.27.3"));
  EXPECT_TRUE(*VersionSatisfies(v, "<2"));
  EXPECT_TRUE(*VersionSatisfies(v, "<=1.27.3"));
  EXPECT_TRUE(*VersionSatisfies(v, "!=1.26"));
  EXPECT_TRUE(*VersionSatisfies(v, "^1.2"));
  EXPECT_FALSE(*VersionSatisfies(v, "^2.0"));
  EXPECT_TRUE(*VersionSatisfies(v, "~1.27"));
  EXPECT_FALSE(*VersionSatisfies(v, "~1.26"));
  EXPECT_TRUE(*VersionSatisfies(v, "1.27"));     // any 1.27.x
  EXPECT_FALSE(*VersionSatisfies(v, "=1.27.2"));
  EXPECT_TRUE(*VersionSatisfies(v, "v1.27.3"));
  EXPECT_TRUE(*VersionSatisfies(v, "*"));
  EXPECT_TRUE(*VersionSatisfies(v, ""));
}

TEST(VersionSatisfies, RangesNeedEveryTerm) {
  EXPECT_TRUE(*VersionSatisfies({3, 12, 0}, ">=3.12 <4"));
  EXPECT_FALSE(*VersionSatisfies({4, 0, 0}, ">=3.12 <4"));
  EXPECT_TRUE(*VersionSatisfies({1, 5, 0}, ">=1.2,<2"));
  EXPECT_FALSE(*VersionSatisfies({1, 1, 9}, ">=1.2,<2"));
}

TEST(VersionSatisfies, MalformedConstraintIsAnError) {
  auto bad = VersionSatisfies({1, 0, 0}, ">=abc");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("invalid version constraint '>=abc'"), std::string::npos);
  auto op = VersionSatisfies({1, 0, 0}, "=>1.0");
  ASSERT_FALSE(op);
  EXPECT_NE(op.error().message.find("unknown operator '=>'"), std::string::npos);
}

}  // namespace
}  // namespace slipway::steps
