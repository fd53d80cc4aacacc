// The dependency graph: unknown needs, self needs, cycles (named as a path), waves, topological
// order and transitive closures.

#include "pipeline/dag.h"

#include <gtest/gtest.h>

#include "pipeline/loader.h"
#include "test/pipeline/testing.h"

namespace slipway::pipeline {
namespace {

using slipway::testing::Messages;

class DagTest : public ::testing::Test {
 protected:
  /// Loads `steps_yaml` (the lines under `steps:`) and builds its graph into dag_.
  void Build(const std::string& steps_yaml) {
    auto plan = LoadPlanText(
        "plan.yaml", "apiVersion: slipway/v1\nkind: Plan\nmetadata: {name: demo}\nsteps:\n" + steps_yaml, diag_);
    ASSERT_TRUE(plan.has_value());
    ASSERT_FALSE(diag_.HasErrors()) << diag_.Format();
    plan_ = std::move(*plan);
    dag_ = Dag::Build(plan_, diag_);
  }
  int Index(const std::string& id) const { return plan_.IndexOf(id); }

  Diagnostics diag_;
  Plan plan_;
  Dag dag_;
};

TEST_F(DagTest, NeedOfUnknownStepSuggestsTheClosestId) {
  Build(R"(  - id: build
    run: [make]
  - id: deploy
    run: [deploy]
    needs: [buld]
)");
  EXPECT_EQ(Messages(diag_),
            std::vector<std::string>{
                "plan.yaml:9:13: error: step 'deploy' needs unknown step 'buld'; did you mean 'build'?"});
  EXPECT_FALSE(dag_.HasCycle());
  EXPECT_TRUE(dag_.Deps(Index("deploy")).empty());
}

TEST_F(DagTest, NeedOfUnknownStepWithoutNearMatchHasNoHint) {
  Build(R"(  - id: build
    run: [make]
    needs: [compile-everything]
)");
  EXPECT_EQ(Messages(diag_),
            std::vector<std::string>{"plan.yaml:7:13: error: step 'build' needs unknown step 'compile-everything'"});
}

TEST_F(DagTest, SelfNeedIsAnError) {
  Build(R"(  - id: a
    run: [make]
    needs: [a]
)");
  EXPECT_EQ(Messages(diag_), std::vector<std::string>{"plan.yaml:7:13: error: step 'a' needs itself"});
  EXPECT_TRUE(dag_.HasCycle());
}

TEST_F(DagTest, CycleIsPrintedAsAPathInNeedsDirection) {
  Build(R"(  - id: a
    run: [x]
    needs: [b]
  - id: b
    run: [x]
    needs: [c]
  - id: c
    run: [x]
    needs: [a]
)");
  ASSERT_EQ(diag_.Items().size(), 1u) << diag_.Format();
  EXPECT_EQ(diag_.Items()[0].message, "dependency cycle: a→b→c→a");
  EXPECT_EQ(diag_.Items()[0].hint, "remove one of these 'needs' to break it");
  // Reported at the `needs` entry that closes the loop: c's "a".
  EXPECT_EQ(diag_.Items()[0].loc.ToString(), "plan.yaml:13:13");
  EXPECT_TRUE(dag_.HasCycle());
}

TEST_F(DagTest, CycleReachedFromOutsideIsReportedOnceWithOnlyItsMembers) {
  Build(R"(  - id: entry
    run: [x]
    needs: [b]
  - id: b
    run: [x]
    needs: [c]
  - id: c
    run: [x]
    needs: [b]
)");
  EXPECT_EQ(Messages(diag_),
            std::vector<std::string>{
                "plan.yaml:13:13: error: dependency cycle: b→c→b; remove one of these 'needs' to break it"});
}

TEST_F(DagTest, AcyclicGraphHasNoErrors) {
  Build(R"(  - id: a
    run: [x]
  - id: b
    run: [x]
    needs: [a]
  - id: c
    run: [x]
    needs: [a, b]
)");
  EXPECT_EQ(Messages(diag_), std::vector<std::string>{});
  EXPECT_FALSE(dag_.HasCycle());
  EXPECT_EQ(dag_.Size(), 3u);
  EXPECT_EQ(dag_.Deps(Index("c")), (std::vector<int>{0, 1}));
  EXPECT_EQ(dag_.Dependents(Index("a")), (std::vector<int>{1, 2}));
}

TEST_F(DagTest, WavesGroupStepsByDepth) {
  Build(R"(  - id: a
    run: [x]
  - id: b
    run: [x]
    needs: [a]
  - id: c
    run: [x]
    needs: [a]
  - id: d
    run: [x]
    needs: [b, c]
  - id: e
    run: [x]
  - id: f
    run: [x]
    needs: [e, d]
)");
  ASSERT_FALSE(diag_.HasErrors()) << diag_.Format();
  // f needs d (depth 2), so it lands in wave 3 even though e is in wave 0.
  EXPECT_EQ(dag_.Waves(), (std::vector<std::vector<int>>{{0, 4}, {1, 2}, {3}, {5}}));
}

TEST_F(DagTest, TopoOrderKeepsPlanOrderAmongIndependentSteps) {
  Build(R"(  - id: z
    run: [x]
  - id: y
    run: [x]
    needs: [w]
  - id: x
    run: [x]
  - id: w
    run: [x]
)");
  ASSERT_FALSE(diag_.HasErrors()) << diag_.Format();
  // z, x and w are independent and keep their plan order; y follows w.
  EXPECT_EQ(dag_.TopoOrder(), (std::vector<int>{0, 2, 3, 1}));
}

TEST_F(DagTest, WithDependenciesAndWithDependentsAreTransitive) {
  Build(R"(  - id: a
    run: [x]
  - id: b
    run: [x]
    needs: [a]
  - id: c
    run: [x]
    needs: [b]
  - id: d
    run: [x]
  - id: e
    run: [x]
    needs: [c, d]
)");
  ASSERT_FALSE(diag_.HasErrors()) << diag_.Format();
  EXPECT_EQ(dag_.WithDependencies({Index("c")}), (std::set<int>{0, 1, 2}));
  EXPECT_EQ(dag_.WithDependencies({Index("e")}), (std::set<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(dag_.WithDependencies({Index("a"), Index("d")}), (std::set<int>{0, 3}));
  EXPECT_EQ(dag_.WithDependents({Index("b")}), (std::set<int>{1, 2, 4}));
  EXPECT_EQ(dag_.WithDependents({Index("d")}), (std::set<int>{3, 4}));
  EXPECT_TRUE(dag_.Reaches(Index("e"), Index("a")));
  EXPECT_FALSE(dag_.Reaches(Index("a"), Index("e")));
  EXPECT_FALSE(dag_.Reaches(Index("d"), Index("d")));
}

TEST_F(DagTest, RepeatedNeedIsOneEdge) {
  Build(R"(  - id: a
    run: [x]
  - id: b
    run: [x]
    needs: [a, a]
)");
  EXPECT_EQ(Messages(diag_), std::vector<std::string>{});
  EXPECT_EQ(dag_.Deps(1), std::vector<int>{0});
  EXPECT_EQ(dag_.Dependents(0), std::vector<int>{1});
}

}  // namespace
}  // namespace slipway::pipeline
