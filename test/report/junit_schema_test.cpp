// The report's JUnit XML against the JUnit schema's required elements and attributes
// (test/report/junit.xsd): testsuites and testsuite carry name, tests, failures, errors, skipped and
// time; testcase carries name, classname and time; failure and error carry a message. The document is
// parsed by a small strict XML reader here (well-formedness, entities, UTF-8), checked element by
// element against the same rules as the XSD, its counts are checked against its testcases, and —
// when xmllint is installed — validated against junit.xsd itself.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "steps/report_junit.h"
#include "steps/report_model.h"

namespace slipway::steps::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// ---- a strict reader for the XML subset JUnit uses (no DTD, no CDATA, no namespaces) ----

struct Node {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attrs;  // decoded values, in document order
  std::vector<std::unique_ptr<Node>> children;
  std::string text;  // decoded character data directly inside
  std::optional<std::string> Attr(const std::string& key) const {
    for (const auto& [k, v] : attrs)
      if (k == key) return v;
    return std::nullopt;
  }
  std::vector<const Node*> Children(const std::string& n = "") const {
    std::vector<const Node*> out;
    for (const auto& c : children)
      if (n.empty() || c->name == n) out.push_back(c.get());
    return out;
  }
};

bool ValidUtf8(const std::string& s, std::string* why) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) {
      *why = "invalid UTF-8 at byte " + std::to_string(i);
      return false;
    }
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) {
        *why = "invalid UTF-8 at byte " + std::to_string(i);
        return false;
      }
    if (len == 1 && c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      *why = "control character " + std::to_string(c) + " at byte " + std::to_string(i) + " (not allowed in XML 1.0)";
      return false;
    }
    i += len;
  }
  return true;
}

class XmlReader {
 public:
  explicit XmlReader(std::string text) : s_(std::move(text)) {}

  /// The root element, or nullptr with error() set.
  std::unique_ptr<Node> Parse() {
    if (!ValidUtf8(s_, &error_)) return nullptr;
    if (s_.rfind("<?xml ", 0) == 0) {
      auto end = s_.find("?>");
      if (end == std::string::npos) return Fail("unterminated XML declaration");
      pos_ = end + 2;
    }
    SkipMisc();
    auto root = Element();
    if (!root) return nullptr;
    SkipMisc();
    if (pos_ != s_.size()) return Fail("content after the root element at byte " + std::to_string(pos_));
    return root;
  }
  const std::string& error() const { return error_; }

 private:
  std::unique_ptr<Node> Fail(const std::string& why) {
    if (error_.empty()) error_ = why;
    return nullptr;
  }
  void SkipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void SkipMisc() {
    for (;;) {
      SkipSpace();
      if (s_.compare(pos_, 4, "<!--") == 0) {
        auto end = s_.find("-->", pos_ + 4);
        if (end == std::string::npos) return;
        pos_ = end + 3;
        continue;
      }
      return;
    }
  }
  std::string Name() {
    size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '-' ||
                                s_[pos_] == '_' || s_[pos_] == '.' || s_[pos_] == ':'))
      ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // Character data or an attribute value up to `stop`, with entities decoded.
  std::optional<std::string> Decode(size_t end) {
    std::string out;
    while (pos_ < end) {
      char c = s_[pos_];
      if (c == '<') {
        error_ = "'<' inside a value at byte " + std::to_string(pos_);
        return std::nullopt;
      }
      if (c != '&') {
        out += c;
        ++pos_;
        continue;
      }
      auto semi = s_.find(';', pos_);
      if (semi == std::string::npos || semi > end) {
        error_ = "bare '&' at byte " + std::to_string(pos_);
        return std::nullopt;
      }
      std::string ent = s_.substr(pos_ + 1, semi - pos_ - 1);
      static const std::map<std::string, std::string> kNamed = {
          {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};
      if (auto it = kNamed.find(ent); it != kNamed.end()) {
        out += it->second;
      } else if (ent.size() > 1 && ent[0] == '#') {
        bool hex = ent[1] == 'x';
        std::string digits = ent.substr(hex ? 2 : 1);
        if (digits.empty() || digits.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") !=
                                  std::string::npos) {
          error_ = "bad character reference &" + ent + ";";
          return std::nullopt;
        }
        unsigned long cp = std::stoul(digits, nullptr, hex ? 16 : 10);
        if (cp < 0x80) {
          out += static_cast<char>(cp);
        } else {
          out += "?";  // non-ASCII references do not occur in slipway's output; keep them visible
        }
      } else {
        error_ = "unknown entity &" + ent + ";";
        return std::nullopt;
      }
      pos_ = semi + 1;
    }
    return out;
  }
  std::unique_ptr<Node> Element() {
    if (pos_ >= s_.size() || s_[pos_] != '<') return Fail("expected an element at byte " + std::to_string(pos_));
    ++pos_;
    auto node = std::make_unique<Node>();
    node->name = Name();
    if (node->name.empty()) return Fail("element without a name at byte " + std::to_string(pos_));
    for (;;) {
      size_t before = pos_;
      SkipSpace();
      if (s_.compare(pos_, 2, "/>") == 0) {
        pos_ += 2;
        return node;
      }
      if (pos_ < s_.size() && s_[pos_] == '>') {
        ++pos_;
        break;
      }
      if (pos_ == before) return Fail("expected whitespace before an attribute of <" + node->name + ">");
      std::string key = Name();
      if (key.empty() || s_.compare(pos_, 2, "=\"") != 0)
        return Fail("malformed attribute in <" + node->name + "> at byte " + std::to_string(pos_));
      pos_ += 2;
      auto end = s_.find('"', pos_);
      if (end == std::string::npos) return Fail("unterminated attribute value");
      auto value = Decode(end);
      if (!value) return nullptr;
      if (node->Attr(key)) return Fail("duplicate attribute '" + key + "' in <" + node->name + ">");
      node->attrs.emplace_back(key, *value);
      pos_ = end + 1;
    }
    for (;;) {
      auto lt = s_.find('<', pos_);
      if (lt == std::string::npos) return Fail("unterminated <" + node->name + ">");
      auto text = Decode(lt);
      if (!text) return nullptr;
      node->text += *text;
      if (s_.compare(pos_, 4, "<!--") == 0) {
        SkipMisc();
        continue;
      }
      if (s_.compare(pos_, 2, "</") == 0) {
        pos_ += 2;
        std::string close = Name();
        if (close != node->name) return Fail("</" + close + "> closes <" + node->name + ">");
        SkipSpace();
        if (pos_ >= s_.size() || s_[pos_] != '>') return Fail("malformed end tag </" + close);
        ++pos_;
        return node;
      }
      auto child = Element();
      if (!child) return nullptr;
      node->children.push_back(std::move(child));
    }
  }

  std::string s_;
  size_t pos_ = 0;
  std::string error_;
};

// ---- the schema's rules (the same as junit.xsd) ----

bool NonNegativeInteger(const std::string& v) { return std::regex_match(v, std::regex("[0-9]+")); }
bool Seconds(const std::string& v) { return std::regex_match(v, std::regex("[0-9]+(\\.[0-9]+)?")); }
bool DateTime(const std::string& v) {
  return std::regex_match(v, std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z)?"));
}

/// Every violation of the schema, as "path: what".
std::vector<std::string> SchemaViolations(const Node& root) {
  std::vector<std::string> out;
  auto need = [&](const Node& n, const std::string& path, const std::string& attr, bool (*type)(const std::string&)) {
    auto v = n.Attr(attr);
    if (!v)
      out.push_back(path + ": missing required attribute '" + attr + "'");
    else if (type && !type(*v))
      out.push_back(path + ": attribute '" + attr + "' is not of its type: '" + *v + "'");
  };
  auto counts = [&](const Node& n, const std::string& path) {
    need(n, path, "name", nullptr);
    for (const char* a : {"tests", "failures", "errors", "skipped"}) need(n, path, a, NonNegativeInteger);
    need(n, path, "time", Seconds);
    if (auto ts = n.Attr("timestamp"); ts && !DateTime(*ts)) out.push_back(path + ": timestamp is not a dateTime");
  };
  if (root.name != "testsuites") {
    out.push_back("root element is <" + root.name + ">, not <testsuites>");
    return out;
  }
  counts(root, "testsuites");
  if (!root.text.empty() && root.text.find_first_not_of(" \t\r\n") != std::string::npos)
    out.push_back("testsuites: character data is not allowed");
  size_t si = 0;
  for (const auto* suite : root.Children()) {
    std::string spath = "testsuite[" + std::to_string(si++) + "]";
    if (suite->name != "testsuite") {
      out.push_back("testsuites: <" + suite->name + "> is not allowed");
      continue;
    }
    counts(*suite, spath);
    // properties?, testcase*, system-out?, system-err?
    static const std::vector<std::string> kOrder = {"properties", "testcase", "system-out", "system-err"};
    size_t at = 0;
    std::string last;
    size_t ci = 0;
    for (const auto* c : suite->Children()) {
      auto it = std::find(kOrder.begin(), kOrder.end(), c->name);
      if (it == kOrder.end()) {
        out.push_back(spath + ": <" + c->name + "> is not allowed");
        continue;
      }
      size_t rank = static_cast<size_t>(it - kOrder.begin());
      if (rank < at || (rank == at && c->name != "testcase" && last == c->name))
        out.push_back(spath + ": <" + c->name + "> out of order or repeated");
      at = rank;
      last = c->name;
      if (c->name != "testcase") continue;
      std::string cpath = spath + "/testcase[" + std::to_string(ci++) + "]";
      need(*c, cpath, "name", nullptr);
      need(*c, cpath, "classname", nullptr);
      need(*c, cpath, "time", Seconds);
      // (skipped | failure+ | error+)?, system-out*, system-err*
      std::string verdict;
      bool output_seen = false;
      for (const auto* r : c->Children()) {
        if (r->name == "skipped" || r->name == "failure" || r->name == "error") {
          if (output_seen || (!verdict.empty() && (verdict != r->name || r->name == "skipped")))
            out.push_back(cpath + ": <" + r->name + "> not allowed here");
          verdict = r->name;
          if (r->name != "skipped") need(*r, cpath + "/" + r->name, "message", nullptr);
        } else if (r->name == "system-out" || r->name == "system-err") {
          output_seen = true;
          if (!r->children.empty()) out.push_back(cpath + "/" + r->name + ": must hold only text");
        } else {
          out.push_back(cpath + ": <" + r->name + "> is not allowed");
        }
      }
    }
  }
  return out;
}

int Count(const Node& n, const std::string& child_of_testcase) {
  int k = 0;
  for (const auto* c : n.Children("testcase")) k += !c->Children(child_of_testcase).empty();
  return k;
}

/// Disagreements between the count attributes and the testcases they count.
std::vector<std::string> CountMismatches(const Node& root) {
  std::vector<std::string> out;
  long tests = 0, failures = 0, errors = 0, skipped = 0;
  for (const auto* suite : root.Children("testsuite")) {
    const std::string name = suite->Attr("name").value_or("?");
    const std::map<std::string, long> want = {{"tests", static_cast<long>(suite->Children("testcase").size())},
                                              {"failures", Count(*suite, "failure")},
                                              {"errors", Count(*suite, "error")},
                                              {"skipped", Count(*suite, "skipped")}};
    for (const auto& [attr, n] : want)
      if (suite->Attr(attr).value_or("") != std::to_string(n))
        out.push_back("testsuite " + name + ": " + attr + "=" + suite->Attr(attr).value_or("(none)") + " but " +
                      std::to_string(n) + " counted");
    tests += want.at("tests");
    failures += want.at("failures");
    errors += want.at("errors");
    skipped += want.at("skipped");
  }
  const std::map<std::string, long> want = {
      {"tests", tests}, {"failures", failures}, {"errors", errors}, {"skipped", skipped}};
  for (const auto& [attr, n] : want)
    if (root.Attr(attr).value_or("") != std::to_string(n))
      out.push_back("testsuites: " + attr + "=" + root.Attr(attr).value_or("(none)") + " but " + std::to_string(n) +
                    " counted");
  return out;
}

// ---- xmllint, when installed ----

fs::path SchemaFile() { return fs::path(__FILE__).parent_path() / "junit.xsd"; }

/// xmllint's exit status and output validating `xml` against junit.xsd; nullopt when xmllint is absent.
std::optional<std::pair<int, std::string>> XmllintSchema(const std::string& xml) {
  if (!fs::exists("/usr/bin/xmllint") || !fs::exists(SchemaFile())) return std::nullopt;
  char tmpl[] = "/tmp/slipway-junit-XXXXXX";
  int fd = ::mkstemp(tmpl);
  if (fd < 0) return std::make_pair(-1, std::string("mkstemp failed"));
  ::close(fd);
  std::ofstream(tmpl, std::ios::binary) << xml;
  std::string out_file = std::string(tmpl) + ".out";
  pid_t pid = ::fork();
  if (pid == 0) {
    FILE* f = std::freopen(out_file.c_str(), "w", stderr);
    (void)f;
    ::dup2(STDERR_FILENO, STDOUT_FILENO);
    std::string schema = SchemaFile().string();
    ::execl("/usr/bin/xmllint", "xmllint", "--noout", "--nonet", "--schema", schema.c_str(), tmpl,
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::ifstream in(out_file);
  std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::remove(tmpl);
  fs::remove(out_file);
  return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, output);
}

// ---- the reports ----

/// A report (report.json's shape) with every outcome RenderJunit distinguishes, and user text
/// that needs escaping in names, classnames and messages.
json FullReport() {
  return {
      {"plan", "shop<&>\"'"},
      {"started", "2024-05-01T12:00:00.000Z"},
      {"duration_ms", 62345},
      {"steps",
       json::array({
           {{"id", "prereqs"}, {"kind", "prereq"}, {"status", "succeeded"}, {"duration_ms", 120}, {"attempts", 1}},
           {{"id", "config"}, {"kind", "template"}, {"status", "unchanged"}, {"reason", "same content"},
            {"duration_ms", 3}, {"attempts", 0}},
           {{"id", "deploy"}, {"kind", "run"}, {"status", "failed"},
            {"reason", "exit status 22: curl: (22) 503 <b>\"upstream\"</b> & more\nsecond line\x1b[0m"},
            {"duration_ms", 400}, {"attempts", 3}, {"loc", "plans/shop.yaml:12:7"}},
           {{"id", "undo-me"}, {"kind", "service"}, {"status", "rollback-failed"}, {"reason", "kill failed"},
            {"duration_ms", 10}, {"attempts", 1}},
           {{"id", "notify"}, {"kind", "notify"}, {"status", "skipped"}, {"reason", "needs 'deploy', which failed"},
            {"duration_ms", 0}},
           {{"id", "later"}, {"kind", "run"}, {"status", "pending"}},
       })},
      {"loadtests",
       json::array({
           {{"step", "load-test"},
            {"thresholds",
             json::array({{{"metric", "http_req_duration"}, {"expr", "p(95)<200"}, {"measured", 14.31},
                           {"limit", 200}, {"ok", true}},
                          {{"metric", "http_req_duration"}, {"expr", "p(99)<30"}, {"measured", 41.0}, {"limit", 30},
                           {"ok", false}},
                          {{"metric", "http_req_failed"}, {"expr", "rate<0.01"}, {"measured", nullptr},
                           {"limit", 0.01}, {"ok", nullptr}}})}},
           {{"step", "broken-load"}, {"error", "output summary_json: not valid JSON"}},
       })},
      {"slos",
       json::array({
           {{"step", "gate"},
            {"objectives",
             json::array({{{"name", "availability"}, {"value", 99.95}, {"unit", "%"}, {"target", 99.9},
                           {"result", "pass"}},
                          {{"name", "p95-latency"}, {"value", 0.231}, {"unit", "s"}, {"target", "< 0.2"},
                           {"result", "warning"}, {"message", "within warning (< 0.25)"}},
                          {{"name", "client-p95"}, {"value", 480}, {"unit", "ms"}, {"target", "< 200ms"},
                           {"result", "fail"}, {"message", "480 ms is not < 200ms"}},
                          {{"name", "no-data"}, {"value", nullptr}, {"target", "< 1"}, {"result", ""}}})}},
           {{"step", "gate2"}, {"error", "output report_json: not a JSON object"}},
       })},
  };
}

class JunitSchemaTest : public ::testing::Test {
 protected:
  /// Renders, parses and checks; returns the root for further assertions.
  std::unique_ptr<Node> RenderAndCheck(const json& report) {
    xml_ = RenderJunit(report);
    XmlReader reader(xml_);
    auto root = reader.Parse();
    EXPECT_NE(root, nullptr) << "not well-formed: " << reader.error() << "\n" << xml_;
    if (!root) return nullptr;
    EXPECT_EQ(SchemaViolations(*root), std::vector<std::string>{}) << xml_;
    EXPECT_EQ(CountMismatches(*root), std::vector<std::string>{}) << xml_;
    if (auto lint = XmllintSchema(xml_)) {
      EXPECT_EQ(lint->first, 0) << lint->second << "\n" << xml_;
    }
    return root;
  }
  std::string xml_;
};

TEST_F(JunitSchemaTest, EveryOutcomeValidatesWithRequiredAttributesAndMatchingCounts) {
  auto root = RenderAndCheck(FullReport());
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->Attr("name"), "slipway shop<&>\"'");
  // 6 steps + 3 thresholds + 1 invalid summary + 4 objectives + 1 invalid SLO report.
  EXPECT_EQ(root->Attr("tests"), "15");
  EXPECT_EQ(root->Attr("failures"), "4");  // deploy, undo-me, p(99)<30, client-p95
  EXPECT_EQ(root->Attr("errors"), "2");    // the two invalid producer outputs
  EXPECT_EQ(root->Attr("skipped"), "4");   // notify, later, the threshold without verdict, no-data
  EXPECT_EQ(root->Attr("time"), "62.345");
  auto suites = root->Children();
  ASSERT_EQ(suites.size(), 3u);
  EXPECT_EQ(suites[0]->Attr("name"), "steps");
  EXPECT_EQ(suites[1]->Attr("name"), "thresholds");
  EXPECT_EQ(suites[2]->Attr("name"), "objectives");
  for (const auto* s : suites) EXPECT_EQ(s->Attr("timestamp"), "2024-05-01T12:00:00");
  EXPECT_EQ(suites[0]->Attr("time"), "0.533");

  auto deploy = suites[0]->Children("testcase")[2];
  EXPECT_EQ(deploy->Attr("name"), "deploy");
  EXPECT_EQ(deploy->Attr("classname"), "shop<&>\"'.run");
  EXPECT_EQ(deploy->Attr("time"), "0.4");
  auto failure = deploy->Children("failure");
  ASSERT_EQ(failure.size(), 1u);
  // Markup, quotes and line breaks survive the round trip; the terminal escape is dropped.
  EXPECT_EQ(failure[0]->Attr("message"), "exit status 22: curl: (22) 503 <b>\"upstream\"</b> & more\nsecond line[0m");
  EXPECT_EQ(failure[0]->Attr("type"), "failed");
  EXPECT_EQ(suites[0]->Children("testcase")[3]->Children("failure")[0]->Attr("type"), "rollback-failed");

  auto skipped = suites[0]->Children("testcase")[4]->Children("skipped");
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0]->Attr("message"), "needs 'deploy', which failed");

  auto thresholds = suites[1]->Children("testcase");
  ASSERT_EQ(thresholds.size(), 4u);
  EXPECT_EQ(thresholds[0]->Attr("name"), "http_req_duration: p(95)<200");
  EXPECT_EQ(thresholds[0]->Attr("classname"), "shop<&>\"'.load-test");
  EXPECT_EQ(thresholds[1]->Children("failure")[0]->Attr("message"), "p(99)<30 not met: measured 41, limit 30");
  EXPECT_EQ(thresholds[3]->Children("error")[0]->Attr("message"), "output summary_json: not valid JSON");

  auto objectives = suites[2]->Children("testcase");
  ASSERT_EQ(objectives.size(), 5u);
  EXPECT_EQ(objectives[1]->Children("system-out")[0]->text, "warning: within warning (< 0.25) (value 0.231 s, target < 0.2)");
  EXPECT_EQ(objectives[2]->Children("failure")[0]->Attr("message"), "480 ms is not < 200ms");
  EXPECT_EQ(objectives[2]->Children("failure")[0]->Attr("type"), "objective");
}

TEST_F(JunitSchemaTest, AnEmptyRunIsStillAValidDocument) {
  auto root = RenderAndCheck(json{{"plan", "empty"}, {"duration_ms", 5}});
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->Attr("tests"), "0");
  EXPECT_EQ(root->Attr("time"), "0.005");
  ASSERT_EQ(root->Children("testsuite").size(), 3u);
  for (const auto* s : root->Children("testsuite")) {
    EXPECT_EQ(s->Attr("tests"), "0");
    EXPECT_FALSE(s->Attr("timestamp").has_value());  // no start time known: none rather than an invalid one
  }
}

TEST_F(JunitSchemaTest, ARealRunWithRawToolOutputStaysValid) {
  // Through BuildReport, as the report kind does: a reason with Latin-1 bytes and terminal escapes
  // (what a failing tool prints) and a secret, which must come out masked.
  pipeline::Masker masker;
  masker.Add("hunter2");
  auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1714564800));  // 2024-05-01T12:00:00Z
  pipeline::StepSnapshot ok{"build", "run", "", {}, {}, "succeeded", "", 1, t0, t0 + std::chrono::milliseconds(250),
                            {}, {}};
  pipeline::StepSnapshot bad{"push", "run", "", {"build"}, {}, "failed",
                             std::string("caf\xe9 \xff \x1b[31mdenied\x1b[0m token=hunter2"), 2,
                             t0 + std::chrono::milliseconds(250), t0 + std::chrono::milliseconds(1250), {}, {}};
  ReportInput in;
  in.plan = "raw";
  in.run_id = "r1";
  in.started = t0;
  in.finished = t0 + std::chrono::seconds(2);
  in.steps = {ok, bad};
  in.masker = &masker;
  auto root = RenderAndCheck(BuildReport(in));
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->Attr("tests"), "2");
  EXPECT_EQ(root->Attr("failures"), "1");
  EXPECT_EQ(root->Attr("time"), "2");
  auto failure = root->Children("testsuite")[0]->Children("testcase")[1]->Children("failure");
  ASSERT_EQ(failure.size(), 1u);
  EXPECT_EQ(failure[0]->Attr("message"), "caf\xef\xbf\xbd \xef\xbf\xbd [31mdenied[0m token=***");
  EXPECT_EQ(xml_.find("hunter2"), std::string::npos);
}

TEST_F(JunitSchemaTest, TheCheckerRejectsDocumentsThatBreakTheSchema) {
  // The checks above must be able to fail: each broken document is caught for the stated reason.
  struct Case {
    std::string xml, want;
  };
  const std::vector<Case> cases = {
      {"<testsuites tests=\"0\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0\"/>",
       "testsuites: missing required attribute 'name'"},
      {"<testsuites name=\"x\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0\"><testsuite name=\"s\" "
       "tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0\"><testcase name=\"c\" time=\"0\"/></testsuite>"
       "</testsuites>",
       "testsuite[0]/testcase[0]: missing required attribute 'classname'"},
      {"<testsuites name=\"x\" tests=\"1\" failures=\"1\" errors=\"0\" skipped=\"0\" time=\"0\"><testsuite name=\"s\" "
       "tests=\"1\" failures=\"1\" errors=\"0\" skipped=\"0\" time=\"0\"><testcase name=\"c\" classname=\"k\" "
       "time=\"0\"><failure type=\"t\"/></testcase></testsuite></testsuites>",
       "testsuite[0]/testcase[0]/failure: missing required attribute 'message'"},
      {"<testsuites name=\"x\" tests=\"one\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0\"/>",
       "testsuites: attribute 'tests' is not of its type: 'one'"},
      {"<testsuites name=\"x\" tests=\"0\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"-1\"/>",
       "testsuites: attribute 'time' is not of its type: '-1'"},
  };
  for (const auto& c : cases) {
    XmlReader reader(c.xml);
    auto root = reader.Parse();
    ASSERT_NE(root, nullptr) << reader.error();
    auto v = SchemaViolations(*root);
    EXPECT_NE(std::find(v.begin(), v.end(), c.want), v.end()) << c.xml;
    if (auto lint = XmllintSchema(c.xml)) {
      EXPECT_NE(lint->first, 0) << c.xml;
    }
  }
  XmlReader bad("<testsuites name=\"a & b\"/>");
  EXPECT_EQ(bad.Parse(), nullptr);
  EXPECT_EQ(bad.error(), "bare '&' at byte 20");
  XmlReader mismatch("<testsuites name=\"a\"><testsuite></testsuites>");
  EXPECT_EQ(mismatch.Parse(), nullptr);
  EXPECT_EQ(mismatch.error(), "</testsuites> closes <testsuite>");
  auto counts = XmlReader("<testsuites name=\"x\" tests=\"2\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0\">"
                          "<testsuite name=\"s\" tests=\"2\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0\">"
                          "<testcase name=\"c\" classname=\"k\" time=\"0\"/></testsuite></testsuites>")
                    .Parse();
  ASSERT_NE(counts, nullptr);
  EXPECT_EQ(CountMismatches(*counts), (std::vector<std::string>{"testsuite s: tests=2 but 1 counted",
                                                                 "testsuites: tests=2 but 1 counted"}));
}

}  // namespace
}  // namespace slipway::steps::report
