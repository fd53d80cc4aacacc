#include "steps/loadtest/template.h"

#include <set>

#include <gtest/gtest.h>

namespace slipway::steps::loadtest {
namespace {

TEST(TemplateTest, TextWithoutPlaceholdersIsStatic) {
  auto t = Template::Parse("/api/items?x=1");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->IsStatic());
  EXPECT_EQ(t->Text(), "/api/items?x=1");
}

TEST(TemplateTest, RendersRequestAndWorkerIndex) {
  auto t = Template::Parse("/item/{{ request.index }}?w={{worker.index}}&end");
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->IsStatic());
  std::string out;
  t->Render({42, 3, nullptr}, out);
  EXPECT_EQ(out, "/item/42?w=3&end");
}

TEST(TemplateTest, RandomIntStaysWithinItsBounds) {
  auto t = Template::Parse("{{ random.int(5, 7) }}");
  ASSERT_TRUE(t);
  Rng rng(1);
  std::set<std::string> seen;
  std::string out;
  for (int i = 0; i < 300; ++i) {
    t->Render({0, 0, &rng}, out);
    seen.insert(out);
  }
  EXPECT_EQ(seen, (std::set<std::string>{"5", "6", "7"}));
  auto any = Template::Parse("{{ random.int }}");
  ASSERT_TRUE(any);
  any->Render({0, 0, &rng}, out);
  EXPECT_GE(std::stoll(out), 0);
  EXPECT_LE(std::stoll(out), 2147483647);
}

TEST(TemplateTest, RejectsUnknownVariablesAndUnclosedBraces) {
  auto t = Template::Parse("/x/{{ vars.name }}");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message,
            "unknown template variable 'vars.name' (supported: request.index, worker.index, random.int, random.int(A, B))");
  t = Template::Parse("/x/{{ request.index");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message, "unclosed '{{' at offset 3");
  t = Template::Parse("{{ random.int(9, 1) }}");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message, "malformed 'random.int(9, 1)' (expected random.int(A, B) with integers A <= B)");
}

TEST(TemplateTest, RenderingReusesTheBuffer) {
  auto t = Template::Parse("/item/{{ request.index }}");
  ASSERT_TRUE(t);
  std::string out;
  out.reserve(64);
  const char* before = out.data();
  for (std::uint64_t i = 0; i < 1000; ++i) t->Render({i, 0, nullptr}, out);
  EXPECT_EQ(out, "/item/999");
  EXPECT_EQ(out.data(), before);  // no reallocation on the hot path
}

}  // namespace
}  // namespace slipway::steps::loadtest
