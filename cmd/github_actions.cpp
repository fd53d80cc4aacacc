#include "cmd/github_actions.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "pipeline/dry_run_output.h"
#include "pipeline/events.h"

namespace slipway::cmd::github {

namespace {

std::string RandomHex(size_t digits) {
  static const char* kHex = "0123456789abcdef";
  std::random_device rd;
  std::string out;
  for (size_t i = 0; i < digits; ++i) out += kHex[rd() % 16];
  return out;
}

// A Markdown table cell: one line, pipes escaped.
std::string Cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n' || c == '\r')
      out += ' ';
    else
      out += c;
  }
  return out;
}

// A fence longer than any run of backticks in the text, so the text cannot close it.
std::string Fence(const std::string& text) {
  size_t longest = 0, run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<size_t>(3, longest + 1), '`');
}

void Warn(const std::string& what) {
  std::cout << "::warning::slipway: " << pipeline::GithubEscape(what, false) << "\n" << std::flush;
}

void Append(const char* var, const std::string& text) {
  if (auto r = AppendToFileIn(var, text); !r) Warn(r.error().message);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream b;
  b << in.rdbuf();
  return b.str();
}

// The last step of `kind` (in plan order) with a non-empty output `key`.
std::string LastOutput(const LoadedPlan& loaded, const pipeline::RunResult& run, const std::string& kind,
                       const std::string& key) {
  std::string found;
  for (size_t i = 0; i < loaded.plan.steps.size() && i < run.steps.size(); ++i) {
    if (loaded.plan.steps[i].kind != kind) continue;
    auto it = run.steps[i].outputs.find(key);
    if (it != run.steps[i].outputs.end() && !it->second.empty()) found = it->second;
  }
  return found;
}

bool IsFailedStatus(pipeline::StepStatus s) {
  return s == pipeline::StepStatus::kFailed || s == pipeline::StepStatus::kRollbackFailed;
}

}  // namespace

std::string FormatOutput(const std::string& name, const std::string& value) {
  if (value.find('\n') == std::string::npos && value.find('\r') == std::string::npos) return name + "=" + value + "\n";
  std::string delim;
  do {
    delim = "ghadelimiter_" + RandomHex(32);
  } while (value.find(delim) != std::string::npos);
  return name + "<<" + delim + "\n" + value + "\n" + delim + "\n";
}

std::string FormatOutputs(const Outputs& outputs, const pipeline::Masker& masker) {
  std::string text;
  for (const auto& [name, value] : outputs) text += FormatOutput(name, masker.Mask(value));
  return text;
}

Expected<void> AppendToFileIn(const char* var, const std::string& text) {
  const char* path = std::getenv(var);
  if (!path || !*path) return {};
  int fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Fail("cannot open $" + std::string(var) + " (" + path + "): " + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      return Fail("cannot write $" + std::string(var) + " (" + path + "): " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0)
    return Fail("cannot write $" + std::string(var) + " (" + path + "): " + std::strerror(errno));
  return {};
}

std::string ApplyStatus(const pipeline::SessionResult& result, const PlanOptions& o) {
  switch (result.exit_code) {
    case kOk:
      return "succeeded";
    case kStepFailed:
      return o.no_rollback || result.rollback.empty() ? "failed" : "rolled-back";
    case kRollbackFailed:
      return "rollback-failed";
    case kLocked:
      return "locked";
    case kInterrupted:
      return "interrupted";
    default:
      return "invalid";
  }
}

void PublishApply(const LoadedPlan& loaded, const PlanOptions& o, const pipeline::SessionResult& result) {
  const auto& plan = loaded.plan;
  const auto& run = result.run;
  const std::string status = ApplyStatus(result, o);

  int changed = 0;
  std::string failed_steps, error;
  for (size_t i = 0; i < run.steps.size() && i < plan.steps.size(); ++i) {
    const auto& r = run.steps[i];
    changed += r.Changed() && !r.from_checkpoint;
    if (!IsFailedStatus(r.status)) continue;
    failed_steps += (failed_steps.empty() ? "" : ",") + plan.steps[i].id;
    if (error.empty()) error = plan.steps[i].id + ": " + (r.reason.empty() ? pipeline::StatusName(r.status) : r.reason);
  }
  // The report step: the last one (in plan order) that wrote something.
  const std::map<std::string, std::string>* report = nullptr;
  for (size_t i = 0; i < run.steps.size() && i < plan.steps.size(); ++i) {
    if (plan.steps[i].kind != "report") continue;
    auto it = run.steps[i].outputs.find("dir");
    if (it != run.steps[i].outputs.end() && !it->second.empty()) report = &run.steps[i].outputs;
  }
  auto from_report = [&](const std::string& key) -> std::string {
    if (!report) return "";
    auto it = report->find(key);
    return it == report->end() ? "" : it->second;
  };
  std::string p95 = from_report("p95_ms");
  if (p95.empty()) p95 = LastOutput(loaded, run, "loadtest", "p95_ms");
  std::string score = from_report("slo_score");
  if (score.empty()) score = LastOutput(loaded, run, "slo", "score");
  std::string message = result.message.empty() && result.exit_code == kOk
                            ? "apply complete (run " + result.run_id + ")"
                            : result.message;

  Outputs outputs = {{"status", status},
                     {"exit_code", std::to_string(result.exit_code)},
                     {"run_id", result.run_id},
                     {"changed", std::to_string(changed)},
                     {"failed_steps", failed_steps},
                     {"error", error},
                     {"message", message},
                     {"report", from_report("html")},
                     {"report_dir", from_report("dir")},
                     {"report_markdown", from_report("markdown")},
                     {"report_json", from_report("json")},
                     {"report_junit", from_report("junit")},
                     {"p95_ms", p95},
                     {"slo_result", LastOutput(loaded, run, "slo", "result")},
                     {"slo_score", score}};
  Append("GITHUB_OUTPUT", FormatOutputs(outputs, *loaded.masker));

  std::string summary;
  std::string markdown = from_report("markdown").empty() ? "" : ReadFile(from_report("markdown"));
  if (!markdown.empty()) {
    summary = markdown;
    if (summary.back() != '\n') summary += '\n';
  } else {
    summary = "## slipway apply: " + plan.name + ": " + status + "\n\n";
    if (!run.steps.empty()) {
      summary += "| step | kind | status | note |\n|---|---|---|---|\n";
      for (size_t i = 0; i < run.steps.size() && i < plan.steps.size(); ++i)
        summary += "| " + Cell(plan.steps[i].id) + " | " + Cell(plan.steps[i].kind) + " | " +
                   pipeline::StatusName(run.steps[i].status) + " | " + Cell(run.steps[i].reason) + " |\n";
    }
  }
  summary += "\n**slipway apply**: " + status + " (exit " + std::to_string(result.exit_code) + ")" +
             (message.empty() ? "" : " — " + Cell(message)) + "\n\n";
  Append("GITHUB_STEP_SUMMARY", loaded.masker->Mask(summary));
}

void PublishDryRun(const LoadedPlan& loaded, const PlanOptions& o, const pipeline::RunResult& result, int exit_code,
                   const std::string& command) {
  auto json = pipeline::DryRunJson(loaded.plan, loaded.dag, result, *loaded.masker);
  const auto& counts = json["summary"];
  int would = counts.value("would_run", 0), unchanged = counts.value("unchanged", 0),
      skipped = counts.value("skipped", 0), failed = counts.value("failed", 0);
  std::string status = failed > 0 || exit_code == kStepFailed ? "failed"
                       : exit_code == kUsage && !o.detailed_exitcode ? "invalid"
                       : would > 0 ? "changes-pending"
                                   : "no-changes";
  Outputs outputs = {{"status", status},
                     {"exit_code", std::to_string(exit_code)},
                     {"changes", std::to_string(would)},
                     {"unchanged", std::to_string(unchanged)},
                     {"skipped", std::to_string(skipped)},
                     {"failed", std::to_string(failed)},
                     {"saved_plan", o.out}};
  Append("GITHUB_OUTPUT", FormatOutputs(outputs, *loaded.masker));

  std::string text = pipeline::DryRunText(loaded.plan, loaded.dag, result, *loaded.masker);
  std::string fence = Fence(text);
  std::string summary = "## slipway " + command + ": " + loaded.plan.name + "\n\n**" + std::to_string(would) +
                        " to run**, " + std::to_string(unchanged) + " unchanged, " + std::to_string(skipped) +
                        " skipped, " + std::to_string(failed) + " failed — a dry-run: nothing was changed\n\n" +
                        fence + "text\n" + text + (text.empty() || text.back() == '\n' ? "" : "\n") + fence + "\n\n";
  Append("GITHUB_STEP_SUMMARY", loaded.masker->Mask(summary));
}

void PublishInvalid(const PlanOptions& o, int exit_code, const std::string& command) {
  pipeline::Masker none;
  Outputs outputs = {{"status", "invalid"}, {"exit_code", std::to_string(exit_code)}};
  Append("GITHUB_OUTPUT", FormatOutputs(outputs, none));
  Append("GITHUB_STEP_SUMMARY", "## slipway " + command + ": invalid plan\n\n`" + Cell(o.plan) +
                                    "` did not load or validate; the errors are annotated on the plan file.\n\n");
}

}  // namespace slipway::cmd::github
