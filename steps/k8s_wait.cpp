#include "steps/k8s_wait.h"

#include "steps/kube.h"
#include "steps/with.h"

namespace slipway::steps {

static std::vector<std::vector<std::string>> Commands(const pipeline::StepContext& ctx) {
  const Json& w = ctx.With();
  std::string f = GetString(w, "for", "rollout");
  auto timeout = GetDuration(w, "timeout", std::chrono::minutes(5));
  std::string t = "--timeout=" + std::to_string(timeout.count() / 1000) + "s";
  std::vector<std::vector<std::string>> out;
  for (const auto& r : GetStringList(w, "resource")) {
    std::vector<std::string> args = f == "rollout" ? std::vector<std::string>{"rollout", "status", r, t}
                                                   : std::vector<std::string>{"wait", "--for=" + f, r, t};
    if (w.contains("namespace")) {
      args.push_back("-n");
      args.push_back(GetString(w, "namespace"));
    }
    out.push_back(KubectlArgv(ctx, args));
  }
  return out;
}

void K8sWaitStep::Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const {
  CheckWithKeys(step, diag, {"resource", "namespace", "for", "timeout"}, {"resource"});
  CheckWithDuration(step, diag, "timeout");
  auto w = step.body.value("with", Json::object());
  std::string f = w.value("for", "rollout");
  if (f != "rollout" && f != "delete" && f.rfind("condition=", 0) != 0 && f.rfind("jsonpath=", 0) != 0)
    diag.Error(step.LocOf("/with/for"), "unknown 'for: " + f + "'",
               "expected rollout, delete, condition=NAME or jsonpath=EXPR");
}

std::vector<std::string> K8sWaitStep::Describe(const pipeline::StepContext& ctx) const {
  std::vector<std::string> lines;
  for (const auto& argv : Commands(ctx)) lines.push_back(pipeline::QuoteArgv(argv));
  return lines;
}

Expected<pipeline::ApplyResult> K8sWaitStep::Apply(const pipeline::StepContext& ctx) const {
  auto timeout = GetDuration(ctx.With(), "timeout", std::chrono::minutes(5));
  for (const auto& argv : Commands(ctx)) {
    pipeline::ProcessSpec p;
    p.argv = argv;
    p.timeout = timeout + std::chrono::seconds(30);
    auto r = ctx.Run(p);
    if (!r) return tl::unexpected(r.error());
    if (!r->Ok()) return tl::unexpected(CommandError(argv, *r));
  }
  pipeline::ApplyResult out;
  out.summary = "ready";
  return out;
}

}  // namespace slipway::steps
