#include "pipeline/dry_run_output.h"

#include <sstream>

#include "pipeline/duration.h"

namespace slipway::pipeline {

static std::string Action(const StepRecord& r) {
  switch (r.status) {
    case StepStatus::kUnchanged:
      return "unchanged";
    case StepStatus::kSkipped:
      return "skipped";
    case StepStatus::kFailed:
      return "failed";
    default:
      return "would-run";
  }
}

bool ChangesPending(const RunResult& result) {
  for (const auto& r : result.steps)
    if (Action(r) == "would-run") return true;
  return false;
}

int WouldFailAt(const Dag& dag, const RunResult& result) {
  for (const auto& wave : dag.Waves())
    for (int i : wave) {
      const StepRecord& r = result.steps[static_cast<size_t>(i)];
      if (r.would_fail && Action(r) == "would-run") return i;
    }
  return -1;
}

std::string DryRunText(const Plan& plan, const Dag& dag, const RunResult& result, const Masker& masker) {
  std::ostringstream out;
  auto waves = dag.Waves();
  out << "Plan '" << plan.name << "': " << plan.steps.size() << " steps in " << waves.size() << " waves (dry-run: nothing"
      << " with a side effect runs; read-only checks do)\n";
  int would = 0, unchanged = 0, skipped = 0, failed = 0;
  for (size_t w = 0; w < waves.size(); ++w) {
    out << "\nwave " << (w + 1) << "\n";
    for (int i : waves[w]) {
      const StepSpec& s = plan.steps[static_cast<size_t>(i)];
      const StepRecord& r = result.steps[static_cast<size_t>(i)];
      std::string action = Action(r);
      const char* mark = action == "would-run" ? "+" : action == "unchanged" ? "=" : action == "skipped" ? "-" : "!";
      out << "  " << mark << " " << s.id << " (" << s.kind << "): ";
      if (action == "would-run") {
        ++would;
        out << "would run";
        if (!r.reason.empty()) out << " — " << r.reason;
      } else if (action == "unchanged") {
        ++unchanged;
        out << "unchanged";
      } else if (action == "skipped") {
        ++skipped;
        out << "skipped (" << r.reason << ")";
      } else {
        ++failed;
        out << "error: " << r.reason;
      }
      out << "\n";
      if (r.probed) out << "      probe ran: " << r.probe_detail << "\n";
      else if (!r.probe_detail.empty()) out << "      " << r.probe_detail << "\n";
      if (action != "skipped")
        for (const auto& line : r.describe) {
          std::istringstream lines(line);
          for (std::string l; std::getline(lines, l);) out << "      " << l << "\n";
        }
    }
  }
  out << "\n" << would << " would run, " << unchanged << " unchanged, " << skipped << " skipped";
  if (failed) out << ", " << failed << " with errors";
  out << "\n";
  if (int at = WouldFailAt(dag, result); at >= 0)
    out << "apply would fail at step " << plan.steps[static_cast<size_t>(at)].id << ": "
        << result.steps[static_cast<size_t>(at)].probe_detail << "\n";
  return masker.Mask(out.str());
}

// probe: {ran, detail} plus, when the probe could not look or found a pending dependency, not_checked
// and its facts.
static Json ProbeJson(const StepRecord& r) {
  Json probe{{"ran", r.probed}, {"detail", r.probe_detail}};
  if (!r.probe_not_checked.empty()) probe["not_checked"] = r.probe_not_checked;
  if (!r.probe_facts.empty()) probe["facts"] = r.probe_facts;
  if (r.would_fail) probe["would_fail"] = true;
  return probe;
}

Json DryRunJson(const Plan& plan, const Dag& dag, const RunResult& result, const Masker& masker) {
  Json doc{{"format_version", 1}, {"plan", plan.name}, {"file", plan.file}};
  auto waves = dag.Waves();
  std::vector<int> wave_of(plan.steps.size(), 0);
  Json jwaves = Json::array();
  for (size_t w = 0; w < waves.size(); ++w) {
    Json ids = Json::array();
    for (int i : waves[w]) {
      ids.push_back(plan.steps[static_cast<size_t>(i)].id);
      wave_of[static_cast<size_t>(i)] = static_cast<int>(w);
    }
    jwaves.push_back(ids);
  }
  doc["waves"] = jwaves;
  Json steps = Json::array();
  Json summary{{"would_run", 0}, {"unchanged", 0}, {"skipped", 0}, {"failed", 0}};
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const StepSpec& s = plan.steps[i];
    const StepRecord& r = result.steps[i];
    std::string action = Action(r);
    std::string key = action == "would-run" ? "would_run" : action;
    summary[key] = summary[key].get<int>() + 1;
    steps.push_back({{"id", s.id},
                     {"kind", s.kind},
                     {"wave", wave_of[i]},
                     {"needs", s.needs},
                     {"tags", s.tags},
                     {"action", action},
                     {"reason", r.reason},
                     {"probe", ProbeJson(r)},
                     {"commands", action == "skipped" ? std::vector<std::string>{} : r.describe},
                     {"fingerprint", r.fingerprint}});
  }
  doc["steps"] = steps;
  doc["summary"] = summary;
  doc["changes_pending"] = ChangesPending(result);
  int at = WouldFailAt(dag, result);
  doc["apply_would_fail"] = at < 0 ? Json(nullptr)
                                   : Json{{"step", plan.steps[static_cast<size_t>(at)].id},
                                          {"reason", result.steps[static_cast<size_t>(at)].probe_detail}};
  return Json::parse(masker.Mask(doc.dump()));
}

static std::string DotEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string GraphDot(const Plan& plan, const Dag& dag) {
  std::ostringstream out;
  out << "digraph \"" << DotEscape(plan.name) << "\" {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n";
  for (const auto& s : plan.steps) {
    out << "  \"" << DotEscape(s.id) << "\" [label=\"" << DotEscape(s.id) << "\\n(" << DotEscape(s.kind) << ")\"";
    if (s.HasTag("test")) out << ", style=\"rounded,dashed\"";
    out << "];\n";
  }
  for (size_t i = 0; i < plan.steps.size(); ++i)
    for (int d : dag.Deps(static_cast<int>(i)))
      out << "  \"" << DotEscape(plan.steps[static_cast<size_t>(d)].id) << "\" -> \"" << DotEscape(plan.steps[i].id)
          << "\";\n";
  out << "}\n";
  return out.str();
}

std::string GraphMermaid(const Plan& plan, const Dag& dag) {
  std::ostringstream out;
  auto node = [](const std::string& id) {
    std::string safe;
    for (char c : id) safe += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return "s_" + safe;
  };
  out << "flowchart LR\n";
  for (const auto& s : plan.steps) out << "  " << node(s.id) << "[\"" << s.id << " (" << s.kind << ")\"]\n";
  for (size_t i = 0; i < plan.steps.size(); ++i)
    for (int d : dag.Deps(static_cast<int>(i)))
      out << "  " << node(plan.steps[static_cast<size_t>(d)].id) << " --> " << node(plan.steps[i].id) << "\n";
  return out.str();
}

std::string ApplySummary(const Plan& plan, const RunResult& result, const Masker& masker) {
  size_t width = 4;
  for (const auto& s : plan.steps) width = std::max(width, s.id.size());
  std::ostringstream out;
  std::map<std::string, int> counts;
  out << "\n" << std::string("STEP").append(width - 4 + 2, ' ') << "STATUS           TIME     NOTE\n";
  for (int i : result.finish_order) {
    const StepSpec& s = plan.steps[static_cast<size_t>(i)];
    const StepRecord& r = result.steps[static_cast<size_t>(i)];
    std::string status = StatusName(r.status);
    ++counts[status];
    std::string time = r.started == std::chrono::system_clock::time_point{}
                           ? "-"
                           : FormatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(r.finished - r.started));
    std::string note = r.reason;
    if (r.attempts > 1) note = std::to_string(r.attempts) + " attempts; " + note;
    if (note.size() > 100) note = note.substr(0, 97) + "...";
    out << s.id << std::string(width - s.id.size() + 2, ' ') << status
        << std::string(status.size() < 17 ? 17 - status.size() : 1, ' ') << time
        << std::string(time.size() < 9 ? 9 - time.size() : 1, ' ') << note << "\n";
  }
  out << "\n";
  bool first = true;
  for (const auto& [k, v] : counts) {
    out << (first ? "" : ", ") << v << " " << k;
    first = false;
  }
  out << "\n";
  return masker.Mask(out.str());
}

}  // namespace slipway::pipeline
