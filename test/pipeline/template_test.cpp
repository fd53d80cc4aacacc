// Plan templating: references to vars, env, secrets and step outputs; strictness (an unknown
// reference is an error, never ""); verbatim substitution; dry-run placeholders.

#include "pipeline/template.h"

#include <gtest/gtest.h>

#include "pipeline/vars.h"
#include "test/pipeline/testing.h"

namespace slipway::pipeline {
namespace {

using slipway::testing::ScopedEnv;

class TemplateTest : public ::testing::Test {
 protected:
  /// Renders `text` in a RunScope over vars_, secrets_ and outputs_.
  Expected<std::string> Render(const std::string& text, bool dry_run = false) {
    RunScope scope(vars_, secrets_, outputs_);
    scope.SetDryRun(dry_run);
    return RenderString(text, scope);
  }
  /// The error message of a render that must fail.
  std::string RenderError(const std::string& text, bool dry_run = false) {
    auto r = Render(text, dry_run);
    if (r) return "<rendered: " + *r + ">";
    return r.error().message;
  }

  Json vars_ = Json::parse(R"({
    "namespace": "shop",
    "replicas": 3,
    "ratio": 0.5,
    "enabled": true,
    "nothing": null,
    "db": {"host": "pg.internal", "port": 5432},
    "hosts": ["a.example", "b.example"],
    "url": "http://{{ vars.db.host }}:{{ vars.db.port }}",
    "endpoint": "{{ vars.url }}/api",
    "html": "<b>\"Tom\" & 'Jerry'</b>",
    "loop_a": "{{ vars.loop_b }}",
    "loop_b": "x{{ vars.loop_a }}",
    "self": "{{ vars.self }}"
  })");
  Masker masker_;
  SecretStore secrets_{masker_};
  OutputStore outputs_;
};

TEST_F(TemplateTest, TextWithoutBracesIsReturnedAsIs) {
  EXPECT_EQ(Render("plain { text } here").value(), "plain { text } here");
}

TEST_F(TemplateTest, RendersVarsOfEveryType) {
  EXPECT_EQ(Render("ns={{ vars.namespace }} n={{vars.replicas}} r={{ vars.ratio }} e={{ vars.enabled }}").value(),
            "ns=shop n=3 r=0.5 e=true");
  EXPECT_EQ(Render("[{{ vars.nothing }}]").value(), "[]");
}

TEST_F(TemplateTest, RendersNestedVarPathsAndListIndexes) {
  EXPECT_EQ(Render("{{ vars.db.host }}:{{ vars.db.port }}").value(), "pg.internal:5432");
  EXPECT_EQ(Render("{{ vars.hosts.1 }}").value(), "b.example");
  EXPECT_EQ(Render("{{ vars.db }}").value(), R"({"host":"pg.internal","port":5432})");
}

TEST_F(TemplateTest, VarsMayReferToOtherVars) {
  EXPECT_EQ(Render("{{ vars.endpoint }}").value(), "http://pg.internal:5432/api");
}

TEST_F(TemplateTest, SelfReferencingVarIsAnError) {
  EXPECT_EQ(RenderError("{{ vars.self }}"), "variable 'vars.self' refers to itself (through other vars)");
}

TEST_F(TemplateTest, MutuallyReferencingVarsAreAnError) {
  std::string message = RenderError("{{ vars.loop_a }}");
  EXPECT_TRUE(message == "variable 'vars.loop_a' refers to itself (through other vars)" ||
              message == "variable 'vars.loop_b' refers to itself (through other vars)")
      << message;
}

TEST_F(TemplateTest, UnknownVarIsAnErrorNotEmpty) {
  EXPECT_EQ(RenderError("x={{ vars.nope }}"), "unknown variable 'vars.nope'");
  EXPECT_EQ(RenderError("{{ vars.db.user }}"), "unknown variable 'vars.db.user'");
  EXPECT_EQ(RenderError("{{ vars.hosts.7 }}"), "unknown variable 'vars.hosts.7'");
}

TEST_F(TemplateTest, RendersEnv) {
  ScopedEnv env("SLIPWAY_TEST_REGION", "eu-west-1");
  ScopedEnv unset("SLIPWAY_TEST_NOT_SET", std::nullopt);
  EXPECT_EQ(Render("region={{ env.SLIPWAY_TEST_REGION }}").value(), "region=eu-west-1");
  EXPECT_EQ(RenderError("{{ env.SLIPWAY_TEST_NOT_SET }}"),
            "environment variable 'SLIPWAY_TEST_NOT_SET' is not set (referenced as 'env.SLIPWAY_TEST_NOT_SET')");
}

TEST_F(TemplateTest, RendersSecretsAndRegistersThemForMasking) {
  ScopedEnv env("SLIPWAY_TEST_TOKEN", "t0ps3cret");
  EXPECT_EQ(Render("Bearer {{ secrets.SLIPWAY_TEST_TOKEN }}").value(), "Bearer t0ps3cret");
  EXPECT_EQ(masker_.Mask("token is t0ps3cret"), "token is ***");
}

TEST_F(TemplateTest, MissingSecretIsAnErrorInApply) {
  ScopedEnv unset("SLIPWAY_TEST_NO_SECRET", std::nullopt);
  ScopedEnv unset_file("SLIPWAY_TEST_NO_SECRET_FILE", std::nullopt);
  EXPECT_EQ(RenderError("{{ secrets.SLIPWAY_TEST_NO_SECRET }}"),
            "secret 'SLIPWAY_TEST_NO_SECRET' is not set; export SLIPWAY_TEST_NO_SECRET, set "
            "SLIPWAY_TEST_NO_SECRET_FILE to a file holding it, or pass --secrets-file");
}

TEST_F(TemplateTest, RendersStepOutputs) {
  outputs_.Set("build", {{"image", "repo/app:1.2"}, {"digest", "sha256:abc"}});
  EXPECT_EQ(Render("{{ steps.build.outputs.image }}@{{ steps.build.outputs.digest }}").value(),
            "repo/app:1.2@sha256:abc");
}

TEST_F(TemplateTest, MissingStepOutputsAreErrorsInApply) {
  outputs_.Set("build", {{"image", "x"}});
  outputs_.Set("quiet", {});
  EXPECT_EQ(RenderError("{{ steps.push.outputs.ref }}"),
            "'steps.push.outputs.ref': step 'push' has not published outputs in this run");
  EXPECT_EQ(RenderError("{{ steps.build.outputs.tag }}"),
            "'steps.build.outputs.tag': step 'build' published no output 'tag' (it published: image)");
  EXPECT_EQ(RenderError("{{ steps.quiet.outputs.tag }}"),
            "'steps.quiet.outputs.tag': step 'quiet' published no output 'tag' (it published none)");
}

TEST_F(TemplateTest, DryRunShowsPlaceholdersForOutputsAndMissingSecrets) {
  ScopedEnv unset("SLIPWAY_TEST_NO_SECRET", std::nullopt);
  ScopedEnv unset_file("SLIPWAY_TEST_NO_SECRET_FILE", std::nullopt);
  EXPECT_EQ(Render("image={{ steps.build.outputs.image }}", true).value(),
            "image=(known after apply: steps.build.outputs.image)");
  EXPECT_EQ(Render("pw={{ secrets.SLIPWAY_TEST_NO_SECRET }}", true).value(), "pw=***");
  // Vars are still strict in a dry-run.
  EXPECT_EQ(RenderError("{{ vars.nope }}", true), "unknown variable 'vars.nope'");
}

TEST_F(TemplateTest, SubstitutesVerbatimWithoutHtmlEscaping) {
  EXPECT_EQ(Render("{{ vars.html }}").value(), "<b>\"Tom\" & 'Jerry'</b>");
  outputs_.Set("a", {{"v", "a<b>&c\"d'e"}});
  EXPECT_EQ(Render("[{{ steps.a.outputs.v }}]").value(), "[a<b>&c\"d'e]");
}

TEST_F(TemplateTest, UnclosedBracesAreAnError) {
  EXPECT_EQ(RenderError("abc {{ vars.namespace"), "unclosed '{{' at offset 4");
  EXPECT_EQ(RenderError("{{ vars.namespace }} and {{"), "unclosed '{{' at offset 25");
}

TEST_F(TemplateTest, MalformedReferencesAreErrors) {
  EXPECT_EQ(RenderError("{{ vars..x }}"), "malformed reference 'vars..x': empty name between dots");
  EXPECT_EQ(RenderError("{{ vars.x | upper }}"),
            "malformed reference 'vars.x | upper': unexpected ' '; expected vars.NAME, env.NAME, secrets.NAME or "
            "steps.ID.outputs.KEY");
  EXPECT_EQ(RenderError("{{ foo.bar }}"),
            "unknown reference 'foo.bar'; expected vars.NAME, env.NAME, secrets.NAME or steps.ID.outputs.KEY");
  EXPECT_EQ(RenderError("{{ steps.a.output.b }}"),
            "unknown reference 'steps.a.output.b'; expected vars.NAME, env.NAME, secrets.NAME or steps.ID.outputs.KEY");
  EXPECT_EQ(RenderError("{{ env.A.B }}"),
            "unknown reference 'env.A.B'; expected vars.NAME, env.NAME, secrets.NAME or steps.ID.outputs.KEY");
}

TEST_F(TemplateTest, ParseTemplateSplitsLiteralsAndReferencesWithOffsets) {
  auto segments = ParseTemplate("a {{ vars.x }} b {{steps.s.outputs.k}}");
  ASSERT_TRUE(segments.has_value()) << segments.error().message;
  ASSERT_EQ(segments->size(), 4u);
  EXPECT_EQ((*segments)[0].literal, "a ");
  ASSERT_TRUE((*segments)[1].ref.has_value());
  EXPECT_EQ((*segments)[1].ref->kind, Reference::Kind::kVar);
  EXPECT_EQ((*segments)[1].ref->path, std::vector<std::string>{"x"});
  EXPECT_EQ((*segments)[1].ref->text, "vars.x");
  EXPECT_EQ((*segments)[1].ref->offset, 2u);
  EXPECT_EQ((*segments)[2].literal, " b ");
  EXPECT_EQ((*segments)[3].ref->kind, Reference::Kind::kStepOutput);
  EXPECT_EQ((*segments)[3].ref->path, (std::vector<std::string>{"s", "k"}));
  EXPECT_EQ((*segments)[3].ref->offset, 17u);
}

TEST_F(TemplateTest, RenderJsonRendersStringsRecursivelyAndLeavesKeysAlone) {
  Json value = Json::parse(R"({"{{ vars.namespace }}": "{{ vars.namespace }}", "list": ["{{ vars.replicas }}", 7],
                               "nested": {"host": "{{ vars.db.host }}"}})");
  std::vector<Error> errors;
  Json out = RenderJson(value, RunScope(vars_, secrets_, outputs_), {}, "", errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(out,
            Json::parse(R"({"{{ vars.namespace }}": "shop", "list": ["3", 7], "nested": {"host": "pg.internal"}})"));
}

TEST_F(TemplateTest, RenderJsonCollectsEveryErrorWithItsPosition) {
  Json value = Json::parse(R"({"a": "{{ vars.nope }}", "b": ["ok", "{{ vars.also_nope }}"]})");
  LocTable locs{{"/a", SourceLoc{"plan.yaml", 3, 7}}, {"/b/1", SourceLoc{"plan.yaml", 4, 15}}};
  std::vector<Error> errors;
  RenderJson(value, RunScope(vars_, secrets_, outputs_), locs, "", errors);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].ToString(), "plan.yaml:3:7: unknown variable 'vars.nope'");
  EXPECT_EQ(errors[1].ToString(), "plan.yaml:4:15: unknown variable 'vars.also_nope'");
}

TEST_F(TemplateTest, ForEachReferenceVisitsEveryReferenceWithItsPointer) {
  Json value = Json::parse(R"({"run": ["echo", "{{ vars.a }}-{{ env.B }}"], "env": {"X/Y": "{{ secrets.C }}"},
                               "bad": "{{ oops"})");
  std::vector<std::string> seen;
  std::vector<std::string> errors;
  ForEachReference(
      value, "", [&](const Reference& r, const std::string& p) { seen.push_back(p + " " + r.text); },
      [&](const Error& e, const std::string& p) { errors.push_back(p + " " + e.message); });
  EXPECT_EQ(seen, (std::vector<std::string>{"/env/X~1Y secrets.C", "/run/1 vars.a", "/run/1 env.B"}));
  EXPECT_EQ(errors, std::vector<std::string>{"/bad unclosed '{{' at offset 0"});
}

TEST_F(TemplateTest, PointerEscapeAndValueText) {
  EXPECT_EQ(PointerEscape("a/b~c"), "a~1b~0c");
  EXPECT_EQ(ValueText(Json("text")), "text");
  EXPECT_EQ(ValueText(Json(nullptr)), "");
  EXPECT_EQ(ValueText(Json(12)), "12");
  EXPECT_EQ(ValueText(Json(false)), "false");
}

}  // namespace
}  // namespace slipway::pipeline
