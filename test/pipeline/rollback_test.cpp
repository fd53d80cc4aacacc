// Rollback order: reverse dependency order, independent undos in parallel, and what a failed undo
// leaves in place. Driven through RunRollback with a fake kind that records its undos.

#include "pipeline/rollback.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "pipeline/loader.h"
#include "pipeline/validate.h"
#include "test/pipeline/testing.h"

namespace slipway::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

struct UndoLog {
  struct Span {
    std::string id;
    Clock::time_point start, end;
  };
  std::mutex mu;
  std::vector<Span> spans;  // in start order
  std::vector<std::string> tags;  // data.tag of every undo that had one, in order
  std::vector<std::string> Ids() {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (const auto& s : spans) out.push_back(s.id);
    return out;
  }
  const Span& Of(const std::string& id) {
    for (const auto& s : spans)
      if (s.id == id) return s;
    static Span none;
    ADD_FAILURE() << "no undo of " << id;
    return none;
  }
};

/// Undo steered by the recorded data: {sleep_ms: N, fail: true}.
class UndoKind : public StepKind {
 public:
  explicit UndoKind(UndoLog& log) : log_(log) {}
  std::string Name() const override { return "undo"; }
  std::vector<std::string> Describe(const StepContext&) const override { return {}; }
  Expected<ApplyResult> Apply(const StepContext&) const override { return ApplyResult{}; }
  bool CanRollback(const StepSpec&) const override { return true; }
  Expected<void> Rollback(const StepContext& ctx, const Json& data) const override {
    size_t at;
    {
      std::lock_guard lock(log_.mu);
      log_.spans.push_back({ctx.spec->id, Clock::now(), {}});
      at = log_.spans.size() - 1;
      if (data.contains("tag")) log_.tags.push_back(ctx.spec->id + ":" + data["tag"].get<std::string>());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(data.value("sleep_ms", 0)));
    {
      std::lock_guard lock(log_.mu);
      log_.spans[at].end = Clock::now();
    }
    if (data.value("fail", false)) return Fail("undo of " + ctx.spec->id + " failed");
    return {};
  }

 private:
  UndoLog& log_;
};

class RollbackOrderTest : public ::testing::Test {
 protected:
  void SetUp() override { kinds_.Register(std::make_unique<UndoKind>(log_)); }

  void Load(const std::string& steps) {
    Diagnostics diag;
    auto plan = LoadPlanText("plan.yaml", "apiVersion: slipway/v1\nkind: Plan\nmetadata: {name: r}\nsteps:\n" + steps, diag);
    ASSERT_TRUE(plan.has_value()) << diag.Format();
    plan_ = std::move(*plan);
    dag_ = Dag::Build(plan_, diag);
    ASSERT_FALSE(diag.HasErrors()) << diag.Format();
  }
  /// Rolls back `ids` (each with its undo data) and returns the outcomes in completion order.
  std::vector<RollbackOutcome> Roll(const std::vector<std::pair<std::string, Json>>& ids, int parallel) {
    std::vector<RollbackRequest> requests;
    for (const auto& [id, data] : ids) requests.push_back({plan_.IndexOf(id), Json::object(), data, {}});
    ExecOptions options;
    options.parallel = parallel;
    options.plan_dir = tmp_.Path();
    options.state_dir = tmp_.Path() / "state";
    std::vector<RollbackOutcome> done;
    auto all = RunRollback(plan_, dag_, kinds_, requests, options, events_, masker_,
                           [&](const RollbackOutcome& o) { done.push_back(o); });
    EXPECT_EQ(all.size(), done.size());
    return done;
  }
  std::string Id(const RollbackOutcome& o) { return plan_.steps.at(static_cast<size_t>(o.index)).id; }

  UndoLog log_;
  KindRegistry kinds_;
  Plan plan_;
  Dag dag_;
  Masker masker_;
  RecordingSink events_;
  slipway::testing::TempDir tmp_;
};

TEST_F(RollbackOrderTest, EarlierChangesOfAStepAreUndoneAfterItsOwnNewestFirstAndStopAtAFailure) {
  Load(R"(  - {id: ns, uses: undo}
  - {id: cm, uses: undo, needs: [ns]}
)");
  RollbackRequest ns{plan_.IndexOf("ns"), Json::object(), nullptr,
                     {{Json::object(), {{"tag", "created"}}}}};  // only an earlier change: the latest found it in place
  RollbackRequest cm{plan_.IndexOf("cm"), Json::object(), {{"tag", "v3"}},
                     {{Json::object(), {{"tag", "v2"}}}, {Json::object(), {{"tag", "v1"}}}}};
  ExecOptions options;
  options.parallel = 2;
  options.plan_dir = tmp_.Path();
  options.state_dir = tmp_.Path() / "state";
  auto all = RunRollback(plan_, dag_, kinds_, {ns, cm}, options, events_, masker_, {});
  EXPECT_EQ(log_.tags, (std::vector<std::string>{"cm:v3", "cm:v2", "cm:v1", "ns:created"}));
  for (const auto& o : all) EXPECT_EQ(o.result, RollbackOutcome::Result::kRolledBack) << Id(o);

  log_.tags.clear();
  cm.earlier[0].data["fail"] = true;
  all = RunRollback(plan_, dag_, kinds_, {ns, cm}, options, events_, masker_, {});
  EXPECT_EQ(log_.tags, (std::vector<std::string>{"cm:v3", "cm:v2"})) << "v1 is not undone over a failed v2";
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].result, RollbackOutcome::Result::kFailed);
  EXPECT_EQ(all[0].message, "undo of cm failed (undoing change 2 of 3, newest first)");
  EXPECT_EQ(all[1].result, RollbackOutcome::Result::kLeftInPlace) << "ns stays: cm, which needs it, was not undone";
}

TEST_F(RollbackOrderTest, ChainIsUndoneInReverseDependencyOrder) {
  Load(R"(  - {id: s1, uses: undo}
  - {id: s2, uses: undo, needs: [s1]}
  - {id: s3, uses: undo, needs: [s2]}
  - {id: s4, uses: undo, needs: [s3]}
)");
  // Requested in plan order; the undo must still run 4, 3, 2, 1 even with free slots.
  auto done = Roll({{"s1", Json::object()}, {"s2", Json::object()}, {"s3", Json::object()}, {"s4", Json::object()}}, 4);
  EXPECT_EQ(log_.Ids(), (std::vector<std::string>{"s4", "s3", "s2", "s1"}));
  for (const auto& o : done) EXPECT_EQ(o.result, RollbackOutcome::Result::kRolledBack) << Id(o);
}

TEST_F(RollbackOrderTest, AStepIsUndoneOnlyAfterEverythingThatNeedsItEvenTransitively) {
  Load(R"(  - {id: base, uses: undo}
  - {id: left, uses: undo, needs: [base]}
  - {id: right, uses: undo, needs: [base]}
  - {id: top, uses: undo, needs: [left]}
)");
  auto done = Roll({{"base", Json::object()},
                    {"left", Json::object()},
                    {"right", Json{{"sleep_ms", 150}}},
                    {"top", Json{{"sleep_ms", 50}}}},
                   2);
  ASSERT_EQ(log_.Ids().size(), 4u);
  EXPECT_GE(log_.Of("left").start, log_.Of("top").end);
  EXPECT_GE(log_.Of("base").start, log_.Of("left").end);
  EXPECT_GE(log_.Of("base").start, log_.Of("right").end);
  EXPECT_EQ(log_.Ids().back(), "base");
}

TEST_F(RollbackOrderTest, IndependentUndosRunInParallel) {
  Load(R"(  - {id: x, uses: undo}
  - {id: y, uses: undo}
)");
  Roll({{"x", Json{{"sleep_ms", 200}}}, {"y", Json{{"sleep_ms", 200}}}}, 2);
  ASSERT_EQ(log_.Ids().size(), 2u);
  EXPECT_LT(log_.Of("y").start, log_.Of("x").end);
  EXPECT_LT(log_.Of("x").start, log_.Of("y").end);
}

TEST_F(RollbackOrderTest, AFailedUndoLeavesWhatItNeedsInPlaceButUndoesTheRest) {
  Load(R"(  - {id: db, uses: undo}
  - {id: app, uses: undo, needs: [db]}
  - {id: cache, uses: undo}
)");
  auto done = Roll({{"db", Json::object()}, {"app", Json{{"fail", true}}}, {"cache", Json::object()}}, 1);
  std::map<std::string, RollbackOutcome> by_id;
  for (const auto& o : done) by_id[Id(o)] = o;
  ASSERT_EQ(by_id.size(), 3u);
  EXPECT_EQ(by_id["app"].result, RollbackOutcome::Result::kFailed);
  EXPECT_NE(by_id["app"].message.find("undo of app failed"), std::string::npos) << by_id["app"].message;
  EXPECT_EQ(by_id["db"].result, RollbackOutcome::Result::kLeftInPlace);
  EXPECT_NE(by_id["db"].message.find("'app'"), std::string::npos) << by_id["db"].message;
  EXPECT_EQ(by_id["cache"].result, RollbackOutcome::Result::kRolledBack);
  auto ids = log_.Ids();
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "db"), 0) << "db must not be undone under a half-undone app";
}

TEST_F(RollbackOrderTest, StepsWithoutUndoDataAreReportedAndDoNotBlock) {
  Load(R"(  - {id: a, uses: undo}
  - {id: b, uses: undo, needs: [a]}
)");
  auto done = Roll({{"a", Json::object()}, {"b", nullptr}}, 1);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(Id(done[0]), "b");
  EXPECT_EQ(done[0].result, RollbackOutcome::Result::kNoUndo);
  EXPECT_EQ(Id(done[1]), "a");
  EXPECT_EQ(done[1].result, RollbackOutcome::Result::kRolledBack);
}

}  // namespace
}  // namespace slipway::pipeline
