#include "steps/report_junit.h"

#include <sstream>
#include <vector>

#include "steps/report_model.h"

namespace slipway::steps::report {

using nlohmann::json;

namespace {

/// An attribute value: escaped, with line breaks kept as character references (a parser would
/// otherwise normalise them to spaces).
std::string Attr(const std::string& s) {
  std::string e = EscapeXml(s), out;
  out.reserve(e.size());
  for (char c : e) {
    if (c == '\n')
      out += "&#10;";
    else if (c == '\r')
      out += "&#13;";
    else if (c == '\t')
      out += "&#9;";
    else
      out += c;
  }
  return out;
}

std::string Seconds(double ms) { return FormatNumber(ms / 1000.0, 3); }

struct Case {
  std::string name, classname;
  double time_ms = 0;
  enum class Outcome { kPass, kFailure, kError, kSkipped } outcome = Outcome::kPass;
  std::string message, type, body, system_out;
};

struct Suite {
  std::string name;
  std::vector<Case> cases;
  int Count(Case::Outcome o) const {
    int n = 0;
    for (const auto& c : cases) n += c.outcome == o;
    return n;
  }
  double TimeMs() const {
    double t = 0;
    for (const auto& c : cases) t += c.time_ms;
    return t;
  }
};

void WriteSuite(std::ostringstream& o, const Suite& s, const std::string& timestamp) {
  o << "  <testsuite name=\"" << Attr(s.name) << "\" tests=\"" << s.cases.size() << "\" failures=\""
    << s.Count(Case::Outcome::kFailure) << "\" errors=\"" << s.Count(Case::Outcome::kError) << "\" skipped=\""
    << s.Count(Case::Outcome::kSkipped) << "\" time=\"" << Seconds(s.TimeMs()) << "\"";
  if (!timestamp.empty()) o << " timestamp=\"" << Attr(timestamp) << "\"";
  o << ">\n";
  for (const auto& c : s.cases) {
    o << "    <testcase name=\"" << Attr(c.name) << "\" classname=\"" << Attr(c.classname) << "\" time=\""
      << Seconds(c.time_ms) << "\"";
    if (c.outcome == Case::Outcome::kPass && c.system_out.empty()) {
      o << "/>\n";
      continue;
    }
    o << ">\n";
    switch (c.outcome) {
      case Case::Outcome::kFailure:
      case Case::Outcome::kError: {
        const char* tag = c.outcome == Case::Outcome::kFailure ? "failure" : "error";
        o << "      <" << tag << " message=\"" << Attr(c.message) << "\" type=\"" << Attr(c.type) << "\"";
        if (c.body.empty())
          o << "/>\n";
        else
          o << ">" << EscapeXml(c.body) << "</" << tag << ">\n";
        break;
      }
      case Case::Outcome::kSkipped:
        o << "      <skipped message=\"" << Attr(c.message) << "\"/>\n";
        break;
      case Case::Outcome::kPass:
        break;
    }
    if (!c.system_out.empty()) o << "      <system-out>" << EscapeXml(c.system_out) << "</system-out>\n";
    o << "    </testcase>\n";
  }
  o << "  </testsuite>\n";
}

Suite StepsSuite(const json& report, const std::string& plan) {
  Suite s{"steps", {}};
  for (const auto& st : report.value("steps", json::array())) {
    Case c;
    c.name = TextAt(st, "id");
    c.classname = plan + "." + TextAt(st, "kind");
    c.time_ms = NumberAt(st, "duration_ms").value_or(0);
    const std::string status = TextAt(st, "status"), reason = TextAt(st, "reason");
    if (IsFailure(status)) {
      c.outcome = Case::Outcome::kFailure;
      c.type = status;
      c.message = reason.empty() ? "step " + status : reason;
      c.body = "step '" + c.name + "' " + status + " after " + TextAt(st, "attempts") + " attempt(s)" +
               (TextAt(st, "loc").empty() ? "" : " (" + TextAt(st, "loc") + ")") +
               (reason.empty() ? "" : ": " + reason);
    } else if (status == "skipped") {
      c.outcome = Case::Outcome::kSkipped;
      c.message = reason.empty() ? "skipped" : reason;
    } else if (status == "pending" || status == "would-run") {
      c.outcome = Case::Outcome::kSkipped;
      c.message = "did not run before the report was written";
    } else if (status == "running") {
      c.outcome = Case::Outcome::kSkipped;
      c.message = "still running when the report was written";
    } else if (status != "succeeded") {
      c.system_out = "status: " + status + (reason.empty() ? "" : " (" + reason + ")");
    }
    s.cases.push_back(std::move(c));
  }
  return s;
}

Suite ThresholdsSuite(const json& report, const std::string& plan) {
  Suite s{"thresholds", {}};
  for (const auto& lt : report.value("loadtests", json::array())) {
    const std::string step = TextAt(lt, "step");
    if (lt.contains("error")) {
      Case c{"summary", plan + "." + step, 0, Case::Outcome::kError, TextAt(lt, "error"), "invalid-output", "", ""};
      s.cases.push_back(std::move(c));
    }
    for (const auto& t : lt.value("thresholds", json::array())) {
      Case c;
      c.name = TextAt(t, "metric") + ": " + TextAt(t, "expr");
      c.classname = plan + "." + step;
      std::string measured = "measured " + (t["measured"].is_null() ? std::string("n/a") : CellText(t["measured"])) +
                             ", limit " + (t["limit"].is_null() ? std::string("n/a") : CellText(t["limit"]));
      if (t["ok"] == false) {
        c.outcome = Case::Outcome::kFailure;
        c.type = "threshold";
        c.message = TextAt(t, "expr") + " not met: " + measured;
      } else if (t["ok"].is_null()) {
        c.outcome = Case::Outcome::kSkipped;
        c.message = "the summary gives no verdict (" + measured + ")";
      } else {
        c.system_out = measured;
      }
      s.cases.push_back(std::move(c));
    }
  }
  return s;
}

Suite ObjectivesSuite(const json& report, const std::string& plan) {
  Suite s{"objectives", {}};
  for (const auto& slo : report.value("slos", json::array())) {
    const std::string step = TextAt(slo, "step");
    if (slo.contains("error")) {
      Case c{"report", plan + "." + step, 0, Case::Outcome::kError, TextAt(slo, "error"), "invalid-output", "", ""};
      s.cases.push_back(std::move(c));
    }
    for (const auto& ob : slo.value("objectives", json::array())) {
      Case c;
      c.name = TextAt(ob, "name");
      c.classname = plan + "." + step;
      const std::string result = TextAt(ob, "result"), message = TextAt(ob, "message");
      std::string detail = "value " + (ob["value"].is_null() ? std::string("n/a") : CellText(ob["value"])) +
                           (TextAt(ob, "unit").empty() ? "" : " " + TextAt(ob, "unit")) + ", target " +
                           (ob["target"].is_null() ? std::string("n/a") : CellText(ob["target"]));
      if (result == "fail") {
        c.outcome = Case::Outcome::kFailure;
        c.type = "objective";
        c.message = message.empty() ? detail : message;
        c.body = detail;
      } else if (result == "warning") {
        c.system_out = "warning: " + (message.empty() ? detail : message + " (" + detail + ")");
      } else if (result.empty()) {
        c.outcome = Case::Outcome::kSkipped;
        c.message = "no result";
      } else {
        c.system_out = result + ": " + detail;
      }
      s.cases.push_back(std::move(c));
    }
  }
  return s;
}

}  // namespace

std::string RenderJunit(const json& report) {
  const std::string plan = TextAt(report, "plan").empty() ? "plan" : TextAt(report, "plan");
  const std::vector<Suite> suites = {StepsSuite(report, plan), ThresholdsSuite(report, plan),
                                     ObjectivesSuite(report, plan)};
  size_t tests = 0;
  int failures = 0, errors = 0, skipped = 0;
  for (const auto& s : suites) {
    tests += s.cases.size();
    failures += s.Count(Case::Outcome::kFailure);
    errors += s.Count(Case::Outcome::kError);
    skipped += s.Count(Case::Outcome::kSkipped);
  }
  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o << "<testsuites name=\"" << Attr("slipway " + plan) << "\" tests=\"" << tests << "\" failures=\"" << failures
    << "\" errors=\"" << errors << "\" skipped=\"" << skipped << "\" time=\""
    << Seconds(NumberAt(report, "duration_ms").value_or(0)) << "\">\n";
  // JUnit's timestamp is an ISO 8601 date-time without zone or fraction (the report's times are UTC).
  const std::string timestamp = TextAt(report, "started").substr(0, 19);
  for (const auto& s : suites) WriteSuite(o, s, timestamp);
  o << "</testsuites>\n";
  return o.str();
}

}  // namespace slipway::steps::report
