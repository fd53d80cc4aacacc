#include "steps/k8s_namespace.h"

#include "steps/kube.h"
#include "steps/with.h"

namespace slipway::steps {

namespace {

struct Live {
  bool exists = false;
  Json labels = Json::object(), annotations = Json::object();
};

Expected<Live> GetNamespace(const pipeline::StepContext& ctx, const std::string& name) {
  auto argv = KubectlArgv(ctx, {"get", "namespace", name, "-o", "json", "--ignore-not-found"});
  auto r = RunQuiet(ctx, argv, std::nullopt, std::chrono::seconds(30));
  if (!r) return tl::unexpected(r.error());
  if (!r->Ok()) return tl::unexpected(CommandError(argv, *r));
  Live live;
  if (r->out.find_first_not_of(" \n") == std::string::npos) return live;
  Json j = Json::parse(r->out, nullptr, false);
  if (j.is_discarded()) return Fail("kubectl get namespace " + name + ": output is not JSON");
  live.exists = true;
  live.labels = j["metadata"].value("labels", Json::object());
  live.annotations = j["metadata"].value("annotations", Json::object());
  return live;
}

// key=value pairs of `wanted` that `live` lacks or has with another value.
std::vector<std::pair<std::string, std::string>> Missing(const std::vector<std::pair<std::string, std::string>>& wanted,
                                                         const Json& live) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : wanted)
    if (!live.contains(k) || pipeline::ValueText(live[k]) != v) out.emplace_back(k, v);
  return out;
}

std::string Pairs(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string s;
  for (const auto& [k, v] : kv) s += (s.empty() ? "" : " ") + k + "=" + v;
  return s;
}

Expected<void> Run(const pipeline::StepContext& ctx, std::vector<std::string> argv) {
  pipeline::ProcessSpec p;
  p.argv = argv;
  auto r = ctx.Run(p);
  if (!r) return tl::unexpected(r.error());
  if (!r->Ok()) return tl::unexpected(CommandError(argv, *r));
  return {};
}

}  // namespace

void K8sNamespaceStep::Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const {
  CheckWithKeys(step, diag, {"name", "labels", "annotations"}, {"name"});
}

std::vector<std::string> K8sNamespaceStep::Describe(const pipeline::StepContext& ctx) const {
  const Json& w = ctx.With();
  std::string name = GetString(w, "name");
  std::vector<std::string> lines{pipeline::QuoteArgv(KubectlArgv(ctx, {"create", "namespace", name})) + "   (if absent)"};
  auto labels = GetStringMap(w, "labels"), annotations = GetStringMap(w, "annotations");
  if (!labels.empty()) {
    std::vector<std::string> args{"label", "namespace", name, "--overwrite"};
    for (const auto& [k, v] : labels) args.push_back(k + "=" + v);
    lines.push_back(pipeline::QuoteArgv(KubectlArgv(ctx, args)));
  }
  if (!annotations.empty()) {
    std::vector<std::string> args{"annotate", "namespace", name, "--overwrite"};
    for (const auto& [k, v] : annotations) args.push_back(k + "=" + v);
    lines.push_back(pipeline::QuoteArgv(KubectlArgv(ctx, args)));
  }
  return lines;
}

Expected<pipeline::Probe> K8sNamespaceStep::Check(const pipeline::StepContext& ctx) const {
  const Json& w = ctx.With();
  std::string name = GetString(w, "name");
  auto live = GetNamespace(ctx, name);
  if (!live) {
    if (ctx.mode == pipeline::Mode::kDryRun)
      return pipeline::Probe{pipeline::Probe::State::kUnknown, "not checked: cluster unreachable (" + live.error().message + ")"};
    return tl::unexpected(live.error());
  }
  if (!live->exists) return pipeline::Probe{pipeline::Probe::State::kChanges, "would create namespace " + name};
  auto labels = Missing(GetStringMap(w, "labels"), live->labels);
  auto annotations = Missing(GetStringMap(w, "annotations"), live->annotations);
  if (labels.empty() && annotations.empty())
    return pipeline::Probe{pipeline::Probe::State::kInSync, "namespace " + name + " exists with the wanted labels",
                           {{"name", name}, {"created", "false"}}};
  std::string what = "would change namespace " + name + ":";
  if (!labels.empty()) what += " labels " + Pairs(labels);
  if (!annotations.empty()) what += " annotations " + Pairs(annotations);
  return pipeline::Probe{pipeline::Probe::State::kChanges, what};
}

Expected<pipeline::ApplyResult> K8sNamespaceStep::Apply(const pipeline::StepContext& ctx) const {
  const Json& w = ctx.With();
  std::string name = GetString(w, "name");
  auto live = GetNamespace(ctx, name);
  if (!live) return tl::unexpected(live.error());
  bool created = false;
  if (!live->exists) {
    auto r = Run(ctx, KubectlArgv(ctx, {"create", "namespace", name}));
    // Another client (a second run of this plan from another checkout, say) created it since the probe:
    // it is there, and not this run's to delete on rollback.
    if (!r && r.error().message.find("(AlreadyExists)") != std::string::npos) {
      ctx.Log("namespace " + name + " was created meanwhile by someone else; taken as present");
      live = GetNamespace(ctx, name);
      if (!live) return tl::unexpected(live.error());
    } else if (!r) {
      return tl::unexpected(r.error());
    } else {
      created = true;
    }
  }
  Json rollback{{"name", name}, {"created", created}};
  // Remember the previous value of every key we touch (null: it was absent) so rollback restores it.
  Json previous_labels = Json::object(), previous_annotations = Json::object();
  for (const char* what : {"labels", "annotations"}) {
    auto wanted = GetStringMap(w, what);
    const Json& current = std::string(what) == "labels" ? live->labels : live->annotations;
    auto change = Missing(wanted, current);
    if (change.empty()) continue;
    Json& prev = std::string(what) == "labels" ? previous_labels : previous_annotations;
    for (const auto& [k, _] : change) prev[k] = current.contains(k) ? current[k] : Json(nullptr);
    std::vector<std::string> args{std::string(what) == "labels" ? "label" : "annotate", "namespace", name, "--overwrite"};
    for (const auto& [k, v] : change) args.push_back(k + "=" + v);
    if (auto r = Run(ctx, KubectlArgv(ctx, args)); !r) return tl::unexpected(r.error());
  }
  rollback["labels"] = previous_labels;
  rollback["annotations"] = previous_annotations;
  pipeline::ApplyResult out;
  out.outputs = {{"name", name}, {"created", created ? "true" : "false"}};
  out.rollback = rollback;
  out.summary = created ? "created namespace " + name : "updated namespace " + name;
  return out;
}

Expected<void> K8sNamespaceStep::Rollback(const pipeline::StepContext& ctx, const Json& data) const {
  std::string name = data.value("name", "");
  if (data.value("created", false))
    return Run(ctx, KubectlArgv(ctx, {"delete", "namespace", name, "--ignore-not-found"}));
  for (const char* what : {"labels", "annotations"}) {
    const Json& prev = data.value(what, Json::object());
    if (prev.empty()) continue;
    std::vector<std::string> args{std::string(what) == "labels" ? "label" : "annotate", "namespace", name, "--overwrite"};
    for (auto it = prev.begin(); it != prev.end(); ++it)
      args.push_back(it.value().is_null() ? it.key() + "-" : it.key() + "=" + pipeline::ValueText(it.value()));
    if (auto r = Run(ctx, KubectlArgv(ctx, args)); !r) return r;
  }
  return {};
}

}  // namespace slipway::steps

namespace slipway::steps {

std::vector<std::string> K8sNamespaceStep::Provides(const pipeline::StepContext& ctx) const {
  std::string name = GetString(ctx.With(), "name");
  if (name.empty()) return {};
  return {"namespace/" + name};
}

}  // namespace slipway::steps
