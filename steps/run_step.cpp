#include "steps/run_step.h"

#include "pipeline/duration.h"

#include <fstream>
#include <random>
#include <sstream>
#include <unistd.h>

namespace slipway::steps {

using pipeline::ApplyResult;
using pipeline::Json;
using pipeline::Probe;
using pipeline::ProcessSpec;
using pipeline::StepContext;

std::vector<std::string> CommandArgv(const Json& command) {
  std::vector<std::string> argv;
  if (command.is_array()) {
    for (const auto& a : command) argv.push_back(a.is_string() ? a.get<std::string>() : a.dump());
  } else if (command.is_object() && command.contains("shell")) {
    // Only when the plan asks for a shell explicitly; values reach the script through env.
    argv = {"bash", "-eo", "pipefail", "-c", command["shell"].get<std::string>()};
  } else if (command.is_string()) {
    argv = {"bash", "-eo", "pipefail", "-c", command.get<std::string>()};
  }
  return argv;
}

static std::vector<std::string> MainArgv(const Json& body) {
  if (body.contains("run")) return CommandArgv(body["run"]);
  if (body.contains("shell")) return CommandArgv(body["shell"]);
  return {};
}

static std::map<std::string, std::string> Env(const Json& body) {
  std::map<std::string, std::string> env;
  if (auto it = body.find("env"); it != body.end())
    for (auto& [k, v] : it->items()) env[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return env;
}

std::map<std::string, std::string> ParseOutputFile(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    size_t heredoc = line.find("<<");
    size_t eq = line.find('=');
    if (heredoc != std::string::npos && (eq == std::string::npos || heredoc < eq)) {
      std::string key = line.substr(0, heredoc), delim = line.substr(heredoc + 2), value, l;
      bool first = true;
      while (std::getline(in, l) && l != delim) {
        value += (first ? "" : "\n") + l;
        first = false;
      }
      out[key] = value;
    } else if (eq != std::string::npos && eq > 0) {
      out[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  return out;
}

void RunStep::Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const {
  if (step.body.contains("with"))
    diag.Error(step.LocOf("/with"), "a run step takes no 'with:'",
               "use 'env:' to hand values to the command, or 'uses:' for a step kind");
  if (step.body.contains("run") && step.body["run"].empty())
    diag.Error(step.LocOf("/run"), "expected 'run' to name a command; the list is empty");
}

std::vector<std::string> RunStep::Describe(const StepContext& ctx) const {
  std::vector<std::string> lines;
  auto env = Env(ctx.body);
  std::string prefix;
  if (ctx.body.contains("cwd")) lines.push_back("cwd: " + ctx.body["cwd"].get<std::string>());
  for (const auto& [k, v] : env) lines.push_back("env: " + k + "=" + v);
  if (ctx.body.contains("shell"))
    lines.push_back("shell: " + ctx.body["shell"].get<std::string>());
  else
    lines.push_back("run: " + pipeline::QuoteArgv(MainArgv(ctx.body)));
  if (ctx.body.contains("rollback")) lines.push_back("rollback: " + pipeline::QuoteArgv(CommandArgv(ctx.body["rollback"])));
  return lines;
}

Expected<Probe> RunStep::Check(const StepContext& ctx) const {
  auto it = ctx.body.find("check");
  if (it == ctx.body.end()) return Probe{};
  ProcessSpec p;
  p.argv = CommandArgv(*it);
  p.env = Env(ctx.body);
  if (ctx.body.contains("cwd")) p.cwd = ctx.body["cwd"].get<std::string>();
  auto r = ctx.Run(p);
  std::string shown = pipeline::QuoteArgv(p.argv);
  if (!r) return tl::unexpected(r.error());
  if (r->timed_out || r->cancelled) return Fail("check " + shown + " " + r->Describe());
  if (r->exit_code == 0) return Probe{Probe::State::kInSync, "check passed: " + shown};
  return Probe{Probe::State::kChanges, "check " + shown + " exited " + std::to_string(r->exit_code)};
}

static std::string LastLines(const std::string& text, size_t n) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) lines.push_back(l);
  std::string out;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i)
    out += (out.empty() ? "" : " | ") + lines[i];
  return out;
}

Expected<ApplyResult> RunStep::Apply(const StepContext& ctx) const {
  ProcessSpec p;
  p.argv = MainArgv(ctx.body);
  p.env = Env(ctx.body);
  if (ctx.body.contains("cwd")) p.cwd = ctx.body["cwd"].get<std::string>();
  std::error_code ec;
  std::filesystem::path out_dir = ctx.state_dir / "outputs";
  std::filesystem::create_directories(out_dir, ec);
  std::filesystem::path out_file =
      std::filesystem::absolute(out_dir / (ctx.plan->name + "." + ctx.spec->id + "." + std::to_string(::getpid())), ec);
  { std::ofstream(out_file, std::ios::trunc); }
  p.env["SLIPWAY_OUTPUT"] = out_file.string();
  p.env["SLIPWAY_STEP_ID"] = ctx.spec->id;
  p.env["SLIPWAY_PLAN"] = ctx.plan->name;
  auto r = ctx.Run(p);
  std::string text;
  {
    std::ifstream in(out_file);
    std::ostringstream buf;
    buf << in.rdbuf();
    text = buf.str();
  }
  std::filesystem::remove(out_file, ec);
  if (!r) return tl::unexpected(r.error());
  if (r->timed_out)
    return Fail("timed out after " + pipeline::FormatDuration(ctx.timeout) + "; the process group was terminated");
  if (!r->Ok()) {
    std::string tail = LastLines(r->err.empty() ? r->out : r->err, 3);
    return Fail(r->Describe() + (tail.empty() ? "" : ": " + tail));
  }
  ApplyResult result;
  result.outputs = ParseOutputFile(text);
  if (CanRollback(*ctx.spec)) result.rollback = Json{{"outputs", result.outputs}};
  return result;
}

Expected<void> RunStep::Rollback(const StepContext& ctx, const Json& data) const {
  auto it = ctx.body.find("rollback");
  if (it == ctx.body.end()) return {};
  ProcessSpec p;
  p.argv = CommandArgv(*it);
  p.env = Env(ctx.body);
  if (data.is_object() && data.contains("outputs"))
    for (auto& [k, v] : data["outputs"].items()) {
      std::string key = "SLIPWAY_OUTPUT_";
      for (char c : k) key += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
      p.env[key] = v.get<std::string>();
    }
  p.env["SLIPWAY_STEP_ID"] = ctx.spec->id;
  if (ctx.body.contains("cwd")) p.cwd = ctx.body["cwd"].get<std::string>();
  auto r = ctx.Run(p);
  if (!r) return tl::unexpected(r.error());
  if (!r->Ok()) {
    std::string tail = LastLines(r->err.empty() ? r->out : r->err, 3);
    return Fail("rollback " + pipeline::QuoteArgv(p.argv) + ": " + r->Describe() + (tail.empty() ? "" : ": " + tail));
  }
  return {};
}

}  // namespace slipway::steps
