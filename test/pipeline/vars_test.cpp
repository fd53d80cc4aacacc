// Variable resolution: the five layers and their precedence, profile and --set errors, dotted
// --set; FindVar and the output store.

#include "pipeline/vars.h"

#include <gtest/gtest.h>

#include "pipeline/loader.h"
#include "test/pipeline/testing.h"

namespace slipway::pipeline {
namespace {

using slipway::testing::Messages;
using slipway::testing::ScopedEnv;
using slipway::testing::TempDir;
using slipway::testing::WriteFile;

class VarsTest : public ::testing::Test {
 protected:
  Plan LoadPlan(const std::string& text) {
    Diagnostics load;
    auto plan = LoadPlanText("plan.yaml", text, load);
    EXPECT_TRUE(plan.has_value());
    EXPECT_FALSE(load.HasErrors()) << load.Format();
    return plan ? *plan : Plan{};
  }
  Diagnostics diag_;
  TempDir tmp_;
};

constexpr const char* kLayeredPlan = R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
vars: {a: plan, b: plan, c: plan, d: plan, e: plan, replicas: 1}
profiles:
  prod: {c: profile, d: profile, e: profile}
  staging: {c: staging}
steps: []
)";

TEST_F(VarsTest, EachLayerWinsOverTheOneBelow) {
  Plan plan = LoadPlan(kLayeredPlan);
  WriteFile(tmp_.File("values.yaml"), "b: values\nc: values\nd: values\ne: values\nreplicas: 5\n");
  ScopedEnv d("SLIPWAY_VAR_d", "env");
  ScopedEnv e("SLIPWAY_VAR_e", "env");
  VarOverrides o;
  o.values_files = {tmp_.File("values.yaml")};
  o.profile = "prod";
  o.sets = {"e=set"};
  Json vars = ResolveVars(plan, o, diag_);
  EXPECT_EQ(Messages(diag_), std::vector<std::string>{});
  EXPECT_EQ(vars, Json::parse(R"({"a": "plan", "b": "values", "c": "profile", "d": "env", "e": "set",
                                  "replicas": 5})"));
}

TEST_F(VarsTest, PlanVarsAloneAreReturnedWithoutOverrides) {
  Plan plan = LoadPlan(kLayeredPlan);
  VarOverrides o;
  o.use_env = false;
  Json vars = ResolveVars(plan, o, diag_);
  EXPECT_EQ(vars, Json::parse(R"({"a": "plan", "b": "plan", "c": "plan", "d": "plan", "e": "plan", "replicas": 1})"));
}

TEST_F(VarsTest, LaterValuesFilesWinOverEarlierOnes) {
  Plan plan = LoadPlan(kLayeredPlan);
  WriteFile(tmp_.File("one.yaml"), "a: one\nb: one\n");
  WriteFile(tmp_.File("two.yaml"), "b: two\n");
  VarOverrides o;
  o.use_env = false;
  o.values_files = {tmp_.File("one.yaml"), tmp_.File("two.yaml")};
  Json vars = ResolveVars(plan, o, diag_);
  EXPECT_EQ(vars["a"], "one");
  EXPECT_EQ(vars["b"], "two");
}

TEST_F(VarsTest, EnvLayerIsIgnoredWhenDisabled) {
  Plan plan = LoadPlan(kLayeredPlan);
  ScopedEnv a("SLIPWAY_VAR_a", "env");
  VarOverrides o;
  o.use_env = false;
  EXPECT_EQ(ResolveVars(plan, o, diag_)["a"], "plan");
  o.use_env = true;
  EXPECT_EQ(ResolveVars(plan, o, diag_)["a"], "env");
}

TEST_F(VarsTest, UnknownProfileListsTheDefinedOnes) {
  Plan plan = LoadPlan(kLayeredPlan);
  VarOverrides o;
  o.use_env = false;
  o.profile = "prdo";
  Json vars = ResolveVars(plan, o, diag_);
  EXPECT_EQ(Messages(diag_),
            std::vector<std::string>{"error: --profile: unknown profile 'prdo'; defined profiles: prod staging"});
  EXPECT_EQ(vars["c"], "plan");
}

TEST_F(VarsTest, UnknownProfileInPlanWithoutProfilesSaysSo) {
  Plan plan = LoadPlan("apiVersion: slipway/v1\nkind: Plan\nmetadata: {name: demo}\nsteps: []\n");
  VarOverrides o;
  o.use_env = false;
  o.profile = "prod";
  ResolveVars(plan, o, diag_);
  EXPECT_EQ(Messages(diag_),
            std::vector<std::string>{"error: --profile: unknown profile 'prod'; the plan defines no profiles"});
}

TEST_F(VarsTest, BadSetIsAnError) {
  Plan plan = LoadPlan(kLayeredPlan);
  VarOverrides o;
  o.use_env = false;
  o.sets = {"novalue", "=x", "ok=1"};
  Json vars = ResolveVars(plan, o, diag_);
  EXPECT_EQ(Messages(diag_), (std::vector<std::string>{"error: --set: invalid 'novalue'; expected NAME=VALUE",
                                                       "error: --set: invalid '=x'; expected NAME=VALUE"}));
  EXPECT_EQ(vars["ok"], "1");  // --set values are strings
}

TEST_F(VarsTest, SetValueMayContainEqualsSigns) {
  Plan plan = LoadPlan(kLayeredPlan);
  VarOverrides o;
  o.use_env = false;
  o.sets = {"query=a=b&c=d"};
  EXPECT_EQ(ResolveVars(plan, o, diag_)["query"], "a=b&c=d");
}

TEST_F(VarsTest, DottedSetChangesOneNestedKeyAndKeepsTheRest) {
  Plan plan = LoadPlan(R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: demo}
vars: {db: {host: pg, port: 5432}, flat: x}
steps: []
)");
  VarOverrides o;
  o.use_env = false;
  o.sets = {"db.host=pg-replica", "new.deep.key=v", "flat.sub=y"};
  Json vars = ResolveVars(plan, o, diag_);
  EXPECT_EQ(Messages(diag_), std::vector<std::string>{});
  EXPECT_EQ(vars, Json::parse(R"({"db": {"host": "pg-replica", "port": 5432},
                                  "new": {"deep": {"key": "v"}},
                                  "flat": {"sub": "y"}})"));
}

TEST_F(VarsTest, UnreadableValuesFileIsAnError) {
  Plan plan = LoadPlan(kLayeredPlan);
  VarOverrides o;
  o.use_env = false;
  o.values_files = {tmp_.File("missing.yaml")};
  ResolveVars(plan, o, diag_);
  EXPECT_EQ(Messages(diag_),
            std::vector<std::string>{"error: --values: cannot read '" + tmp_.File("missing.yaml") + "'"});
}

TEST_F(VarsTest, ValuesFileThatIsNotAMappingIsAnError) {
  Plan plan = LoadPlan(kLayeredPlan);
  WriteFile(tmp_.File("list.yaml"), "- a\n- b\n");
  VarOverrides o;
  o.use_env = false;
  o.values_files = {tmp_.File("list.yaml")};
  ResolveVars(plan, o, diag_);
  EXPECT_EQ(Messages(diag_),
            std::vector<std::string>{tmp_.File("list.yaml") +
                                     ":1:1: error: expected a --values file to be a mapping of var names to values"});
}

TEST_F(VarsTest, InvalidYamlInValuesFileGivesThePosition) {
  Plan plan = LoadPlan(kLayeredPlan);
  WriteFile(tmp_.File("bad.yaml"), "a: [1, 2\n");
  VarOverrides o;
  o.use_env = false;
  o.values_files = {tmp_.File("bad.yaml")};
  ResolveVars(plan, o, diag_);
  ASSERT_EQ(diag_.Items().size(), 1u);
  EXPECT_EQ(diag_.Items()[0].loc.file, tmp_.File("bad.yaml"));
  EXPECT_EQ(diag_.Items()[0].message, "invalid YAML: end of sequence flow not found");
}

TEST_F(VarsTest, FindVarFollowsObjectsAndListIndexes) {
  Json vars = Json::parse(R"({"a": {"b": [10, {"c": "deep"}]}})");
  ASSERT_NE(FindVar(vars, {"a", "b", "1", "c"}), nullptr);
  EXPECT_EQ(*FindVar(vars, {"a", "b", "1", "c"}), "deep");
  EXPECT_EQ(*FindVar(vars, {"a", "b", "0"}), 10);
  EXPECT_EQ(FindVar(vars, {"a", "b", "2"}), nullptr);
  EXPECT_EQ(FindVar(vars, {"a", "b", "x"}), nullptr);
  EXPECT_EQ(FindVar(vars, {"a", "z"}), nullptr);
  EXPECT_EQ(FindVar(vars, {"a", "b", "0", "deeper"}), nullptr);
}

TEST_F(VarsTest, OutputStoreKeepsOutputsPerStep) {
  OutputStore store;
  EXPECT_FALSE(store.Has("build"));
  store.Set("build", {{"image", "app:1"}});
  store.Set("quiet", {});
  EXPECT_TRUE(store.Has("build"));
  EXPECT_TRUE(store.Has("quiet"));
  EXPECT_EQ(store.Get("build", "image"), std::optional<std::string>("app:1"));
  EXPECT_EQ(store.Get("build", "tag"), std::nullopt);
  EXPECT_EQ(store.Get("other", "image"), std::nullopt);
  EXPECT_EQ(store.All("build"), (std::map<std::string, std::string>{{"image", "app:1"}}));
  EXPECT_TRUE(store.All("other").empty());
}

}  // namespace
}  // namespace slipway::pipeline
