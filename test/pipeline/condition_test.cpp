// `if:` conditions: status functions, operators and precedence, comparison rules, falsy values,
// "{{ }}" wrapping, parse errors with columns.

#include "pipeline/condition.h"

#include <gtest/gtest.h>

#include <map>

#include "test/pipeline/testing.h"

namespace slipway::pipeline {
namespace {

/// Resolves references from a fixed map keyed by their text ("vars.x").
class MapScope : public Scope {
 public:
  explicit MapScope(std::map<std::string, std::string> values) : values_(std::move(values)) {}
  Expected<std::string> Lookup(const Reference& ref) const override {
    auto it = values_.find(ref.text);
    if (it == values_.end()) return Fail("unknown '" + ref.text + "'");
    return it->second;
  }

 private:
  std::map<std::string, std::string> values_;
};

class ConditionTest : public ::testing::Test {
 protected:
  /// Parses and evaluates; "error: ..." when either fails.
  std::string Eval(const std::string& text, RunStatus status = {}) {
    auto c = Condition::Parse(text);
    if (!c) return "error: " + c.error().message;
    auto v = c->Evaluate(scope_, status);
    if (!v) return "error: " + v.error().message;
    return *v ? "true" : "false";
  }
  /// "column: message" of a parse that must fail.
  std::string ParseError(const std::string& text) {
    int column = -1;
    auto c = Condition::Parse(text, &column);
    if (c) return "<parsed>";
    return std::to_string(column) + ": " + c.error().message;
  }

  MapScope scope_{{{"vars.mesh", "istio"},
                   {"vars.replicas", "3"},
                   {"vars.version", "1.10"},
                   {"vars.empty", ""},
                   {"vars.off", "false"},
                   {"vars.zero", "0"},
                   {"vars.word", "no"},
                   {"steps.build.outputs.changed", "true"},
                   {"env.CI", "1"}}};
  const RunStatus failed_{true, false};
  const RunStatus cancelled_{false, true};
};

TEST_F(ConditionTest, StatusFunctions) {
  EXPECT_EQ(Eval("always()"), "true");
  EXPECT_EQ(Eval("always()", failed_), "true");
  EXPECT_EQ(Eval("always()", cancelled_), "true");
  EXPECT_EQ(Eval("success()"), "true");
  EXPECT_EQ(Eval("success()", failed_), "false");
  EXPECT_EQ(Eval("success()", cancelled_), "false");
  EXPECT_EQ(Eval("failure()"), "false");
  EXPECT_EQ(Eval("failure()", failed_), "true");
  EXPECT_EQ(Eval("cancelled()"), "false");
  EXPECT_EQ(Eval("cancelled()", cancelled_), "true");
}

TEST_F(ConditionTest, EmptyConditionMeansSuccess) {
  EXPECT_EQ(Eval(""), "true");
  EXPECT_EQ(Eval("   "), "true");
  EXPECT_EQ(Eval("", failed_), "false");
  EXPECT_EQ(Eval("", cancelled_), "false");
}

TEST_F(ConditionTest, EqualityAndInequality) {
  EXPECT_EQ(Eval("vars.mesh == 'istio'"), "true");
  EXPECT_EQ(Eval("vars.mesh == \"linkerd\""), "false");
  EXPECT_EQ(Eval("vars.mesh != 'linkerd'"), "true");
  EXPECT_EQ(Eval("'istio' == vars.mesh"), "true");
  EXPECT_EQ(Eval("steps.build.outputs.changed == true"), "true");
  EXPECT_EQ(Eval("env.CI == 1"), "true");
}

TEST_F(ConditionTest, AndBindsTighterThanOr) {
  EXPECT_EQ(Eval("true || false && false"), "true");
  EXPECT_EQ(Eval("false && false || true"), "true");
  EXPECT_EQ(Eval("false && true || false"), "false");
}

TEST_F(ConditionTest, ParenthesesOverridePrecedence) {
  EXPECT_EQ(Eval("(true || false) && false"), "false");
  EXPECT_EQ(Eval("true || (false && false)"), "true");
  EXPECT_EQ(Eval("((vars.mesh == 'istio'))"), "true");
}

TEST_F(ConditionTest, NotBindsTighterThanComparison) {
  // (!'a') == 'b' is "false" == "b": false. Were ! looser, !('a' == 'b') would be true.
  EXPECT_EQ(Eval("!'a' == 'b'"), "false");
  EXPECT_EQ(Eval("!('a' == 'b')"), "true");
  EXPECT_EQ(Eval("!failure()"), "true");
  EXPECT_EQ(Eval("!!vars.mesh"), "true");
  EXPECT_EQ(Eval("!vars.empty && vars.mesh == 'istio'"), "true");
}

TEST_F(ConditionTest, ComparisonIsNumericWhenBothSidesAreNumbers) {
  EXPECT_EQ(Eval("vars.replicas == 3.0"), "true");
  EXPECT_EQ(Eval("'10' == 10.0"), "true");
  EXPECT_EQ(Eval("vars.replicas != 03"), "false");
}

TEST_F(ConditionTest, ComparisonIsTextualOtherwise) {
  EXPECT_EQ(Eval("vars.mesh == 'Istio'"), "false");  // case matters
  EXPECT_EQ(Eval("'3 ' == 3"), "false");
  EXPECT_EQ(Eval("'3x' == '3'"), "false");
  EXPECT_EQ(Eval("vars.empty == ''"), "true");
  EXPECT_EQ(Eval("vars.empty == null"), "true");
}

TEST_F(ConditionTest, IdenticalTextsAreAlwaysEqual) {
  EXPECT_EQ(Eval("'nan' == 'nan'"), "true");
  EXPECT_EQ(Eval("'NaN' != 'NaN'"), "false");
  EXPECT_EQ(Eval("'0x10' == '16'"), "false");
  EXPECT_EQ(Eval("'inf' == 'infinity'"), "false");
}

TEST_F(ConditionTest, FalsyValues) {
  EXPECT_EQ(Eval("vars.empty"), "false");
  EXPECT_EQ(Eval("vars.off"), "false");
  EXPECT_EQ(Eval("vars.zero"), "false");
  EXPECT_EQ(Eval("null"), "false");
  EXPECT_EQ(Eval("false"), "false");
  EXPECT_EQ(Eval("0"), "false");
  EXPECT_EQ(Eval("''"), "false");
  EXPECT_EQ(Eval("vars.word"), "true");  // only "", "false", "0" and null are falsy
  EXPECT_EQ(Eval("'0.0'"), "true");
  EXPECT_EQ(Eval("vars.mesh"), "true");
}

TEST_F(ConditionTest, BracesWrappingIsAccepted) {
  EXPECT_EQ(Eval("{{ vars.mesh == 'istio' }}"), "true");
  EXPECT_EQ(Eval("${{ vars.mesh == 'linkerd' }}"), "false");
  EXPECT_EQ(Eval("  ${{ always() }}  ", failed_), "true");
}

TEST_F(ConditionTest, ReferencesAreListedWithOffsets) {
  auto c = Condition::Parse("${{ vars.mesh == 'istio' && steps.build.outputs.changed }}");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  ASSERT_EQ(c->References().size(), 2u);
  EXPECT_EQ(c->References()[0].text, "vars.mesh");
  EXPECT_EQ(c->References()[0].offset, 4u);
  EXPECT_EQ(c->References()[1].kind, Reference::Kind::kStepOutput);
  EXPECT_EQ(c->References()[1].path, (std::vector<std::string>{"build", "changed"}));
  EXPECT_EQ(c->References()[1].offset, 28u);
}

TEST_F(ConditionTest, UnknownReferenceFailsEvaluation) {
  EXPECT_EQ(Eval("vars.nope == 'x'"), "error: unknown 'vars.nope'");
  // Short-circuit: the right side is never looked up.
  EXPECT_EQ(Eval("false && vars.nope"), "false");
  EXPECT_EQ(Eval("true || vars.nope"), "true");
}

TEST_F(ConditionTest, RunsAfterFailureOnlyForAlwaysFailureAndCancelled) {
  auto runs_after = [](const std::string& text) {
    auto c = Condition::Parse(text);
    EXPECT_TRUE(c.has_value()) << text;
    return c && c->RunsAfterFailure();
  };
  EXPECT_TRUE(runs_after("always()"));
  EXPECT_TRUE(runs_after("failure()"));
  EXPECT_TRUE(runs_after("cancelled()"));
  EXPECT_TRUE(runs_after("vars.mesh == 'istio' && failure()"));
  EXPECT_TRUE(runs_after("${{ always() }}"));
  EXPECT_FALSE(runs_after("success()"));
  EXPECT_FALSE(runs_after("vars.mesh == 'istio'"));
  EXPECT_FALSE(runs_after(""));
}

TEST_F(ConditionTest, ParseErrorsGiveTheColumn) {
  EXPECT_EQ(ParseError("vars.mesh === 'istio'"), "13: unexpected '=' in condition 'vars.mesh === 'istio''");
  EXPECT_EQ(ParseError("vars.mesh =="),
            "13: expected a value but found 'end of condition' in condition 'vars.mesh =='");
  EXPECT_EQ(ParseError("(vars.mesh == 'a'"),
            "18: expected ')' but found 'end of condition' in condition '(vars.mesh == 'a''");
  EXPECT_EQ(ParseError("vars.mesh == 'a' extra"), "18: unexpected 'extra' in condition 'vars.mesh == 'a' extra'");
  EXPECT_EQ(ParseError("x == 'unterminated"), "6: unterminated string in condition 'x == 'unterminated'");
  EXPECT_EQ(ParseError("succeeded()"),
            "1: unknown function 'succeeded()'; expected always(), success(), failure() or cancelled() in condition "
            "'succeeded()'");
  EXPECT_EQ(ParseError("always(1)"), "8: expected ')' after 'always(' in condition 'always(1)'");
  EXPECT_EQ(ParseError("vars.a > 1"), "8: unexpected '>' in condition 'vars.a > 1'");
  EXPECT_EQ(ParseError("mesh == 'istio'"),
            "1: unknown reference 'mesh'; expected vars.NAME, env.NAME, secrets.NAME or steps.ID.outputs.KEY in "
            "condition 'mesh == 'istio''");
}

TEST_F(ConditionTest, ParseErrorColumnCountsTheBracesPrefix) {
  EXPECT_EQ(ParseError("${{ vars.mesh === 'istio' }}"), "17: unexpected '=' in condition ' vars.mesh === 'istio' '");
}

TEST_F(ConditionTest, SecretsAreRejected) {
  EXPECT_EQ(ParseError("secrets.TOKEN == 'x'"),
            "1: secrets cannot be used in conditions: 'secrets.TOKEN == 'x''");
  EXPECT_EQ(ParseError("always() && secrets.TOKEN"),
            "13: secrets cannot be used in conditions: 'always() && secrets.TOKEN'");
}

}  // namespace
}  // namespace slipway::pipeline
