#include "steps/k8s_apply.h"

#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "pipeline/duration.h"
#include "steps/kube.h"
#include "steps/manifest.h"
#include "steps/with.h"

namespace slipway::steps {

namespace {

std::vector<std::string> NamespaceArgs(const pipeline::StepContext& ctx) {
  std::string ns = GetString(ctx.With(), "namespace");
  if (ns.empty()) return {};
  return {"-n", ns};
}

std::vector<std::string> ApplyArgs(const pipeline::StepContext& ctx, bool dry_run_server = false) {
  std::vector<std::string> args{"apply", "--server-side", "--field-manager=slipway"};
  if (GetBool(ctx.With(), "force_conflicts", false)) args.push_back("--force-conflicts");
  for (auto& a : NamespaceArgs(ctx)) args.push_back(a);
  if (dry_run_server) args.push_back("--dry-run=server");
  args.push_back("-f");
  args.push_back("-");
  return KubectlArgv(ctx, args);
}

// The part of `live` that the field set `fields` (managedFields' fieldsV1) names: "f:NAME" a member,
// "k:{...}" the list item with those keys, "v:VALUE" the list item equal to it, "i:N" the item at N,
// "." the element itself. An empty set means the whole value is owned.
Json Owned(const Json& live, const Json& fields) {
  if (!fields.is_object() || fields.empty()) return live;
  if (live.is_object()) {
    Json out = Json::object();
    for (const auto& [key, sub] : fields.items()) {
      if (key.rfind("f:", 0) != 0) continue;
      std::string name = key.substr(2);
      if (live.contains(name)) out[name] = Owned(live[name], sub);
    }
    return out;
  }
  if (live.is_array()) {
    Json out = Json::array();
    for (size_t i = 0; i < live.size(); ++i) {
      const Json& item = live[i];
      for (const auto& [key, sub] : fields.items()) {
        bool match = false;
        Json k = key.rfind("k:", 0) == 0 ? Json::parse(key.substr(2), nullptr, false) : Json();
        if (key.rfind("k:", 0) == 0) {
          match = k.is_object() && item.is_object();
          if (match)
            for (const auto& [kk, kv] : k.items()) match = match && item.contains(kk) && item[kk] == kv;
        } else if (key.rfind("v:", 0) == 0) {
          match = Json::parse(key.substr(2), nullptr, false) == item;
        } else if (key.rfind("i:", 0) == 0) {
          match = key.substr(2) == std::to_string(i);
        }
        if (!match) continue;
        Json part = Owned(item, sub);
        // A keyed item keeps its keys, or the server could not tell which item it is.
        if (k.is_object() && part.is_object())
          for (const auto& [kk, kv] : k.items()) part[kk] = kv;
        out.push_back(part);
        break;
      }
    }
    return out;
  }
  return live;
}

// What rollback re-applies of a live object: only the fields slipway owned (managedFields of manager
// slipway, operation Apply), so fields other managers own (an HPA's spec.replicas, a controller's
// annotations) stay theirs. Applying this as slipway also drops whatever slipway added since. An
// object slipway owned nothing of comes back as its identity alone: slipway gives up all its fields.
Json Restorable(const Json& obj) {
  Json fields = Json::object();
  for (const auto& mf : obj["metadata"].value("managedFields", Json::array())) {
    if (mf.value("manager", "") != "slipway" || mf.value("operation", "") != "Apply" ||
        !mf.value("subresource", "").empty())
      continue;
    fields.merge_patch(mf.value("fieldsV1", Json::object()));
  }
  Json out = fields.empty() ? Json::object() : Owned(obj, fields);
  if (!out.is_object()) out = Json::object();
  out["apiVersion"] = obj.value("apiVersion", "");
  out["kind"] = obj.value("kind", "");
  Json& meta = out["metadata"];
  if (!meta.is_object()) meta = Json::object();
  meta["name"] = obj["metadata"].value("name", "");
  if (!obj["metadata"].value("namespace", "").empty()) meta["namespace"] = obj["metadata"]["namespace"];
  out.erase("status");
  return out;
}

// Objects as a multi-document YAML stream (each JSON object is a YAML document).
std::string MultiDocument(const Json& objects) {
  std::string out;
  for (const auto& o : objects) out += "---\n" + o.dump() + "\n";
  return out;
}

std::string Key(const std::string& kind, const std::string& name, const std::string& ns) {
  return kind + "/" + ns + "/" + name;
}

}  // namespace

std::vector<std::filesystem::path> K8sApplyStep::ReferencedFiles(const pipeline::StepSpec&, const Json& rendered,
                                                                 const std::filesystem::path& plan_dir) const {
  auto ctx = BodyContext(rendered, plan_dir);
  auto files = ExpandGlobs(ctx, GetStringList(ctx.With(), "manifests"));
  return files ? *files : std::vector<std::filesystem::path>{};
}

Expected<std::string> RenderStepManifests(const pipeline::StepContext& ctx) {
  const Json& w = ctx.With();
  Json data = TemplateData(ctx);
  std::string out;
  auto files = ExpandGlobs(ctx, GetStringList(w, "manifests"));
  if (!files) return tl::unexpected(files.error());
  for (const auto& f : *files) {
    std::ifstream in(f);
    if (!in) return Fail("cannot read manifest " + f.string());
    std::ostringstream buf;
    buf << in.rdbuf();
    auto rendered = RenderMustache(buf.str(), data, f.string());
    if (!rendered) return tl::unexpected(rendered.error());
    out += "---\n# Source: " + f.string() + "\n" + *rendered;
    if (!out.empty() && out.back() != '\n') out += '\n';
  }
  if (w.contains("inline")) {
    auto rendered = RenderMustache(GetString(w, "inline"), data, "inline manifest");
    if (!rendered) return tl::unexpected(rendered.error());
    out += "---\n# Source: inline\n" + *rendered;
    if (!out.empty() && out.back() != '\n') out += '\n';
  }
  return out;
}

void K8sApplyStep::Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const {
  CheckWithKeys(step, diag, {"manifests", "inline", "namespace", "values", "force_conflicts", "wait"});
  auto w = step.body.value("with", Json::object());
  if (!w.contains("manifests") && !w.contains("inline"))
    diag.Error(step.kind_loc, "k8s.apply needs 'with.manifests' (files or globs) or 'with.inline' (YAML)");
  if (w.contains("wait")) {
    if (!w["wait"].is_object()) {
      diag.Error(step.LocOf("/with/wait"), "expected 'with.wait' to be {for: rollout | condition=X, timeout: 5m}");
    } else {
      std::string f = w["wait"].value("for", "rollout");
      if (f != "rollout" && f.rfind("condition=", 0) != 0 && f != "delete")
        diag.Error(step.LocOf("/with/wait/for"), "unknown wait 'for: " + f + "'",
                   "expected rollout, delete or condition=NAME (e.g. condition=Available)");
    }
  }
}

std::vector<std::string> K8sApplyStep::Describe(const pipeline::StepContext& ctx) const {
  std::vector<std::string> lines{pipeline::QuoteArgv(ApplyArgs(ctx)) + " <<EOF"};
  auto manifests = RenderStepManifests(ctx);
  if (!manifests) return {lines[0], "error: " + manifests.error().message};
  std::string body = *manifests;
  lines.push_back(body + "EOF");
  const Json& w = ctx.With();
  if (w.contains("wait")) {
    std::string f = GetString(w["wait"], "for", "rollout");
    lines.push_back("then wait for " + f + " of the workloads (timeout " +
                    pipeline::FormatDuration(GetDuration(w["wait"], "timeout", std::chrono::minutes(5))) + ")");
  }
  return lines;
}

Expected<pipeline::Probe> K8sApplyStep::Check(const pipeline::StepContext& ctx) const {
  auto manifests = RenderStepManifests(ctx);
  if (!manifests) return tl::unexpected(manifests.error());
  bool force = GetBool(ctx.With(), "force_conflicts", false);
  auto diff_argv = [&](bool force_conflicts) {
    std::vector<std::string> args{"diff", "--server-side", "--field-manager=slipway"};
    if (force_conflicts) args.push_back("--force-conflicts");
    for (auto& a : NamespaceArgs(ctx)) args.push_back(a);
    args.push_back("-f");
    args.push_back("-");
    return KubectlArgv(ctx, args);
  };
  auto shown = [](const std::string& diff) {
    return diff.size() > 4000 ? diff.substr(0, 4000) + "\n... (diff truncated)" : diff;
  };
  auto argv = diff_argv(force);
  auto r = RunQuiet(ctx, argv, *manifests, std::chrono::seconds(120));
  if (!r) return tl::unexpected(r.error());
  if (r->exit_code == 0) return pipeline::Probe{pipeline::Probe::State::kInSync, "kubectl diff: no changes"};
  if (r->exit_code == 1) return pipeline::Probe{pipeline::Probe::State::kChanges, "kubectl diff shows changes:\n" + shown(r->out)};
  KubeFailure f = ClassifyKubeFailure(r->err);
  if (f.kind == KubeFailure::Kind::kConflict) {
    // Fields another manager owns (changed by hand, or by a controller): show what taking them over
    // would change, and say that apply refuses unless told to.
    auto forced = RunQuiet(ctx, diff_argv(true), *manifests, std::chrono::seconds(120));
    std::string diff = forced && forced->exit_code == 1 ? ":\n" + shown(forced->out) : "";
    return pipeline::Probe{pipeline::Probe::State::kChanges,
                           "kubectl diff shows changes to fields another field manager owns (" + f.conflicts +
                               "); apply fails unless with.force_conflicts: true takes them over" + diff};
  }
  if (ctx.mode == pipeline::Mode::kDryRun) return NotChecked(CommandError(argv, *r), &ctx);
  return tl::unexpected(CommandError(argv, *r));
}

std::vector<std::string> K8sApplyStep::Provides(const pipeline::StepContext& ctx) const {
  std::vector<std::string> out;
  auto manifests = RenderStepManifests(ctx);
  if (!manifests) return out;
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(*manifests);
  } catch (const YAML::Exception&) {
    return out;
  }
  for (const auto& doc : docs) {
    if (!doc.IsMap() || !doc["kind"] || !doc["metadata"] || !doc["metadata"]["name"]) continue;
    std::string kind = doc["kind"].as<std::string>("");
    if (kind == "Namespace") out.push_back("namespace/" + doc["metadata"]["name"].as<std::string>(""));
    if (kind == "CustomResourceDefinition" && doc["spec"] && doc["spec"]["group"] && doc["spec"]["names"] &&
        doc["spec"]["names"]["kind"])
      out.push_back("kind/" + doc["spec"]["group"].as<std::string>("") + "/" + doc["spec"]["names"]["kind"].as<std::string>(""));
  }
  return out;
}

Expected<pipeline::ApplyResult> K8sApplyStep::Apply(const pipeline::StepContext& ctx) const {
  auto manifests = RenderStepManifests(ctx);
  if (!manifests) return tl::unexpected(manifests.error());
  std::string ns = GetString(ctx.With(), "namespace");
  auto objects = ParseManifests(*manifests, ns);
  if (!objects) return tl::unexpected(objects.error());
  // Save what is live now, so rollback can put it back.
  std::vector<std::string> get_args{"get"};
  for (auto& a : NamespaceArgs(ctx)) get_args.push_back(a);
  // managedFields too: rollback restores only the fields slipway owned (Restorable).
  for (const char* a : {"-f", "-", "-o", "json", "--ignore-not-found", "--show-managed-fields"}) get_args.push_back(a);
  auto get_argv = KubectlArgv(ctx, get_args);
  auto live = RunQuiet(ctx, get_argv, *manifests, std::chrono::seconds(120));
  if (!live) return tl::unexpected(live.error());
  if (!live->Ok()) return tl::unexpected(CommandError(get_argv, *live));
  Json saved = Json::array();
  std::set<std::string> existing;
  if (live->out.find_first_not_of(" \n") != std::string::npos) {
    Json j = Json::parse(live->out, nullptr, false);
    if (j.is_discarded()) return Fail("kubectl get -f -: output is not JSON");
    Json items = j.value("kind", "") == "List" ? j.value("items", Json::array()) : Json::array({j});
    for (const auto& item : items) {
      saved.push_back(Restorable(item));
      existing.insert(Key(item.value("kind", ""), item["metadata"].value("name", ""),
                          item["metadata"].value("namespace", "")));
    }
  }
  Json created = Json::array();
  for (const auto& o : *objects)
    if (!existing.count(Key(o.kind, o.name, o.namespace_)))
      created.push_back({{"apiVersion", o.api_version}, {"kind", o.kind}, {"name", o.name}, {"namespace", o.namespace_}});
  Json rollback{{"saved", saved}, {"created", created}, {"namespace", ns}};

  auto argv = ApplyArgs(ctx);
  pipeline::ProcessSpec p;
  p.argv = argv;
  p.stdin_data = *manifests;
  auto r = ctx.Run(p);
  if (!r) return tl::unexpected(r.error());
  if (!r->Ok()) {
    // The executor only rolls back succeeded steps, so undo here what this failed apply created.
    (void)Rollback(ctx, rollback);
    Error e = CommandError(argv, *r);
    KubeFailure f = ClassifyKubeFailure(r->err);
    if (f.kind == KubeFailure::Kind::kConflict)
      return Fail("fields of the live objects are owned by another field manager (" + f.conflicts +
                  "): they were changed by hand or another controller manages them. Set with.force_conflicts: true "
                  "to take them over, or leave them out of the manifests (" + e.message + ")");
    return tl::unexpected(e);
  }
  const Json& w = ctx.With();
  if (w.contains("wait")) {
    std::string f = GetString(w["wait"], "for", "rollout");
    auto timeout = GetDuration(w["wait"], "timeout", std::chrono::minutes(5));
    std::string t = "--timeout=" + std::to_string(timeout.count() / 1000) + "s";
    for (const auto& o : *objects) {
      std::vector<std::string> args;
      if (f == "rollout") {
        if (o.kind != "Deployment" && o.kind != "StatefulSet" && o.kind != "DaemonSet") continue;
        args = {"rollout", "status", o.kind + "/" + o.name, t};
      } else {
        if (o.kind != "Deployment" && o.kind != "StatefulSet" && o.kind != "DaemonSet" && o.kind != "Job") continue;
        args = {"wait", "--for=" + f, o.kind + "/" + o.name, t};
      }
      if (!o.namespace_.empty()) {
        args.push_back("-n");
        args.push_back(o.namespace_);
      }
      auto wait_argv = KubectlArgv(ctx, args);
      pipeline::ProcessSpec wp;
      wp.argv = wait_argv;
      wp.timeout = timeout + std::chrono::seconds(30);
      auto wr = ctx.Run(wp);
      if (!wr) return tl::unexpected(wr.error());
      if (!wr->Ok()) {
        (void)Rollback(ctx, rollback);
        return Fail("applied, but " + o.Ref() + " did not become ready: " + CommandError(wait_argv, *wr).message +
                    "; the objects were restored");
      }
    }
  }
  pipeline::ApplyResult out;
  out.outputs = {{"objects", std::to_string(objects->size())}, {"created", std::to_string(created.size())}};
  out.rollback = rollback;
  out.summary = "applied " + std::to_string(objects->size()) + " object(s), " + std::to_string(created.size()) + " new";
  return out;
}

Expected<void> K8sApplyStep::Rollback(const pipeline::StepContext& ctx, const Json& data) const {
  std::string errors;
  const Json created = data.value("created", Json::array());
  if (!created.empty()) {
    // Delete exactly the objects this run created, identified by their own manifests.
    Json items = Json::array();
    for (const auto& o : created) {
      Json meta{{"name", o.value("name", "")}};
      if (!o.value("namespace", "").empty()) meta["namespace"] = o.value("namespace", "");
      items.push_back({{"apiVersion", o.value("apiVersion", "")}, {"kind", o.value("kind", "")}, {"metadata", meta}});
    }
    auto argv = KubectlArgv(ctx, {"delete", "--ignore-not-found", "-f", "-"});
    pipeline::ProcessSpec p;
    p.argv = argv;
    p.stdin_data = MultiDocument(items);
    auto r = ctx.Run(p);
    if (!r) errors += "\n  " + r.error().message;
    else if (!r->Ok()) errors += "\n  " + CommandError(argv, *r).message;
  }
  const Json saved = data.value("saved", Json::array());
  if (!saved.empty()) {
    auto argv = KubectlArgv(ctx, {"apply", "--server-side", "--field-manager=slipway", "--force-conflicts", "-f", "-"});
    pipeline::ProcessSpec p;
    p.argv = argv;
    p.stdin_data = MultiDocument(saved);
    auto r = ctx.Run(p);
    if (!r) errors += "\n  " + r.error().message;
    else if (!r->Ok()) errors += "\n  " + CommandError(argv, *r).message;
  }
  if (!errors.empty()) return Fail("could not restore every object:" + errors);
  return {};
}

}  // namespace slipway::steps
