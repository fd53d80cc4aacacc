// GitHub Actions integration and packaging, through the built binary:
//  - GithubActionsTest: with GITHUB_ACTIONS=true, `apply` and `plan` append exactly the documented
//    outputs to $GITHUB_OUTPUT (name=value / heredoc) and the report's Markdown (or the dry-run) to
//    $GITHUB_STEP_SUMMARY; failures become ::error file=…:: annotations; secrets never appear.
//  - ActionYmlTest: packaging/action.yml never puts an input into shell text, and its run script,
//    executed as GitHub runs it, turns hostile inputs into plain argv words.
//  - CompletionTest: `slipway completion bash|zsh` covers every subcommand and flag that --help shows,
//    bash accepts the script and it completes; every flag in every --help has a description.
//  - PackagingTest: `cpack -G DEB` makes a .deb whose unpacked tree runs (version, validate of the
//    shipped local-demo plan with the shipped templates).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <set>

#include <yaml-cpp/yaml.h>

#include "support/e2e_harness.h"

namespace slipway::test {
namespace {

namespace fs = std::filesystem;
using Outputs = std::vector<std::pair<std::string, std::string>>;

fs::path SourceRoot() { return fs::path(__FILE__).parent_path().parent_path().parent_path(); }
fs::path BuildDir() { return fs::path(SLIPWAY_BINARY).parent_path(); }

/// Parses a $GITHUB_OUTPUT file strictly: `name=value` lines and `name<<DELIM` … `DELIM` blocks.
/// A line that is neither makes the test fail.
Outputs ParseGithubOutput(const std::string& text) {
  Outputs out;
  std::istringstream in(text);
  std::string line;
  static const std::regex kPlain("([A-Za-z_][A-Za-z0-9_-]*)=(.*)");
  static const std::regex kHeredoc("([A-Za-z_][A-Za-z0-9_-]*)<<(ghadelimiter_[0-9a-f]{32})");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, kHeredoc)) {
      std::string name = m[1], delim = m[2];
      std::vector<std::string> lines;
      bool closed = false;
      for (std::string l; std::getline(in, l);) {
        if (l == delim) {
          closed = true;
          break;
        }
        lines.push_back(l);
      }
      EXPECT_TRUE(closed) << "heredoc for " << name << " not closed";
      std::string value;
      for (size_t i = 0; i < lines.size(); ++i) value += (i ? "\n" : "") + lines[i];
      out.emplace_back(name, value);
    } else if (std::regex_match(line, m, kPlain)) {
      out.emplace_back(m[1], m[2]);
    } else {
      ADD_FAILURE() << "not a GITHUB_OUTPUT line: '" << line << "'";
    }
  }
  return out;
}

std::vector<std::string> Names(const Outputs& o) {
  std::vector<std::string> n;
  for (const auto& [k, v] : o) n.push_back(k);
  return n;
}

std::string Get(const Outputs& o, const std::string& name) {
  for (const auto& [k, v] : o)
    if (k == name) return v;
  ADD_FAILURE() << "no output " << name;
  return "";
}

size_t CountOf(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

const std::vector<std::string> kApplyOutputs = {
    "status",  "exit_code",  "run_id",          "changed",     "failed_steps", "error",      "message", "report",
    "report_dir", "report_markdown", "report_json", "report_junit", "p95_ms", "slo_result", "slo_score"};

class GithubActionsTest : public TempDirTest {
 protected:
  std::map<std::string, std::string> Env(std::map<std::string, std::string> extra = {}) {
    extra["GITHUB_ACTIONS"] = "true";
    extra["GITHUB_OUTPUT"] = Path("github_output").string();
    extra["GITHUB_STEP_SUMMARY"] = Path("step_summary.md").string();
    return extra;
  }
};

constexpr const char* kPassingPlan = R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: gh}
steps:
  - id: build
    run: ["true"]
  - id: report
    needs: [build]
    if: always()
    uses: report
    with: {formats: [markdown, json, junit, html], dir: reports}
)";

TEST_F(GithubActionsTest, ApplyAppendsOutputsAndTheReportMarkdown) {
  Write("plan.yaml", kPassingPlan);
  Write("github_output", "earlier=kept\n");          // what other steps wrote stays
  Write("step_summary.md", "# Earlier summary\n");
  auto r = Slipway({"apply", "plan.yaml"}, Env());
  ASSERT_EQ(r.exit_code, 0) << r.all();

  auto out = ParseGithubOutput(Read("github_output"));
  std::vector<std::string> names = {"earlier"};
  names.insert(names.end(), kApplyOutputs.begin(), kApplyOutputs.end());
  EXPECT_EQ(Names(out), names);
  EXPECT_EQ(Get(out, "earlier"), "kept");
  EXPECT_EQ(Get(out, "status"), "succeeded");
  EXPECT_EQ(Get(out, "exit_code"), "0");
  const std::string run_id = Get(out, "run_id");
  EXPECT_TRUE(std::regex_match(run_id, std::regex("[0-9]{8}T[0-9]{6}Z-[0-9a-f]+"))) << run_id;
  EXPECT_EQ(Get(out, "changed"), "2");
  EXPECT_EQ(Get(out, "failed_steps"), "");
  EXPECT_EQ(Get(out, "error"), "");
  EXPECT_EQ(Get(out, "message"), "apply complete (run " + run_id + ")");
  const fs::path dir = fs::canonical(dir_) / "reports" / ("gh-" + run_id);
  EXPECT_EQ(Get(out, "report_dir"), dir.string());
  EXPECT_EQ(Get(out, "report"), (dir / "report.html").string());
  EXPECT_EQ(Get(out, "report_markdown"), (dir / "report.md").string());
  EXPECT_EQ(Get(out, "report_json"), (dir / "report.json").string());
  EXPECT_EQ(Get(out, "report_junit"), (dir / "junit.xml").string());
  EXPECT_TRUE(fs::exists(dir / "report.html"));
  EXPECT_EQ(Get(out, "p95_ms"), "");
  EXPECT_EQ(Get(out, "slo_result"), "");
  EXPECT_EQ(Get(out, "slo_score"), "");

  std::ifstream md_in(dir / "report.md");
  std::string md((std::istreambuf_iterator<char>(md_in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(md.empty());
  EXPECT_EQ(Read("step_summary.md"), "# Earlier summary\n" + md + (md.back() == '\n' ? "" : "\n") +
                                          "\n**slipway apply**: succeeded (exit 0) — apply complete (run " + run_id +
                                          ")\n\n");
  // Under Actions each step's output is one collapsible group.
  EXPECT_EQ(CountOf(r.out, "::group::"), 2u) << r.out;
  EXPECT_EQ(CountOf(r.out, "::endgroup::"), 2u) << r.out;
  EXPECT_EQ(r.out.find("::error"), std::string::npos) << r.out;
}

TEST_F(GithubActionsTest, FailedApplyAnnotatesTheStepRollsBackAndMasksSecrets) {
  Write("plan.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: gh}
steps:
  - id: setup
    run: ["true"]
    rollback: ["true"]
  - id: deploy
    needs: [setup]
    shell: 'echo "token $TOKEN rejected" >&2; exit 3'
    env: {TOKEN: "{{ secrets.DEPLOY_TOKEN }}"}
  - id: report
    needs: [deploy]
    if: always()
    uses: report
    with: {formats: [markdown, junit, html], dir: reports}
)");
  auto r = Slipway({"apply", "plan.yaml"}, Env({{"DEPLOY_TOKEN", "tok-9f8e7d"}}));
  ASSERT_EQ(r.exit_code, 1) << r.all();

  auto out = ParseGithubOutput(Read("github_output"));
  EXPECT_EQ(Names(out), kApplyOutputs);
  EXPECT_EQ(Get(out, "status"), "rolled-back");
  EXPECT_EQ(Get(out, "exit_code"), "1");
  EXPECT_EQ(Get(out, "changed"), "2");  // setup and the report
  EXPECT_EQ(Get(out, "failed_steps"), "deploy");
  EXPECT_EQ(Get(out, "error"), "deploy: exit 3: token *** rejected");
  EXPECT_EQ(Get(out, "message"), "a step failed; rolled back 1 step(s) this run changed");
  EXPECT_FALSE(Get(out, "report").empty());

  // The annotation points at the failed step in the plan (its `id:` value, line 8 column 9).
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex(R"(\n::error file=plan\.yaml,line=8,col=9::deploy failed after [0-9.]+m?s: exit 3: token \*\*\* rejected\n)")))
      << r.out;
  EXPECT_EQ(CountOf(r.out, "::error"), 2u) << r.out;
  EXPECT_NE(r.out.find("::error::a step failed; rolled back 1 step(s) this run changed"), std::string::npos) << r.out;

  const std::string summary = Read("step_summary.md");
  EXPECT_EQ(summary.rfind("## ", 0), 0u) << summary;
  EXPECT_NE(summary.find("FAIL"), std::string::npos) << summary;
  EXPECT_NE(summary.find("\n**slipway apply**: rolled-back (exit 1) — a step failed; rolled back 1 step(s) this "
                         "run changed\n\n"),
            std::string::npos)
      << summary;
  for (const auto& text : {r.out, r.err, Read("github_output"), summary})
    EXPECT_EQ(text.find("tok-9f8e7d"), std::string::npos) << text;

  // The JUnit file a workflow would upload validates against the schema.
  if (fs::exists("/usr/bin/xmllint")) {
    pipeline::ProcessSpec spec;
    spec.argv = {"/usr/bin/xmllint", "--noout", "--nonet", "--schema",
                 (SourceRoot() / "test/report/junit.xsd").string(), Get(out, "report_junit")};
    spec.timeout = std::chrono::seconds(20);
    auto lint = pipeline::RunProcess(spec);
    ASSERT_TRUE(lint.has_value());
    EXPECT_EQ(lint->exit_code, 0) << lint->out << lint->err;
  }
}

TEST_F(GithubActionsTest, MultiLineValuesUseARandomHeredocDelimiter) {
  // A rollback that fails leaves a multi-line message (what is left, one step a line).
  Write("plan.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: gh}
steps:
  - id: setup
    run: ["true"]
    rollback: ["false"]
  - id: deploy
    needs: [setup]
    run: ["false"]
)");
  auto r = Slipway({"apply", "plan.yaml"}, Env());
  ASSERT_EQ(r.exit_code, 3) << r.all();
  const std::string raw = Read("github_output");
  auto out = ParseGithubOutput(raw);
  EXPECT_EQ(Get(out, "status"), "rollback-failed");
  EXPECT_EQ(Get(out, "exit_code"), "3");
  const std::string message = Get(out, "message");
  EXPECT_NE(message.find('\n'), std::string::npos) << message;
  EXPECT_EQ(message.rfind("a step failed and its rollback did not complete; needs manual attention:", 0), 0u)
      << message;
  EXPECT_NE(raw.find("message<<ghadelimiter_"), std::string::npos) << raw;
}

TEST_F(GithubActionsTest, PlanWritesCountsAndTheDryRunToTheSummary) {
  Write("plan.yaml", kPassingPlan);
  auto r = Slipway({"plan", "plan.yaml"}, Env());
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto out = ParseGithubOutput(Read("github_output"));
  EXPECT_EQ(out, (Outputs{{"status", "changes-pending"},
                          {"exit_code", "0"},
                          {"changes", "2"},
                          {"unchanged", "0"},
                          {"skipped", "0"},
                          {"failed", "0"},
                          {"saved_plan", ""}}));
  // The summary holds exactly what `plan` printed, fenced.
  EXPECT_EQ(Read("step_summary.md"),
            "## slipway plan: gh\n\n**2 to run**, 0 unchanged, 0 skipped, 0 failed — a dry-run: nothing was "
            "changed\n\n```text\n" + r.out + "```\n\n");
  EXPECT_FALSE(fs::exists(Path("reports")));  // a dry-run writes no report
}

TEST_F(GithubActionsTest, PlanWithNothingToDoSaysNoChanges) {
  Write("plan.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: gh}
steps:
  - id: done
    run: ["false"]
    check: ["true"]
)");
  auto r = Slipway({"apply", "--dry-run", "plan.yaml", "--detailed-exitcode"}, Env());
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto out = ParseGithubOutput(Read("github_output"));
  EXPECT_EQ(Get(out, "status"), "no-changes");
  EXPECT_EQ(Get(out, "changes"), "0");
  EXPECT_EQ(Get(out, "unchanged"), "1");
  EXPECT_EQ(Read("step_summary.md").rfind("## slipway apply --dry-run: gh\n\n**0 to run**, 1 unchanged", 0), 0u)
      << Read("step_summary.md");
}

TEST_F(GithubActionsTest, InvalidPlanIsAnnotatedAndReported) {
  Write("plan.yaml", "apiVersion: slipway/v1\nkind: Plan\nmetadata: {name: gh}\nsteps:\n  - id: a\n    uses: nope\n");
  auto r = Slipway({"apply", "plan.yaml"}, Env());
  ASSERT_EQ(r.exit_code, 2) << r.all();
  EXPECT_NE(r.out.find("::error file=plan.yaml,line=6,col=11::"), std::string::npos) << r.out;
  EXPECT_EQ(ParseGithubOutput(Read("github_output")), (Outputs{{"status", "invalid"}, {"exit_code", "2"}}));
  EXPECT_EQ(Read("step_summary.md"),
            "## slipway apply: invalid plan\n\n`plan.yaml` did not load or validate; the errors are annotated on "
            "the plan file.\n\n");
}

TEST_F(GithubActionsTest, OutsideActionsNothingIsWritten) {
  Write("plan.yaml", kPassingPlan);
  auto env = Env();
  env["GITHUB_ACTIONS"] = "";
  auto r = Slipway({"apply", "plan.yaml"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_FALSE(fs::exists(Path("github_output")));
  EXPECT_FALSE(fs::exists(Path("step_summary.md")));
  EXPECT_EQ(r.out.find("::group::"), std::string::npos);
}

TEST_F(GithubActionsTest, AnUnwritableOutputFileIsAWarningNotAFailure) {
  Write("plan.yaml", kPassingPlan);
  auto env = Env();
  env["GITHUB_OUTPUT"] = Path("missing-dir/github_output").string();
  auto r = Slipway({"apply", "plan.yaml"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("::warning::slipway: cannot open $GITHUB_OUTPUT (" + Path("missing-dir/github_output").string() +
                       "): No such file or directory"),
            std::string::npos)
      << r.out;
}

// ---- packaging/action.yml ----

class ActionYmlTest : public TempDirTest {
 protected:
  YAML::Node Load(const std::string& rel) { return YAML::LoadFile((SourceRoot() / rel).string()); }
};

TEST_F(ActionYmlTest, InputsNeverReachShellText) {
  // `${{ … }}` inside `run:` is pasted into the script before bash sees it: a crafted input would run.
  for (const char* file : {"packaging/action.yml", "packaging/github/deploy.yml"}) {
    auto doc = Load(file);
    std::vector<YAML::Node> steps;
    if (doc["runs"]) {
      for (const auto& s : doc["runs"]["steps"]) steps.push_back(s);
    } else {
      for (const auto& job : doc["jobs"])
        for (const auto& s : job.second["steps"]) steps.push_back(s);
    }
    ASSERT_FALSE(steps.empty()) << file;
    for (const auto& s : steps) {
      if (!s["run"]) continue;
      const auto script = s["run"].as<std::string>();
      EXPECT_EQ(script.find("${{"), std::string::npos) << file << ": " << script;
      if (std::string(file) == "packaging/action.yml") {
        EXPECT_EQ(s["shell"].as<std::string>(), "bash");
      }
    }
  }
  auto action = Load("packaging/action.yml");
  EXPECT_EQ(action["runs"]["using"].as<std::string>(), "composite");
  for (const char* input : {"plan", "vars", "skip-tests", "dry-run", "install", "deb-url", "working-directory"})
    EXPECT_TRUE(action["inputs"][input]) << input;
  // Every output maps to one that slipway writes.
  std::set<std::string> written(kApplyOutputs.begin(), kApplyOutputs.end());
  written.insert("changes");
  for (const auto& o : action["outputs"]) {
    std::smatch m;
    const std::string value = o.second["value"].as<std::string>();
    ASSERT_TRUE(std::regex_match(value, m, std::regex(R"(\$\{\{ steps\.run\.outputs\.([a-z_0-9]+) \}\})"))) << value;
    EXPECT_TRUE(written.count(m[1])) << value;
  }
}

TEST_F(ActionYmlTest, RunScriptPassesHostileInputsAsPlainArguments) {
  auto action = Load("packaging/action.yml");
  std::string script;
  for (const auto& s : action["runs"]["steps"])
    if (s["id"] && s["id"].as<std::string>() == "run") script = s["run"].as<std::string>();
  ASSERT_FALSE(script.empty());
  Write("run.sh", script);
  Write("plan.yaml", R"(apiVersion: slipway/v1
kind: Plan
metadata: {name: act}
vars: {msg: "", other: ""}
steps:
  - id: record
    run: [sh, -c, 'printf "%s|%s" "$1" "$2" > got.txt', sh, "{{ vars.msg }}", "{{ vars.other }}"]
  - id: slow-test
    tags: [test]
    run: [touch, test-ran]
)");
  const std::string hostile = "$(touch pwned) `touch pwned2`; echo \"q\" 'x' && rm -rf . # ${HOME}";
  auto run = [&](const std::string& dry_run, const std::string& vars) {
    pipeline::ProcessSpec spec;
    spec.argv = {"/bin/bash", "--noprofile", "--norc", "-eo", "pipefail", Path("run.sh").string()};
    spec.cwd = dir_.string();
    spec.env = {{"PATH", BuildDir().string() + ":/usr/bin:/bin"},
                {"SLIPWAY_PLAN", "plan.yaml"},
                {"SLIPWAY_VARS", vars},
                {"SLIPWAY_SKIP_TESTS", "true"},
                {"SLIPWAY_DRY_RUN", dry_run},
                {"SLIPWAY_ARGS", "--parallel\n1\n"},
                {"SLIPWAY_STATE", ".state"},
                {"GITHUB_ACTIONS", "true"},
                {"GITHUB_OUTPUT", Path("github_output").string()},
                {"GITHUB_STEP_SUMMARY", Path("step_summary.md").string()},
                {"NO_COLOR", "1"}};
    spec.timeout = std::chrono::seconds(60);
    return pipeline::RunProcess(spec);
  };
  auto r = run("false", "msg=" + hostile + "\r\n\n# a comment\n  other=two words  \n");
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->exit_code, 0) << r->out << r->err;
  EXPECT_EQ(Read("got.txt"), hostile + "|two words  ");
  EXPECT_FALSE(fs::exists(Path("pwned")));
  EXPECT_FALSE(fs::exists(Path("pwned2")));
  EXPECT_FALSE(fs::exists(Path("test-ran")));  // skip-tests
  EXPECT_TRUE(fs::exists(Path(".state")));     // the state input
  auto out = ParseGithubOutput(Read("github_output"));
  EXPECT_EQ(Get(out, "status"), "succeeded");

  // dry-run: `slipway plan`, nothing runs.
  fs::remove(Path("got.txt"));
  fs::remove(Path("github_output"));
  auto d = run("true", "msg=changed");
  ASSERT_TRUE(d.has_value());
  ASSERT_EQ(d->exit_code, 0) << d->out << d->err;
  EXPECT_FALSE(fs::exists(Path("got.txt")));
  EXPECT_EQ(Get(ParseGithubOutput(Read("github_output")), "status"), "changes-pending");

  // A vars line that is not NAME=VALUE fails without echoing it (it may be a secret).
  auto bad = run("false", "s3cret-not-a-var");
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->exit_code, 2);
  EXPECT_NE(bad->out.find("::error::slipway action: vars line 1 is not NAME=VALUE"), std::string::npos) << bad->out;
  EXPECT_EQ((bad->out + bad->err).find("s3cret"), std::string::npos);
}

// ---- completion and --help ----

class CompletionTest : public TempDirTest {
 protected:
  /// Subcommand names as `slipway --help` lists them.
  std::vector<std::string> Subcommands() {
    auto r = Slipway({"--help"});
    EXPECT_EQ(r.exit_code, 0);
    std::vector<std::string> out;
    auto at = r.out.find("Subcommands:");
    EXPECT_NE(at, std::string::npos) << r.out;
    std::istringstream in(r.out.substr(at + 12));
    static const std::regex kLine(R"(\s+([a-z]+)\s+\S.*)");
    std::smatch m;
    for (std::string l; std::getline(in, l);)
      if (std::regex_match(l, m, kLine)) out.push_back(m[1]);
    return out;
  }
  /// Every option line of `slipway SUB --help`: names -> the rest of the line (type and description).
  std::map<std::string, std::string> HelpOptions(const std::string& sub) {
    auto r = sub.empty() ? Slipway({"--help"}) : Slipway({sub, "--help"});
    EXPECT_EQ(r.exit_code, 0) << sub;
    std::map<std::string, std::string> out;
    static const std::regex kOpt(R"(\s+((?:-[A-Za-z],)?--?[a-z][a-z0-9-]*)(.*))");
    std::smatch m;
    std::istringstream in(r.out);
    for (std::string l; std::getline(in, l);)
      if (std::regex_match(l, m, kOpt)) out[m[1]] = m[2];
    return out;
  }
};

TEST_F(CompletionTest, EverySubcommandHasAHelpThatDescribesEveryFlag) {
  auto subs = Subcommands();
  EXPECT_EQ(std::set<std::string>(subs.begin(), subs.end()),
            (std::set<std::string>{"validate", "plan", "apply", "graph", "rollback", "status", "version", "loadtest",
                                   "completion"}));
  for (const auto& sub : subs) {
    auto opts = HelpOptions(sub);
    EXPECT_TRUE(opts.count("-h,--help")) << sub;
    for (const auto& [name, rest] : opts) {
      // After the name: an optional TYPE (and REQUIRED / choices), then words of description.
      std::string text = std::regex_replace(rest, std::regex(R"(^\s*([A-Z][A-Z=,.]*(:\{[^}]*\})?( [A-Z]+)*)?\s*)"), "");
      EXPECT_GE(text.size(), 8u) << sub << " " << name << ": no description in '" << rest << "'";
    }
  }
  auto apply = HelpOptions("apply");
  for (const char* flag : {"--set", "--values", "--profile", "--secrets-file", "--skip-tests", "--only", "--output",
                           "--parallel", "--dry-run", "--detailed-exitcode", "--fail-fast", "--no-rollback",
                           "--rollback-on-interrupt", "--fresh", "--grace", "--lock-timeout"})
    EXPECT_TRUE(apply.count(flag)) << flag;
  EXPECT_NE(Slipway({"apply", "--help"}).out.find("Global options (also accepted here): --log-format text|json"),
            std::string::npos);
}

TEST_F(CompletionTest, BashScriptIsValidAndCoversEverySubcommandAndFlag) {
  auto r = Slipway({"completion", "bash"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  Write("slipway.bash", r.out);
  pipeline::ProcessSpec check;
  check.argv = {"/bin/bash", "-n", Path("slipway.bash").string()};
  check.timeout = std::chrono::seconds(10);
  auto syntax = pipeline::RunProcess(check);
  ASSERT_TRUE(syntax.has_value());
  EXPECT_EQ(syntax->exit_code, 0) << syntax->err;
  for (const auto& sub : Subcommands()) {
    auto at = r.out.find("\n    " + sub + ")\n");
    ASSERT_NE(at, std::string::npos) << sub;
    std::string words = r.out.substr(at, r.out.find('\n', r.out.find("compgen -W", at)) - at);
    for (const auto& [names, rest] : HelpOptions(sub)) {
      std::string name = names.substr(names.find("--"));
      EXPECT_NE(words.find(" " + name + " "), std::string::npos) << sub << ": " << name << " not completed";
    }
  }
  for (const auto& [names, rest] : HelpOptions("")) {
    std::string name = names.substr(names.find("--"));
    EXPECT_NE(r.out.find(" " + name + " "), std::string::npos) << name;
  }
}

TEST_F(CompletionTest, BashCompletesSubcommandsFlagsAndChoices) {
  Write("slipway.bash", Slipway({"completion", "bash"}).out);
  // Runs the completion function the way bash's programmable completion does, one case a line.
  Write("drive.sh", R"(source "$1"
complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _slipway; echo "${COMPREPLY[*]}"; }
complete_words slipway ap
complete_words slipway apply plan.yaml --sk
complete_words slipway plan plan.yaml --output ""
complete_words slipway --log-format j
complete_words slipway completion ""
complete_words slipway loadtest --wor
complete_words slipway apply --set ""
)");
  pipeline::ProcessSpec spec;
  spec.argv = {"/bin/bash", "--norc", Path("drive.sh").string(), Path("slipway.bash").string()};
  spec.cwd = dir_.string();
  spec.timeout = std::chrono::seconds(10);
  auto r = pipeline::RunProcess(spec);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->exit_code, 0) << r->err;
  EXPECT_EQ(r->out, "apply\n--skip-tests\ntext json\njson\nbash zsh\n--worker\n\n") << r->err;
}

TEST_F(CompletionTest, ZshScriptCoversEverySubcommand) {
  auto r = Slipway({"completion", "zsh"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out.rfind("#compdef slipway\n", 0), 0u);
  for (const auto& sub : Subcommands()) {
    EXPECT_NE(r.out.find("\n        '" + sub + ":"), std::string::npos) << sub;
    EXPECT_NE(r.out.find("\n        " + sub + ")\n"), std::string::npos) << sub;
  }
  EXPECT_NE(r.out.find("'*--set[Set a variable: NAME=VALUE (repeatable; highest precedence)]:NAME=VALUE: '"),
            std::string::npos);
  EXPECT_NE(r.out.find("'--output[Output format: text or json]:TEXT:(text json)'"), std::string::npos);
  for (const char* zsh : {"/usr/bin/zsh", "/bin/zsh"}) {
    if (!fs::exists(zsh)) continue;
    Write("_slipway", r.out);
    pipeline::ProcessSpec check;
    check.argv = {zsh, "-n", Path("_slipway").string()};
    check.timeout = std::chrono::seconds(10);
    auto syntax = pipeline::RunProcess(check);
    ASSERT_TRUE(syntax.has_value());
    EXPECT_EQ(syntax->exit_code, 0) << syntax->err;
    break;
  }
  auto bad = Slipway({"completion", "fish"});
  EXPECT_EQ(bad.exit_code, 2);
}

// ---- the .deb ----

class PackagingTest : public TempDirTest {};

TEST_F(PackagingTest, CpackDebInstallsARunnableSlipwayWithTemplatesAndPlans) {
  const fs::path config = BuildDir() / "CPackConfig.cmake";
  if (!fs::exists("/usr/bin/cpack") || !fs::exists("/usr/bin/dpkg-deb"))
    GTEST_SKIP() << "cpack or dpkg-deb is not installed; the .deb was not built";
  if (!fs::exists(config)) GTEST_SKIP() << config << " does not exist (not configured with CPack)";
  auto run = [&](std::vector<std::string> argv, int timeout_s = 120) {
    pipeline::ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.cwd = dir_.string();
    spec.timeout = std::chrono::seconds(timeout_s);
    auto r = pipeline::RunProcess(spec);
    CliResult out;
    if (r) {
      out.exit_code = r->exit_code;
      out.out = r->out;
      out.err = r->err;
    } else {
      out.err = r.error().message;
    }
    return out;
  };
  auto pack = run({"/usr/bin/cpack", "-G", "DEB", "--config", config.string(), "-B", Path("pkg").string()}, 300);
  ASSERT_EQ(pack.exit_code, 0) << pack.all();
  fs::path deb;
  for (const auto& e : fs::directory_iterator(Path("pkg")))
    if (e.path().extension() == ".deb") deb = e.path();
  ASSERT_FALSE(deb.empty()) << pack.all();
  EXPECT_TRUE(std::regex_match(deb.filename().string(), std::regex(R"(slipway_[0-9.]+_[a-z0-9]+\.deb)")))
      << deb.filename();

  auto info = run({"/usr/bin/dpkg-deb", "--field", deb.string(), "Package", "Depends"});
  ASSERT_EQ(info.exit_code, 0) << info.all();
  EXPECT_NE(info.out.find("Package: slipway"), std::string::npos) << info.out;
  for (const char* dep : {"libcurl4", "libyaml-cpp0.7", "libspdlog1.10"})
    EXPECT_NE(info.out.find(dep), std::string::npos) << dep << " missing from " << info.out;

  auto list = run({"/usr/bin/dpkg-deb", "-c", deb.string()});
  ASSERT_EQ(list.exit_code, 0) << list.all();
  for (const char* f : {"./usr/bin/slipway", "./usr/bin/slipway-demo-service",
                        "./usr/share/slipway/templates/report/report.html.mustache",
                        "./usr/share/slipway/templates/demo/prometheus.yml.mustache",
                        "./usr/share/slipway/plans/local-demo.yaml",
                        "./usr/share/bash-completion/completions/slipway", "./usr/share/zsh/vendor-completions/_slipway"})
    EXPECT_NE(list.out.find(std::string(f) + "\n"), std::string::npos) << f << " not in\n" << list.out;

  const fs::path root = Path("root");
  auto x = run({"/usr/bin/dpkg-deb", "-x", deb.string(), root.string()});
  ASSERT_EQ(x.exit_code, 0) << x.all();
  const std::string bin = (root / "usr/bin/slipway").string();
  auto version = run({bin, "version"});
  EXPECT_EQ(version.exit_code, 0) << version.all();
  EXPECT_EQ(version.out.rfind("slipway ", 0), 0u) << version.out;
  // The unpacked binary finds the unpacked templates (<bin>/../share/slipway/templates): validate from
  // an empty directory, so neither the source tree's templates nor ./templates can be what it finds.
  pipeline::ProcessSpec spec;
  spec.argv = {bin, "validate", (root / "usr/share/slipway/plans/local-demo.yaml").string()};
  fs::create_directories(Path("elsewhere"));
  spec.cwd = Path("elsewhere").string();
  spec.env = {{"SLIPWAY_TEMPLATES", ""}};
  spec.timeout = std::chrono::seconds(30);
  auto validate = pipeline::RunProcess(spec);
  ASSERT_TRUE(validate.has_value());
  EXPECT_EQ(validate->exit_code, 0) << validate->out << validate->err;
  EXPECT_NE(validate->out.find("local-demo.yaml: ok ("), std::string::npos) << validate->out;
  // validate does not open templates; a dry-run renders them, so it shows which directory was used.
  spec.argv = {bin, "plan", (root / "usr/share/slipway/plans/local-demo.yaml").string()};
  auto plan = pipeline::RunProcess(spec);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->exit_code, 0) << plan->out << plan->err;
  const std::string shipped_template =
      (fs::canonical(root) / "usr/share/slipway/templates/demo/prometheus.yml.mustache").string();
  EXPECT_NE(plan->out.find("render " + shipped_template + " -> .slipway/demo/prometheus.yml:\n"), std::string::npos)
      << plan->out;
  // The shipped bash completion is the one the binary prints.
  std::ifstream in(root / "usr/share/bash-completion/completions/slipway");
  std::string shipped((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(shipped, run({bin, "completion", "bash"}).out);
}

}  // namespace
}  // namespace slipway::test
