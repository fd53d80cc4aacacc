#pragma once
// The report as JUnit XML, for CI systems that show test results (GitHub, GitLab, Jenkins).
//
// Format: one <testsuites name="slipway <plan>" tests failures errors skipped time> holding three
// <testsuite name tests failures errors skipped time timestamp> elements:
//   "steps"       one <testcase name="<step id>" classname="<plan>.<kind>" time="<s>"> per step;
//                 failed, rollback-failed and interrupted steps hold <failure message type="<status>">,
//                 steps that did not run (skipped, pending, still running) hold <skipped message>.
//   "thresholds"  one testcase per load-test threshold (classname "<plan>.<load-test step>");
//                 <failure type="threshold"> when it was not met; an unreadable summary_json is one
//                 testcase with <error type="invalid-output">.
//   "objectives"  one testcase per SLO objective (classname "<plan>.<slo step>"); <failure
//                 type="objective"> for fail, a pass with <system-out>warning: ...</system-out> for
//                 warning, <skipped> when the objective has no result; an unreadable report_json is
//                 one testcase with <error type="invalid-output">.
// Times are seconds with millisecond precision; suite and total times are sums of their testcases
// except the root, which is the run's wall time.

#include <nlohmann/json.hpp>
#include <string>

namespace slipway::steps::report {

/// The JUnit XML document of a report (the JSON of BuildReport).
std::string RenderJunit(const nlohmann::json& report);

}  // namespace slipway::steps::report
