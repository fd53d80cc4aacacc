#include "steps/mesh_istio.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "pipeline/loader.h"
#include "pipeline/sha256.h"
#include "pipeline/template.h"
#include "steps/kube.h"
#include "steps/manifest.h"
#include "steps/mesh_common.h"
#include "steps/with.h"

namespace slipway::steps {

namespace {

constexpr const char* kStateKind = "mesh-istio";
constexpr const char* kDefaultOverlay = "templates/mesh/istio-operator.yaml";
constexpr const char* kPeerAuthenticationTemplate = "templates/mesh/peer-authentication.yaml";
constexpr const char* kOverlayFile = "istio-operator.yaml";
constexpr const char* kRecordFile = "installed.json";  // what this step last installed: {profile, overlay_sha256, version}
constexpr std::chrono::minutes kDefaultTimeout{10};
constexpr std::chrono::seconds kProbeTimeout{60};

struct Settings {
  std::string version, profile, overlay, ns, mtls;
  std::vector<std::string> authorization;
  std::chrono::milliseconds timeout{kDefaultTimeout};
};

Settings Read(const pipeline::StepContext& ctx) {
  const Json& w = ctx.With();
  Settings s;
  s.version = GetString(w, "version");
  s.profile = GetString(w, "profile", "default");
  s.overlay = GetString(w, "overlay", kDefaultOverlay);
  s.ns = GetString(w, "namespace");
  s.mtls = GetString(w, "mtls", "STRICT");
  s.authorization = GetStringList(w, "authorization");
  s.timeout = GetDuration(w, "timeout", kDefaultTimeout);
  return s;
}

// Template data: the overlay's defaults (HA istiod 2-5, gateways 2-5, spans to the OpenTelemetry
// collector of the observability namespace), then the
// plan's vars, then the step's own settings, then with.values over everything.
Json Data(const pipeline::StepContext& ctx, const Settings& s) {
  Json data{{"istiod_min_replicas", 2},
            {"istiod_max_replicas", 5},
            {"gateway_min_replicas", 2},
            {"gateway_max_replicas", 5},
            {"tracing_service", "otel-collector-opentelemetry-collector.observability.svc.cluster.local"},
            {"tracing_port", 4317},
            {"ingress_nlb", false},
            {"egress_gateway", true},
            {"authz_allowed_namespaces", Json::array()}};
  Json vars_and_values = TemplateData(ctx);
  for (auto it = vars_and_values.begin(); it != vars_and_values.end(); ++it) data[it.key()] = it.value();
  data["profile"] = s.profile;
  data["mtls"] = s.mtls;
  if (!s.ns.empty()) data["namespace"] = s.ns;
  if (!s.version.empty()) data["istio_version"] = s.version;
  const Json& w = ctx.With();
  if (auto it = w.find("values"); it != w.end() && it->is_object())
    for (auto kv = it->begin(); kv != it->end(); ++kv) data[kv.key()] = kv.value();
  return data;
}

Expected<std::string> ReadFile(const std::filesystem::path& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) return Fail("cannot read " + what + " " + path.string());
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

Expected<std::string> RenderFile(const std::filesystem::path& path, const Json& data, const std::string& what) {
  auto text = ReadFile(path, what);
  if (!text) return text;
  return RenderMustache(*text, data, path.string());
}

std::filesystem::path OverlaySource(const pipeline::StepContext& ctx, const Settings& s) {
  return LocalOrShipped(ctx, s.overlay);
}

Expected<std::string> RenderOverlay(const pipeline::StepContext& ctx, const Settings& s) {
  return RenderFile(OverlaySource(ctx, s), Data(ctx, s), "overlay");
}

// The policy templates: PeerAuthentication `default` (when a namespace is given), then each
// AuthorizationPolicy template.
Expected<std::vector<std::filesystem::path>> PolicySources(const pipeline::StepContext& ctx, const Settings& s) {
  std::vector<std::filesystem::path> out;
  if (!s.ns.empty()) out.push_back(LocalOrShipped(ctx, kPeerAuthenticationTemplate));
  if (!s.authorization.empty()) {
    auto files = ExpandGlobs(ctx, s.authorization);
    if (!files) return tl::unexpected(files.error());
    out.insert(out.end(), files->begin(), files->end());
  }
  return out;
}

Expected<std::string> RenderPolicies(const pipeline::StepContext& ctx, const Settings& s) {
  auto sources = PolicySources(ctx, s);
  if (!sources) return tl::unexpected(sources.error());
  Json data = Data(ctx, s);
  std::string out;
  for (const auto& f : *sources) {
    auto rendered = RenderFile(f, data, "policy template");
    if (!rendered) return rendered;
    out += "---\n# Source: " + f.string() + "\n" + *rendered;
    if (out.back() != '\n') out += '\n';
  }
  return out;
}

std::filesystem::path OverlayPath(const pipeline::StepContext& ctx) { return MeshStepDir(ctx, kStateKind) / kOverlayFile; }
std::filesystem::path RecordPath(const pipeline::StepContext& ctx) { return MeshStepDir(ctx, kStateKind) / kRecordFile; }

std::vector<std::string> InstallArgv(const pipeline::StepContext& ctx, const Settings& s) {
  return ContextArgv(ctx, "istioctl", {"install", "-y", "-f", OverlayPath(ctx).string(), "--set", "profile=" + s.profile});
}
// Readiness after an install (istioctl verify-install was removed in Istio 1.24): every Deployment
// istioctl installed (istiod and the gateways carry operator.istio.io/component) finished rolling out,
// then `istioctl version -o json` lists the control plane at the wanted version.
std::vector<std::string> RolloutArgv(const pipeline::StepContext& ctx, std::chrono::milliseconds timeout) {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout).count();
  return KubectlArgv(ctx, {"rollout", "status", "deployment", "-n", "istio-system", "-l", "operator.istio.io/component",
                           "--timeout", std::to_string(std::max<long long>(1, secs)) + "s"});
}
std::vector<std::string> VersionArgv(const pipeline::StepContext& ctx) {
  return ContextArgv(ctx, "istioctl", {"version", "-o", "json"});
}
std::vector<std::string> UninstallArgv(const pipeline::StepContext& ctx) {
  return ContextArgv(ctx, "istioctl", {"uninstall", "--purge", "-y"});
}
std::vector<std::string> PolicyApplyArgv(const pipeline::StepContext& ctx) {
  // The step owns these objects (the plan declares the namespace's mTLS mode), so it takes over
  // fields another manager set; rollback puts their previous values back.
  return KubectlArgv(ctx, {"apply", "--server-side", "--field-manager=slipway", "--force-conflicts", "-f", "-"});
}
std::vector<std::string> PeerAuthenticationGetArgv(const pipeline::StepContext& ctx, const std::string& ns) {
  return KubectlArgv(ctx, {"get", "peerauthentication", "default", "-n", ns, "-o", "json"});
}

std::string Key(const std::string& kind, const std::string& ns, const std::string& name) {
  return kind + "/" + ns + "/" + name;
}

// What a saved object needs to be applied again: no server-owned fields.
Json Restorable(Json obj) {
  obj.erase("status");
  if (obj.contains("metadata"))
    for (const char* k : {"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink"})
      obj["metadata"].erase(k);
  return obj;
}

std::string MultiDocument(const Json& objects) {
  std::string out;
  for (const auto& o : objects) out += "---\n" + o.dump() + "\n";
  return out;
}

// The policy objects live now, by Key(). Kinds not served yet (Istio's CRDs absent) mean none.
Expected<std::map<std::string, Json>> LivePolicies(const pipeline::StepContext& ctx, const std::string& policies,
                                                   const std::string& ns) {
  std::map<std::string, Json> out;
  if (policies.find_first_not_of(" \n") == std::string::npos) return out;
  auto argv = KubectlArgv(ctx, {"get", "-f", "-", "-o", "json", "--ignore-not-found"});
  auto r = RunQuiet(ctx, argv, policies, kProbeTimeout);
  if (!r) return tl::unexpected(r.error());
  if (!r->Ok()) {
    if (KindNotServed(r->err)) return out;
    return tl::unexpected(CommandError(argv, *r));
  }
  if (r->out.find_first_not_of(" \n") == std::string::npos) return out;
  Json j = Json::parse(r->out, nullptr, false);
  if (j.is_discarded()) return Fail("kubectl get -f -: output is not JSON");
  Json items = j.value("kind", "") == "List" ? j.value("items", Json::array()) : Json::array({j});
  for (const auto& item : items) {
    const Json meta = item.value("metadata", Json::object());
    out[Key(item.value("kind", ""), meta.value("namespace", ns), meta.value("name", ""))] = item;
  }
  return out;
}

// The fields of each rendered object that must be found in the live one, by Key(). Parsed from the
// rendered text itself, so a quoted "true" stays a string.
Expected<std::map<std::string, Json>> Wanted(const std::string& policies, const std::string& ns) {
  std::map<std::string, Json> out;
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(policies);
  } catch (const YAML::Exception& e) {
    return Fail("rendered policies are not valid YAML (line " + std::to_string(e.mark.line + 1) + "): " + e.msg);
  }
  for (const auto& doc : docs) {
    if (!doc || !doc.IsMap()) continue;
    Json j = pipeline::YamlToJson(doc, "policy", "", nullptr);
    Json meta = j.value("metadata", Json::object());
    std::string key = Key(j.value("kind", ""), meta.value("namespace", ns), meta.value("name", ""));
    Json kept = Json::object();
    for (const char* k : {"labels", "annotations"})
      if (meta.contains(k)) kept[k] = meta[k];
    j["metadata"] = kept;
    j.erase("apiVersion");  // served as stored; the same policy under another version is still the same
    out[key] = j;
  }
  return out;
}

// istioctl's own version and the control plane's ("" when none answers), from `istioctl version -o json`:
// {"clientVersion": {"version": ...}, "meshVersion": [{"Component", "Revision", "Info": {"version"}}]}.
Expected<std::pair<std::string, std::string>> Versions(const pipeline::StepContext& ctx) {
  auto argv = VersionArgv(ctx);
  auto r = RunQuiet(ctx, argv, std::nullopt, kProbeTimeout);
  if (!r) return tl::unexpected(r.error());
  Json v = Json::parse(r->out, nullptr, false);
  if (!r->Ok() || v.is_discarded() || !v.is_object()) {
    if (r->Ok()) return Fail("istioctl version -o json: output is not JSON");
    return tl::unexpected(CommandError(argv, *r));
  }
  std::pair<std::string, std::string> out;
  out.first = v.value("clientVersion", Json::object()).value("version", "");
  for (const auto& m : v.value("meshVersion", Json::array())) {
    std::string ver = m.value("Info", Json::object()).value("version", "");
    // The default revision answers for the mesh; another revision only when it is the only one.
    if (m.value("Revision", "default") == "default" || out.second.empty()) out.second = ver;
  }
  return out;
}

// The world as the step sees it.
struct World {
  std::string client_version;               // istioctl's own version
  std::string mesh_version;                 // the control plane's; empty when there is none
  std::vector<KubeObject> objects;          // the rendered policies
  std::map<std::string, Json> live;         // those of them that exist now
  std::map<std::string, Json> wanted;       // what each must hold (Wanted())
  std::string peer_mode;                    // the live PeerAuthentication's spec.mtls.mode ("" absent)
};

Expected<World> Look(const pipeline::StepContext& ctx, const Settings& s, const std::string& policies) {
  World w;
  auto versions = Versions(ctx);
  if (!versions) return tl::unexpected(versions.error());
  w.client_version = versions->first;
  w.mesh_version = versions->second;
  auto objects = ParseManifests(policies, s.ns);
  if (!objects) return tl::unexpected(objects.error());
  w.objects = std::move(*objects);
  auto wanted = Wanted(policies, s.ns);
  if (!wanted) return tl::unexpected(wanted.error());
  w.wanted = std::move(*wanted);
  auto live = LivePolicies(ctx, policies, s.ns);
  if (!live) return tl::unexpected(live.error());
  w.live = std::move(*live);
  if (!s.ns.empty()) {
    auto it = w.live.find(Key("PeerAuthentication", s.ns, "default"));
    if (it != w.live.end())
      w.peer_mode = it->second.value("spec", Json::object()).value("mtls", Json::object()).value("mode", "UNSET");
  }
  return w;
}

std::optional<Json> ReadRecord(const pipeline::StepContext& ctx) {
  std::ifstream in(RecordPath(ctx));
  if (!in) return std::nullopt;
  std::ostringstream buf;
  buf << in.rdbuf();
  Json j = Json::parse(buf.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

// Why the control plane must be (re)installed, or "" when it is as wanted.
std::string ControlPlaneChange(const pipeline::StepContext& ctx, const Settings& s, const World& w,
                               const std::string& overlay) {
  if (w.mesh_version.empty())
    return "would install Istio " + (s.version.empty() ? w.client_version : s.version) + " (profile " + s.profile + ")";
  if (!s.version.empty() && !VersionMatches(s.version, w.mesh_version))
    return "would upgrade Istio " + w.mesh_version + " to " + s.version;
  // Only an installation this step made is compared with the overlay: someone else's mesh at the
  // wanted version counts as present (the contract's check is "version + policy present").
  if (auto record = ReadRecord(ctx)) {
    if (record->value("overlay_sha256", "") != pipeline::Sha256Hex(overlay) || record->value("profile", "") != s.profile)
      return "would reinstall Istio: the overlay or profile changed since slipway installed it";
  }
  return {};
}

std::vector<std::string> PolicyChanges(const Settings& s, const World& w) {
  std::vector<std::string> out;
  for (const auto& o : w.objects) {
    auto it = w.live.find(Key(o.kind, o.namespace_, o.name));
    if (it == w.live.end()) {
      out.push_back("would create " + o.Ref());
      continue;
    }
    if (o.kind == "PeerAuthentication" && o.name == "default" && w.peer_mode != s.mtls) {
      out.push_back("would set " + o.Ref() + " mtls " + w.peer_mode + " -> " + s.mtls);
      continue;
    }
    auto wanted = w.wanted.find(Key(o.kind, o.namespace_, o.name));
    if (wanted == w.wanted.end() || !JsonSubset(wanted->second, it->second)) out.push_back("would change " + o.Ref());
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

Expected<void> WritePrivateFile(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return Fail("cannot write " + tmp.string());
    out << text;
    if (!out.flush()) return Fail("cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::permissions(tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace, ec);
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Fail("cannot write " + path.string() + ": " + ec.message());
  return {};
}

// Undoes what `data` says an attempt changed: the policies first (restored or deleted), then the
// control plane when the attempt installed it. Every failure is collected.
Expected<void> Undo(const pipeline::StepContext& ctx, const Json& data, std::chrono::milliseconds timeout) {
  std::vector<std::string> errors;
  const Json created = data.value("created", Json::array());
  if (!created.empty()) {
    Json items = Json::array();
    for (const auto& o : created) {
      Json meta{{"name", o.value("name", "")}};
      if (!o.value("namespace", "").empty()) meta["namespace"] = o.value("namespace", "");
      items.push_back({{"apiVersion", o.value("apiVersion", "")}, {"kind", o.value("kind", "")}, {"metadata", meta}});
    }
    auto r = RunOk(ctx, KubectlArgv(ctx, {"delete", "--ignore-not-found", "-f", "-"}), MultiDocument(items), timeout,
                   Echo::kStream);
    if (!r) errors.push_back(r.error().message);
  }
  const Json saved = data.value("saved", Json::array());
  if (!saved.empty()) {
    auto r = RunOk(ctx, PolicyApplyArgv(ctx), MultiDocument(saved), timeout, Echo::kStream);
    if (!r) errors.push_back(r.error().message);
  }
  if (data.value("installed", false)) {
    auto r = RunOk(ctx, UninstallArgv(ctx), std::nullopt, timeout, Echo::kStream);
    if (!r) {
      errors.push_back(r.error().message);
    } else {
      std::error_code ec;
      std::filesystem::remove(RecordPath(ctx), ec);
    }
  }
  if (!errors.empty()) return Fail(Join(errors, "; "));
  return {};
}

// An Apply failure after changes: undo them and say so in the error.
tl::unexpected<Error> FailAndUndo(const pipeline::StepContext& ctx, const Error& cause, const Json& data,
                                  std::chrono::milliseconds timeout) {
  bool anything = data.value("installed", false) || !data.value("created", Json::array()).empty() ||
                  !data.value("saved", Json::array()).empty();
  if (!anything) return tl::unexpected(cause);
  auto undone = Undo(ctx, data, timeout);
  std::string what = data.value("installed", false) ? "removed the control plane and the policies this attempt installed"
                                                     : "restored the policies";
  if (undone) return Fail(cause.message + " (" + what + ")");
  return Fail(cause.message + " (undo failed too: " + undone.error().message + ")");
}

}  // namespace

void MeshIstioStep::Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const {
  CheckWithKeys(step, diag, {"version", "profile", "overlay", "values", "namespace", "mtls", "authorization", "timeout"});
  CheckWithDuration(step, diag, "timeout");
  const Json w = step.body.value("with", Json::object());
  if (w.contains("mtls") && w["mtls"].is_string()) {
    std::string m = w["mtls"].get<std::string>();
    if (!pipeline::HasTemplate(m) && m != "STRICT" && m != "PERMISSIVE")
      diag.Error(step.LocOf("/with/mtls"), "unknown mtls mode '" + m + "'", "expected STRICT or PERMISSIVE");
  }
  if (w.contains("values") && !w["values"].is_object())
    diag.Error(step.LocOf("/with/values"), "expected 'with.values' to be a mapping of template data");
  if (w.contains("authorization") && !w["authorization"].is_string() && !w["authorization"].is_array())
    diag.Error(step.LocOf("/with/authorization"), "expected 'with.authorization' to be a file or a list of files");
  if (w.contains("authorization") && !w.contains("namespace"))
    diag.Error(step.LocOf("/with/authorization"), "'with.authorization' needs 'with.namespace'",
               "the AuthorizationPolicies are rendered for the app namespace");
}

std::vector<std::filesystem::path> MeshIstioStep::ReferencedFiles(const pipeline::StepSpec&, const Json& rendered,
                                                                  const std::filesystem::path& plan_dir) const {
  auto ctx = BodyContext(rendered, plan_dir);
  Settings s = Read(ctx);
  std::vector<std::filesystem::path> out{OverlaySource(ctx, s)};
  if (auto policies = PolicySources(ctx, s)) out.insert(out.end(), policies->begin(), policies->end());
  return out;
}

std::vector<std::string> MeshIstioStep::Describe(const pipeline::StepContext& ctx) const {
  Settings s = Read(ctx);
  std::vector<std::string> lines;
  auto overlay = RenderOverlay(ctx, s);
  if (!overlay) return {"error: " + overlay.error().message};
  lines.push_back("write the IstioOperator overlay " + OverlayPath(ctx).string() + " <<EOF");
  lines.push_back(*overlay + (overlay->empty() || overlay->back() == '\n' ? "" : "\n") + "EOF");
  lines.push_back(pipeline::QuoteArgv(InstallArgv(ctx, s)) +
                  "   (when the control plane is absent, at another version, or its overlay changed)");
  lines.push_back(pipeline::QuoteArgv(RolloutArgv(ctx, s.timeout)) + "   (after installing: istiod and the gateways ready)");
  lines.push_back(pipeline::QuoteArgv(VersionArgv(ctx)) + "   (after installing: the control plane answers" +
                  (s.version.empty() ? "" : " at " + s.version) + ")");
  auto policies = RenderPolicies(ctx, s);
  if (!policies) {
    lines.push_back("error: " + policies.error().message);
    return lines;
  }
  if (!policies->empty()) {
    lines.push_back(pipeline::QuoteArgv(PolicyApplyArgv(ctx)) + " <<EOF");
    lines.push_back(*policies + "EOF");
  }
  if (!s.ns.empty())
    lines.push_back(pipeline::QuoteArgv(PeerAuthenticationGetArgv(ctx, s.ns)) + "   (expects spec.mtls.mode " + s.mtls + ")");
  return lines;
}

Expected<pipeline::Probe> MeshIstioStep::Check(const pipeline::StepContext& ctx) const {
  Settings s = Read(ctx);
  auto overlay = RenderOverlay(ctx, s);
  if (!overlay) return tl::unexpected(overlay.error());
  auto policies = RenderPolicies(ctx, s);
  if (!policies) return tl::unexpected(policies.error());
  auto world = Look(ctx, s, *policies);
  if (!world) {
    if (ctx.mode == pipeline::Mode::kDryRun)
      return NotChecked(world.error());
    return tl::unexpected(world.error());
  }
  std::vector<std::string> changes;
  if (auto cp = ControlPlaneChange(ctx, s, *world, *overlay); !cp.empty()) changes.push_back(cp);
  for (auto& c : PolicyChanges(s, *world)) changes.push_back(c);
  if (!changes.empty()) return pipeline::Probe{pipeline::Probe::State::kChanges, Join(changes, "; ")};
  std::string detail = "Istio " + world->mesh_version + " installed";
  if (!s.ns.empty()) detail += "; PeerAuthentication default -n " + s.ns + " mtls " + world->peer_mode;
  size_t authz = 0;
  for (const auto& o : world->objects) authz += o.kind == "AuthorizationPolicy" ? 1 : 0;
  if (authz > 0) detail += "; " + std::to_string(authz) + " AuthorizationPolicy present";
  return pipeline::Probe{pipeline::Probe::State::kInSync, detail,
                         {{"version", world->mesh_version},
                          {"installed", "false"},
                          {"mtls", s.ns.empty() ? "UNSET" : world->peer_mode}}};
}

Expected<pipeline::ApplyResult> MeshIstioStep::Apply(const pipeline::StepContext& ctx) const {
  Settings s = Read(ctx);
  auto overlay = RenderOverlay(ctx, s);
  if (!overlay) return tl::unexpected(overlay.error());
  auto policies = RenderPolicies(ctx, s);
  if (!policies) return tl::unexpected(policies.error());
  auto world = Look(ctx, s, *policies);
  if (!world) return tl::unexpected(world.error());
  bool had_mesh = !world->mesh_version.empty();
  if (!had_mesh) {
    // istioctl sees no running istiod; istiod Deployments that exist anyway (crash-looping, scaled to
    // zero) belong to someone: install over them, but never purge them on failure or rollback.
    auto argv = KubectlArgv(ctx, {"get", "deployments", "-n", "istio-system", "-l", "app=istiod", "-o", "name"});
    auto r = RunQuiet(ctx, argv, std::nullopt, kProbeTimeout);
    if (!r) return tl::unexpected(r.error());
    if (!r->Ok()) return tl::unexpected(CommandError(argv, *r));
    if (r->out.find_first_not_of(" \n") != std::string::npos) {
      had_mesh = true;
      ctx.Log("istiod Deployments exist in istio-system although no control plane answers; installing over them, "
              "and neither a failure nor a rollback will uninstall them",
              pipeline::Level::kWarn);
    }
  }
  std::string control_plane = ControlPlaneChange(ctx, s, *world, *overlay);
  if (!control_plane.empty() && !s.version.empty() && !VersionMatches(s.version, world->client_version))
    return Fail("istioctl on PATH is " + world->client_version + " but the plan wants Istio " + s.version +
                ": istioctl installs its own version, so put istioctl " + s.version + " on PATH");

  auto dir = MeshStepDir(ctx, kStateKind);
  if (auto made = MakePrivateDir(dir); !made) return tl::unexpected(made.error());
  if (auto written = WritePrivateFile(OverlayPath(ctx), *overlay); !written) return tl::unexpected(written.error());

  Json data{{"installed", false}, {"created", Json::array()}, {"saved", Json::array()}, {"namespace", s.ns}};
  std::string version = world->mesh_version;
  if (!control_plane.empty()) {
    ctx.Log(control_plane.substr(std::string("would ").size()));
    auto install_argv = InstallArgv(ctx, s);
    auto installed = RunTool(ctx, install_argv, std::nullopt, s.timeout, Echo::kStream);
    if (!installed) return tl::unexpected(installed.error());
    // A failed install of a fresh mesh leaves a partial one behind: it is this attempt's to remove.
    data["installed"] = !had_mesh;
    if (!installed->Ok()) return FailAndUndo(ctx, CommandError(install_argv, *installed), data, s.timeout);
    auto rolled = RunOk(ctx, RolloutArgv(ctx, s.timeout), std::nullopt, s.timeout + std::chrono::seconds(10), Echo::kStream);
    if (!rolled) return FailAndUndo(ctx, rolled.error(), data, s.timeout);
    auto answers = Versions(ctx);
    if (!answers) return FailAndUndo(ctx, answers.error(), data, s.timeout);
    if (answers->second.empty())
      return FailAndUndo(ctx, Error("istioctl version -o json lists no control plane after the install"), data, s.timeout);
    if (!s.version.empty() && !VersionMatches(s.version, answers->second))
      return FailAndUndo(ctx, Error("the control plane answers as Istio " + answers->second + ", not " + s.version), data,
                         s.timeout);
    version = answers->second;
    Json record{{"profile", s.profile}, {"overlay_sha256", pipeline::Sha256Hex(*overlay)}, {"version", version}};
    if (auto w = WritePrivateFile(RecordPath(ctx), record.dump(2) + "\n"); !w) ctx.Log(w.error().message, pipeline::Level::kWarn);
  }

  if (!world->objects.empty()) {
    // Save what is live now (Istio's kinds are served only after the install above).
    auto live = LivePolicies(ctx, *policies, s.ns);
    if (!live) return FailAndUndo(ctx, live.error(), data, s.timeout);
    for (const auto& o : world->objects) {
      auto it = live->find(Key(o.kind, o.namespace_, o.name));
      if (it != live->end())
        data["saved"].push_back(Restorable(it->second));
      else
        data["created"].push_back(
            {{"apiVersion", o.api_version}, {"kind", o.kind}, {"name", o.name}, {"namespace", o.namespace_}});
    }
    auto applied = RunOk(ctx, PolicyApplyArgv(ctx), *policies, s.timeout, Echo::kStream);
    if (!applied) return FailAndUndo(ctx, applied.error(), data, s.timeout);
  }

  std::string mode = "UNSET";
  if (!s.ns.empty()) {
    // Read the policy back: the mode that matters is the one the API server holds.
    auto argv = PeerAuthenticationGetArgv(ctx, s.ns);
    auto r = RunOk(ctx, argv, std::nullopt, kProbeTimeout, Echo::kQuiet);
    if (!r) return FailAndUndo(ctx, r.error(), data, s.timeout);
    Json pa = Json::parse(r->out, nullptr, false);
    mode = pa.is_object() ? pa.value("spec", Json::object()).value("mtls", Json::object()).value("mode", "UNSET") : "";
    if (mode != s.mtls)
      return FailAndUndo(ctx,
                         Error("PeerAuthentication default -n " + s.ns + " reads back with mtls mode '" + mode +
                               "', not " + s.mtls),
                         data, s.timeout);
  }

  pipeline::ApplyResult out;
  out.outputs = {{"version", version}, {"installed", data["installed"].get<bool>() ? "true" : "false"}, {"mtls", mode}};
  out.rollback = data;
  std::string summary = data["installed"].get<bool>() ? "installed Istio " + version
                        : control_plane.empty()       ? "Istio " + version + " already installed"
                                                      : "reinstalled Istio " + version;
  if (!s.ns.empty()) summary += "; mtls " + mode + " in " + s.ns;
  if (!world->objects.empty())
    summary += "; " + std::to_string(world->objects.size()) + " polic" + (world->objects.size() == 1 ? "y" : "ies") + " applied";
  out.summary = summary;
  return out;
}

Expected<void> MeshIstioStep::Rollback(const pipeline::StepContext& ctx, const Json& data) const {
  return Undo(ctx, data, GetDuration(ctx.With(), "timeout", kDefaultTimeout));
}

}  // namespace slipway::steps

namespace slipway::steps {

std::vector<std::string> MeshIstioStep::Provides(const pipeline::StepContext&) const {
  // What `istioctl install` brings: the control plane's namespace and Istio's CRDs.
  return {"namespace/istio-system",         "group/networking.istio.io", "group/security.istio.io",
          "group/telemetry.istio.io",       "group/extensions.istio.io", "group/install.istio.io"};
}

}  // namespace slipway::steps
