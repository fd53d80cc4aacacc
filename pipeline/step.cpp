#include "pipeline/step.h"

#include <fstream>

namespace slipway::pipeline {

const Json& StepContext::With() const {
  static const Json kEmpty = Json::object();
  auto it = body.find("with");
  return it == body.end() ? kEmpty : *it;
}

void StepContext::Log(const std::string& line, Level level) const {
  if (!log_file.empty()) {
    std::ofstream out(log_file, std::ios::app);
    out << (masker ? masker->Mask(line) : line) << "\n";
  }
  if (events) {
    Event e;
    e.level = level;
    e.name = "step_log";
    e.step = spec ? spec->id : "";
    e.message = line;
    events->Emit(e);
  }
}

std::filesystem::path StepContext::Resolve(const std::string& path) const {
  std::filesystem::path p(path);
  if (p.is_absolute() || plan_dir.empty()) return p;
  return plan_dir / p;
}

Expected<ProcessResult> StepContext::Run(ProcessSpec p) const {
  for (const auto& [k, v] : extra_env) p.env.emplace(k, v);
  if (p.timeout.count() == 0) p.timeout = timeout;
  p.grace = grace;
  if (!p.cancel) p.cancel = cancel;
  if (!p.kill_now) p.kill_now = kill_now;
  if (p.cwd.empty())
    p.cwd = plan_dir.string();
  else
    p.cwd = Resolve(p.cwd).string();
  std::ofstream log;
  if (!log_file.empty()) log.open(log_file, std::ios::app);
  const std::string id = spec ? spec->id : "";
  auto user_cb = p.on_line;
  p.on_line = [&](Stream s, std::string_view line) {
    if (log) log << (masker ? masker->Mask(std::string(line)) : std::string(line)) << "\n";
    if (events) events->Output(id, s, line);
    if (user_cb) user_cb(s, line);
  };
  if (log) log << "$ " << (masker ? masker->Mask(QuoteArgv(p.argv)) : QuoteArgv(p.argv)) << "\n";
  return RunProcess(p);
}

void KindRegistry::Register(std::unique_ptr<StepKind> kind) {
  std::string name = kind->Name();
  kinds_[name] = std::move(kind);
}

const StepKind* KindRegistry::Find(const std::string& name) const {
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : it->second.get();
}

std::vector<std::string> KindRegistry::Names() const {
  std::vector<std::string> out;
  for (const auto& [n, _] : kinds_) out.push_back(n);
  return out;
}

}  // namespace slipway::pipeline
