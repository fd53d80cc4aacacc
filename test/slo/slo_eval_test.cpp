// The arithmetic of the slo kind: comparisons, judging one objective (no data, min_samples,
// warnings), the weighted gate score and the error-budget numbers, against hand-computed values.

#include "steps/slo_eval.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace slipway::steps::slo {
namespace {

Comparison Cmp(const std::string& text) {
  auto c = ParseComparison(text);
  EXPECT_TRUE(c.has_value()) << text << ": " << (c ? "" : c.error().message);
  return c ? *c : Comparison{};
}

Objective Obj(const std::string& name, const std::string& pass, std::optional<std::string> warning = std::nullopt,
              double weight = 1, bool key = false) {
  Objective o;
  o.name = name;
  o.pass = Cmp(pass);
  if (warning) o.warning = Cmp(*warning);
  o.weight = weight;
  o.key = key;
  return o;
}

Measurement Value(double v) {
  Measurement m;
  m.value = v;
  return m;
}

ObjectiveVerdict Verdict(Outcome outcome) {
  ObjectiveVerdict v;
  v.outcome = outcome;
  return v;
}

class ComparisonTest : public ::testing::Test {};

TEST_F(ComparisonTest, ParsesOperatorsNumbersAndUnits) {
  auto c = Cmp("< 0.2");
  EXPECT_EQ(c.op, Op::kLess);
  EXPECT_EQ(c.number, 0.2);
  EXPECT_EQ(c.unit, Unit::kNone);
  EXPECT_EQ(c.text, "< 0.2");
  c = Cmp("<=99.9%");
  EXPECT_EQ(c.op, Op::kLessEqual);
  EXPECT_EQ(c.number, 99.9);
  EXPECT_EQ(c.unit, Unit::kPercent);
  c = Cmp("  > 100  ");
  EXPECT_EQ(c.op, Op::kGreater);
  EXPECT_EQ(c.number, 100);
  EXPECT_EQ(c.text, "> 100");
  c = Cmp(">= 1.5e3 ms");
  EXPECT_EQ(c.op, Op::kGreaterEqual);
  EXPECT_EQ(c.number, 1500);
  EXPECT_EQ(c.unit, Unit::kMillis);
  c = Cmp("< 200ms");
  EXPECT_EQ(c.unit, Unit::kMillis);
  EXPECT_EQ(c.limit, 200);
  EXPECT_EQ(Cmp("< 2s").unit, Unit::kSeconds);
}

TEST_F(ComparisonTest, BareNumberTakesTheImplicitOperator) {
  auto c = ParseComparison("99.9", Op::kGreaterEqual);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->op, Op::kGreaterEqual);
  EXPECT_EQ(c->number, 99.9);
  EXPECT_EQ(c->text, ">= 99.9");
  auto explicit_op = ParseComparison("< 5", Op::kGreaterEqual);
  ASSERT_TRUE(explicit_op.has_value());
  EXPECT_EQ(explicit_op->op, Op::kLess);
  EXPECT_EQ(explicit_op->text, "< 5");
}

TEST_F(ComparisonTest, ReportsWhereTheSyntaxIsWrong) {
  auto message = [](const std::string& text) {
    auto c = ParseComparison(text);
    EXPECT_FALSE(c.has_value()) << text;
    return c ? std::string() : c.error().message;
  };
  EXPECT_EQ(message(""), "empty comparison; expected an operator and a number, e.g. \"< 0.2\"");
  EXPECT_EQ(message("0.2"), "expected <, <=, > or >= at character 1, e.g. \"< 0.2\"");
  EXPECT_EQ(message("<< 0.2"), "unexpected '<' at character 2; expected a number");
  EXPECT_EQ(message("< abc"), "expected a number at character 3");
  EXPECT_EQ(message("<"), "expected a number at character 2");
  EXPECT_EQ(message("< 0.2 min"), "unknown unit 'min' at character 7; expected ms, s or %");
  EXPECT_EQ(message("< 0.2s extra"), "unexpected 'extra' at character 8");
  EXPECT_EQ(message("== 1"), "'==' at character 1 is not supported; use <, <=, > or >= (measurements are never "
                             "exactly equal)");
  EXPECT_EQ(message("< 1e"), "malformed exponent at character 4");
  EXPECT_EQ(message("< inf"), "expected a number at character 3");
}

TEST_F(ComparisonTest, HoldsAtTheBoundaryOnlyForInclusiveOperators) {
  EXPECT_FALSE(Cmp("< 0.2").Holds(0.2));
  EXPECT_TRUE(Cmp("<= 0.2").Holds(0.2));
  EXPECT_TRUE(Cmp("< 0.2").Holds(0.19));
  EXPECT_FALSE(Cmp("> 100").Holds(100));
  EXPECT_TRUE(Cmp(">= 100").Holds(100));
  EXPECT_FALSE(Cmp(">= 0").Holds(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_FALSE(Cmp("< 0.2").Holds(std::numeric_limits<double>::infinity()));
}

class JudgeTest : public ::testing::Test {};

TEST_F(JudgeTest, PassWarningAndFailBands) {
  Objective o = Obj("p95", "< 0.2", "< 0.25");
  o.unit = "s";
  auto pass = Judge(o, Value(0.15));
  EXPECT_EQ(pass.outcome, Outcome::kPass);
  EXPECT_EQ(pass.message, "measured 0.15 s, target < 0.2");
  auto warn = Judge(o, Value(0.22));
  EXPECT_EQ(warn.outcome, Outcome::kWarning);
  EXPECT_EQ(warn.message, "measured 0.22 s, target < 0.2; within warning < 0.25");
  auto fail = Judge(o, Value(0.3));
  EXPECT_EQ(fail.outcome, Outcome::kFail);
  EXPECT_EQ(fail.message, "measured 0.3 s, target < 0.2 (warning < 0.25)");
  EXPECT_EQ(*fail.value, 0.3);
  EXPECT_FALSE(fail.no_data);
}

TEST_F(JudgeTest, NoDataFollowsOnNoDataAndShowsTheQuery) {
  Objective o = Obj("latency", "< 0.2");
  Measurement m;
  m.no_data = "the query returned no data";
  m.query = "histogram_quantile(0.95, rate(missing_bucket[5m]))";
  auto fail = Judge(o, m);
  EXPECT_EQ(fail.outcome, Outcome::kFail);
  EXPECT_TRUE(fail.no_data);
  EXPECT_EQ(fail.message,
            "no data: the query returned no data (query: histogram_quantile(0.95, rate(missing_bucket[5m]))); "
            "counted as fail (on_no_data: fail)");
  o.on_no_data = NoDataPolicy::kWarn;
  auto warn = Judge(o, m);
  EXPECT_EQ(warn.outcome, Outcome::kWarning);
  EXPECT_EQ(warn.message,
            "no data: the query returned no data (query: histogram_quantile(0.95, rate(missing_bucket[5m]))); "
            "counted as warning (on_no_data: warn)");
  o.on_no_data = NoDataPolicy::kPass;
  EXPECT_EQ(Judge(o, m).outcome, Outcome::kPass);
}

TEST_F(JudgeTest, NaNIsNoDataNotAValue) {
  Objective o = Obj("latency", "< 0.2");
  Measurement m = Value(std::numeric_limits<double>::quiet_NaN());
  auto v = Judge(o, m);
  EXPECT_EQ(v.outcome, Outcome::kFail);
  EXPECT_TRUE(v.no_data);
  EXPECT_FALSE(v.value.has_value());
  EXPECT_EQ(v.message, "no data: the query returned NaN; counted as fail (on_no_data: fail)");
}

TEST_F(JudgeTest, QueryErrorFailsWhateverOnNoDataSays) {
  Objective o = Obj("latency", "< 0.2");
  o.on_no_data = NoDataPolicy::kPass;
  Measurement m;
  m.error = "Prometheus rejected the query: bad_data: parse error";
  auto v = Judge(o, m);
  EXPECT_EQ(v.outcome, Outcome::kFail);
  EXPECT_EQ(v.message, "query failed: Prometheus rejected the query: bad_data: parse error");
}

TEST_F(JudgeTest, MinSamplesGuardsAValueFromTooFewRequests) {
  Objective o = Obj("availability", ">= 99.9");
  o.unit = "%";
  o.min_samples = 100;
  Measurement m = Value(100);
  m.samples = 12;
  auto few = Judge(o, m);
  EXPECT_EQ(few.outcome, Outcome::kFail);
  EXPECT_TRUE(few.no_data);
  EXPECT_EQ(few.message,
            "no data: only 12 samples, min_samples is 100 (value 100 % not trusted); counted as fail (on_no_data: fail)");
  o.on_no_data = NoDataPolicy::kWarn;
  EXPECT_EQ(Judge(o, m).outcome, Outcome::kWarning);
  m.samples = 100;
  auto enough = Judge(o, m);
  EXPECT_EQ(enough.outcome, Outcome::kPass);
  EXPECT_EQ(enough.message, "measured 100 %, target >= 99.9");
  m.samples.reset();
  m.samples_no_data = "the samples query returned no data (samples query: sum(x))";
  EXPECT_EQ(Judge(o, m).message,
            "no data: the samples query returned no data (samples query: sum(x)); counted as warning (on_no_data: warn)");
}

class ScoreGateTest : public ::testing::Test {};

TEST_F(ScoreGateTest, WeightedShareWithWarningsCountingHalf) {
  std::vector<Objective> objs = {Obj("a", "< 1", std::nullopt, 3), Obj("b", "< 1", std::nullopt, 1)};
  auto g = ScoreGate(objs, {Verdict(Outcome::kPass), Verdict(Outcome::kWarning)}, Gate{});
  EXPECT_EQ(g.score, 87.5);  // (3 + 0.5) / 4
  EXPECT_EQ(g.outcome, Outcome::kWarning);
  EXPECT_EQ(g.reasons, std::vector<std::string>{"score 87.5 % is below the pass threshold 90 %"});

  auto all = ScoreGate(objs, {Verdict(Outcome::kPass), Verdict(Outcome::kPass)}, Gate{});
  EXPECT_EQ(all.score, 100);
  EXPECT_EQ(all.outcome, Outcome::kPass);
  EXPECT_TRUE(all.reasons.empty());

  auto low = ScoreGate(objs, {Verdict(Outcome::kWarning), Verdict(Outcome::kFail)}, Gate{});
  EXPECT_EQ(low.score, 37.5);  // 1.5 / 4
  EXPECT_EQ(low.outcome, Outcome::kFail);
  EXPECT_EQ(low.reasons, std::vector<std::string>{"score 37.5 % is below the warning threshold 75 %"});
}

TEST_F(ScoreGateTest, ThresholdsAreInclusive) {
  std::vector<Objective> objs;
  std::vector<ObjectiveVerdict> verdicts;
  for (int i = 0; i < 10; ++i) {
    objs.push_back(Obj("o" + std::to_string(i), "< 1"));
    verdicts.push_back(Verdict(i < 9 ? Outcome::kPass : Outcome::kFail));
  }
  auto g = ScoreGate(objs, verdicts, Gate{90, 75});
  EXPECT_EQ(g.score, 90);
  EXPECT_EQ(g.outcome, Outcome::kPass);
  verdicts[8] = Verdict(Outcome::kFail);
  verdicts[7] = Verdict(Outcome::kWarning);
  auto g2 = ScoreGate(objs, verdicts, Gate{90, 75});
  EXPECT_EQ(g2.score, 75);  // 7 + 0.5 of 10
  EXPECT_EQ(g2.outcome, Outcome::kWarning);
  g2 = ScoreGate(objs, verdicts, Gate{70, 70});
  EXPECT_EQ(g2.outcome, Outcome::kPass);
}

TEST_F(ScoreGateTest, FailingKeyObjectiveFailsTheGateWhateverTheScore) {
  std::vector<Objective> objs = {Obj("availability", ">= 99.9", std::nullopt, 1, /*key=*/true),
                                 Obj("p95", "< 0.2", std::nullopt, 20)};
  auto g = ScoreGate(objs, {Verdict(Outcome::kFail), Verdict(Outcome::kPass)}, Gate{});
  EXPECT_NEAR(g.score, 95.238095238, 1e-6);
  EXPECT_EQ(g.outcome, Outcome::kFail);
  EXPECT_EQ(g.reasons, std::vector<std::string>{"key objective 'availability' failed"});
  // A warning on a key objective is not a failure.
  auto w = ScoreGate(objs, {Verdict(Outcome::kWarning), Verdict(Outcome::kPass)}, Gate{});
  EXPECT_EQ(w.outcome, Outcome::kPass);
}

TEST_F(ScoreGateTest, NoWeightScoresZero) {
  std::vector<Objective> objs = {Obj("a", "< 1", std::nullopt, 0)};
  auto g = ScoreGate(objs, {Verdict(Outcome::kPass)}, Gate{});
  EXPECT_EQ(g.score, 0);
  EXPECT_EQ(g.outcome, Outcome::kFail);
}

class ErrorBudgetTest : public ::testing::Test {};

TEST_F(ErrorBudgetTest, HalfConsumedAtHalfTheAllowedError) {
  auto b = ComputeBudget(99.9, 99.95, 99.8);
  EXPECT_NEAR(b.allowed_error, 0.1, 1e-9);
  EXPECT_NEAR(b.consumed, 50, 1e-9);
  EXPECT_NEAR(b.remaining, 50, 1e-9);
  ASSERT_TRUE(b.burn_rate.has_value());
  EXPECT_NEAR(*b.burn_rate, 2, 1e-9);  // 0.2 % errors over the window against 0.1 % allowed
}

TEST_F(ErrorBudgetTest, OverspentBudgetGoesNegative) {
  auto b = ComputeBudget(99.9, 99.8, std::nullopt);
  EXPECT_NEAR(b.consumed, 200, 1e-9);
  EXPECT_NEAR(b.remaining, -100, 1e-9);
  EXPECT_FALSE(b.burn_rate.has_value());
  EXPECT_GE(b.consumed, 100);  // what freeze checks
}

TEST_F(ErrorBudgetTest, OtherTargetsAndAPerfectPeriod) {
  auto b = ComputeBudget(99.5, 100, 100);
  EXPECT_NEAR(b.allowed_error, 0.5, 1e-9);
  EXPECT_NEAR(b.consumed, 0, 1e-9);
  EXPECT_NEAR(b.remaining, 100, 1e-9);
  EXPECT_NEAR(*b.burn_rate, 0, 1e-9);
  auto c = ComputeBudget(99.0, 98.9, 97);
  EXPECT_NEAR(c.consumed, 110, 1e-9);
  EXPECT_NEAR(c.remaining, -10, 1e-9);
  EXPECT_NEAR(*c.burn_rate, 3, 1e-9);
}

class SloHelpersTest : public ::testing::Test {};

TEST_F(SloHelpersTest, FormatsNumbersForPeople) {
  EXPECT_EQ(FormatNumber(100), "100");
  EXPECT_EQ(FormatNumber(87.5), "87.5");
  EXPECT_EQ(FormatNumber(99.95), "99.95");
  EXPECT_EQ(FormatNumber(2.0 / 3 * 100), "66.666667");
  EXPECT_EQ(FormatNumber(99.99995), "99.99995");
  EXPECT_EQ(FormatNumber(100 - 99.9), "0.1");
  EXPECT_EQ(FormatNumber(0.00475), "0.00475");
  EXPECT_EQ(FormatNumber(-0.0), "0");
  EXPECT_EQ(FormatNumber(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatNumber(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST_F(SloHelpersTest, PrometheusDurationsInTheLargestExactUnit) {
  using std::chrono::milliseconds;
  EXPECT_EQ(PromDuration(milliseconds(30LL * 86'400'000)), "30d");
  EXPECT_EQ(PromDuration(milliseconds(300'000)), "5m");
  EXPECT_EQ(PromDuration(milliseconds(90'000)), "90s");
  EXPECT_EQ(PromDuration(milliseconds(5'400'000)), "90m");
  EXPECT_EQ(PromDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(PromDuration(milliseconds(0)), "0s");
}

TEST_F(SloHelpersTest, SubstitutesWholeWindowTokensOnly) {
  EXPECT_EQ(SubstituteWindow("sum(rate(x[$window])) / sum(rate(y[$window]))", "5m"),
            "sum(rate(x[5m])) / sum(rate(y[5m]))");
  EXPECT_EQ(SubstituteWindow("rate(x[$windows]) + $window_2 + $window", "1h"), "rate(x[$windows]) + $window_2 + 1h");
  EXPECT_EQ(SubstituteWindow("up", "5m"), "up");
}

TEST_F(SloHelpersTest, ReadsLoadTestMetricsFlatKeysFirstThenSummary) {
  const std::string summary =
      R"y({"requests": 1500, "rps": 49.9, "errors": 3, "error_rate": 0.002, "dropped": 0,
          "latency_ms": {"p50": 10.5, "p90": 20, "p95": 31.25, "p99": 80, "p999": 120, "max": 150}})y";
  std::map<std::string, std::string> outputs = {{"p95_ms", "30"}, {"summary_json", summary}};
  auto p95 = ReadLoadTestMetric(*FindLoadTestMetric("p(95)"), outputs);
  EXPECT_EQ(*p95.value, 30);          // the flat key wins
  EXPECT_EQ(*p95.samples, 1500);      // requests from the summary
  auto p999 = ReadLoadTestMetric(*FindLoadTestMetric("p(99.9)"), outputs);
  EXPECT_EQ(*p999.value, 120);
  auto rate = ReadLoadTestMetric(*FindLoadTestMetric("error_rate"), outputs);
  EXPECT_EQ(*rate.value, 0.002);
  auto dropped = ReadLoadTestMetric(*FindLoadTestMetric("dropped"), outputs);
  EXPECT_EQ(*dropped.value, 0);

  outputs = {{"p95_ms", "not a number"}, {"summary_json", summary}};
  EXPECT_EQ(*ReadLoadTestMetric(*FindLoadTestMetric("p(95)"), outputs).value, 31.25);

  outputs = {{"rps", "12"}, {"summary_json", "{broken"}};
  auto missing = ReadLoadTestMetric(*FindLoadTestMetric("p(99)"), outputs);
  EXPECT_FALSE(missing.value.has_value());
  EXPECT_EQ(missing.no_data, "the load test published neither output 'p99_ms' nor summary_json.latency_ms.p99 as a number");
  EXPECT_FALSE(missing.samples.has_value());
  EXPECT_EQ(missing.samples_no_data, "the load test published no 'requests' count");
}

}  // namespace
}  // namespace slipway::steps::slo
