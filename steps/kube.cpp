#include "steps/kube.h"

#include <sstream>

namespace slipway::steps {

std::vector<std::string> KubectlArgv(const pipeline::StepContext& ctx, std::vector<std::string> args) {
  std::vector<std::string> argv{"kubectl"};
  if (ctx.plan && !ctx.plan->kube.context.empty()) {
    argv.push_back("--context");
    argv.push_back(ctx.plan->kube.context);
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::vector<std::string> HelmArgv(const pipeline::StepContext& ctx, std::vector<std::string> args) {
  std::vector<std::string> argv{"helm"};
  argv.insert(argv.end(), args.begin(), args.end());
  if (ctx.plan && !ctx.plan->kube.context.empty()) {
    argv.push_back("--kube-context");
    argv.push_back(ctx.plan->kube.context);
  }
  return argv;
}

std::vector<std::string> ContextArgv(const pipeline::StepContext& ctx, const std::string& tool,
                                     std::vector<std::string> args) {
  std::vector<std::string> argv{tool};
  argv.insert(argv.end(), args.begin(), args.end());
  if (ctx.plan && !ctx.plan->kube.context.empty()) {
    argv.push_back("--context");
    argv.push_back(ctx.plan->kube.context);
  }
  return argv;
}

Expected<pipeline::ProcessResult> RunQuiet(const pipeline::StepContext& ctx, std::vector<std::string> argv,
                                           std::optional<std::string> stdin_data, std::chrono::milliseconds timeout) {
  pipeline::ProcessSpec p;
  p.argv = std::move(argv);
  p.stdin_data = std::move(stdin_data);
  p.timeout = timeout;
  p.env = ctx.extra_env;
  p.cwd = ctx.plan_dir.string();
  p.cancel = ctx.cancel;
  p.kill_now = ctx.kill_now;
  p.grace = ctx.grace;
  return pipeline::RunProcess(p);
}

Error CommandError(const std::vector<std::string>& argv, const pipeline::ProcessResult& r) {
  std::vector<std::string> lines;
  std::istringstream in(r.err.empty() ? r.out : r.err);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) lines.push_back(l);
  std::string tail;
  for (size_t i = lines.size() > 3 ? lines.size() - 3 : 0; i < lines.size(); ++i) tail += (tail.empty() ? "" : " | ") + lines[i];
  std::string shown = argv.empty() ? "" : argv[0];
  for (size_t i = 1; i < argv.size() && i < 4; ++i) shown += " " + argv[i];
  return Error(shown + (argv.size() > 4 ? " ..." : "") + ": " + r.Describe() + (tail.empty() ? "" : ": " + tail));
}

std::string ClusterUnreachable(const pipeline::StepContext& ctx) {
  auto argv = KubectlArgv(ctx, {"version", "-o", "json", "--request-timeout=5s"});
  auto r = RunQuiet(ctx, argv, std::nullopt, std::chrono::seconds(10));
  if (!r) return r.error().message;
  if (!r->Ok()) return CommandError(argv, *r).message;
  auto j = nlohmann::json::parse(r->out, nullptr, false);
  if (j.is_discarded() || !j.contains("serverVersion")) return "kubectl could not reach the API server";
  return {};
}

pipeline::Probe NotChecked(const Error& why) {
  bool missing_tool = why.message.find("not found on PATH") != std::string::npos;
  return pipeline::Probe{pipeline::Probe::State::kUnknown,
                         missing_tool ? "not checked: " + why.message
                                      : "not checked: cluster unreachable (" + why.message + ")"};
}

}  // namespace slipway::steps
