#include "steps/prereq.h"

#include <unistd.h>

#include <filesystem>
#include <regex>
#include <stdexcept>

#include "steps/http_client.h"
#include "steps/kube.h"
#include "steps/with.h"

namespace slipway::steps {

std::vector<int> ParseVersion(const std::string& text) {
  // The first dotted number that stands on its own: not part of a longer dotted run such as an
  // IP address ("10.0.0.1") that a tool may print before its version.
  static const std::regex kVersion(R"((?:^|[^\d.])(\d+)\.(\d+)(?:\.(\d+))?(?!\.?\d))");
  std::smatch m;
  if (!std::regex_search(text, m, kVersion)) return {};
  try {
    std::vector<int> v{std::stoi(m[1]), std::stoi(m[2])};
    v.push_back(m[3].matched ? std::stoi(m[3]) : 0);
    return v;
  } catch (const std::out_of_range&) {
    return {};
  }
}

static int Compare(const std::vector<int>& a, const std::vector<int>& b) {
  for (size_t i = 0; i < 3; ++i) {
    int x = i < a.size() ? a[i] : 0, y = i < b.size() ? b[i] : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

Expected<bool> VersionSatisfies(const std::vector<int>& version, const std::string& constraint) {
  std::string text = constraint;
  for (char& c : text)
    if (c == ',') c = ' ';
  std::istringstream in(text);
  for (std::string term; in >> term;) {
    if (term == "*") continue;
    std::string op;
    size_t i = 0;
    while (i < term.size() && std::string("<>=!^~").find(term[i]) != std::string::npos) op += term[i++];
    std::string number = term.substr(i);
    if (!number.empty() && number[0] == 'v') number = number.substr(1);
    std::vector<int> want = ParseVersion(number.find('.') == std::string::npos ? number + ".0" : number);
    if (want.empty()) return Fail("invalid version constraint '" + constraint + "'; expected e.g. \">=1.27\" or \">=3.12 <4\"");
    int parts = static_cast<int>(std::count(number.begin(), number.end(), '.')) + 1;
    int c = Compare(version, want);
    bool ok;
    if (op == ">=") ok = c >= 0;
    else if (op == ">") ok = c > 0;
    else if (op == "<=") ok = c <= 0;
    else if (op == "<") ok = c < 0;
    else if (op == "!=") ok = c != 0;
    else if (op == "^") ok = c >= 0 && version[0] == want[0];
    else if (op == "~") ok = c >= 0 && version[0] == want[0] && version[1] == want[1];
    else if (op.empty() || op == "=" || op == "==") {
      // "1.2" matches any 1.2.x; "1.2.3" only itself.
      ok = version[0] == want[0] && (parts < 2 || version[1] == want[1]) && (parts < 3 || version[2] == want[2]);
    } else {
      return Fail("invalid version constraint '" + constraint + "': unknown operator '" + op + "'");
    }
    if (!ok) return false;
  }
  return true;
}

namespace {

std::vector<std::string> VersionArgv(const std::string& tool) {
  if (tool == "kubectl") return {"kubectl", "version", "--client", "-o", "json"};
  if (tool == "helm") return {"helm", "version", "--short"};
  if (tool == "istioctl") return {"istioctl", "version", "--remote=false"};
  if (tool == "linkerd") return {"linkerd", "version", "--client", "--short"};
  // Tools whose --version is not the way to ask (or needs a server).
  if (tool == "velero") return {"velero", "version", "--client-only"};
  if (tool == "argocd") return {"argocd", "version", "--client", "--short"};
  if (tool == "flux") return {"flux", "version", "--client"};
  if (tool == "kustomize" || tool == "k6" || tool == "go") return {tool, "version"};
  if (tool == "java") return {"java", "-version"};
  return {tool, "--version"};
}

// One entry of with.resources: an object the plan relies on but does not create.
struct Resource {
  std::string kind, name, ns, why;
  std::string Shown() const { return kind + " " + (ns.empty() ? "" : ns + "/") + name; }
};

Resource ReadResource(const Json& j) {
  return {GetString(j, "kind"), GetString(j, "name"), GetString(j, "namespace"), GetString(j, "why")};
}

std::vector<std::string> ResourceGetArgs(const Resource& r) {
  std::vector<std::string> args{"get", r.kind, r.name, "-o", "name"};
  if (!r.ns.empty()) args.insert(args.end(), {"-n", r.ns});
  return args;
}

struct Findings {
  std::vector<std::string> ok, missing;
  std::string Summary() const {
    std::string s;
    for (const auto& m : missing) s += "\n  - " + m;
    return s;
  }
};

Findings Inspect(const pipeline::StepContext& ctx, bool dry_run) {
  Findings f;
  const Json& w = ctx.With();
  for (const auto& [tool, constraint] : GetStringMap(w, "tools")) {
    std::string path = pipeline::FindOnPath(tool);
    if (path.empty()) {
      f.missing.push_back(tool + ": not found on PATH; install it or add its directory to PATH");
      continue;
    }
    if (constraint.empty() || constraint == "*") {
      f.ok.push_back(tool + " at " + path);
      continue;
    }
    auto argv = VersionArgv(tool);
    auto r = RunQuiet(ctx, argv, std::nullopt, std::chrono::seconds(15));
    std::string text = r ? r->out + "\n" + r->err : "";
    if (tool == "kubectl" && r) {
      auto j = Json::parse(r->out, nullptr, false);
      if (!j.is_discarded() && j.contains("clientVersion")) text = j["clientVersion"].value("gitVersion", text);
    }
    auto version = ParseVersion(text);
    if (version.empty()) {
      f.missing.push_back(tool + ": could not read its version from '" + pipeline::QuoteArgv(argv) + "'");
      continue;
    }
    std::string shown = std::to_string(version[0]) + "." + std::to_string(version[1]) + "." + std::to_string(version[2]);
    auto sat = VersionSatisfies(version, constraint);
    if (!sat) {
      f.missing.push_back(tool + ": " + sat.error().message);
    } else if (!*sat) {
      f.missing.push_back(tool + ": found " + shown + " at " + path + ", need " + constraint + "; upgrade or downgrade it");
    } else {
      f.ok.push_back(tool + " " + shown + " (" + constraint + ")");
    }
  }
  for (const auto& var : GetStringList(w, "env")) {
    const char* v = std::getenv(var.c_str());
    if (!v || !*v)
      f.missing.push_back("environment variable " + var + " is not set; export it before running slipway");
    else
      f.ok.push_back("env " + var);
  }
  for (const auto& file : GetStringList(w, "files")) {
    auto p = ctx.Resolve(file);
    if (!std::filesystem::exists(p))
      f.missing.push_back("file " + p.string() + " does not exist");
    else if (::access(p.c_str(), R_OK) != 0)
      f.missing.push_back("file " + p.string() + " is not readable");
    else
      f.ok.push_back("file " + file);
  }
  const Json resources = w.value("resources", Json::array());
  if (GetBool(w, "cluster", false) || (resources.is_array() && !resources.empty())) {
    std::string why = ClusterUnreachable(ctx);
    if (why.empty()) {
      auto argv = KubectlArgv(ctx, {"get", "--raw", "/readyz", "--request-timeout=5s"});
      auto r = RunQuiet(ctx, argv, std::nullopt, std::chrono::seconds(10));
      if (!r || !r->Ok()) why = r ? CommandError(argv, *r).message : r.error().message;
    }
    std::string context = ctx.plan->kube.context.empty() ? "the current context" : "context " + ctx.plan->kube.context;
    if (!why.empty()) {
      f.missing.push_back(dry_run ? "cluster: not checked: cluster unreachable (" + context + ": " + why + ")"
                                  : "cluster unreachable through " + context + ": " + why +
                                        "; check KUBECONFIG / kube.context and that the API server answers");
    } else {
      if (GetBool(w, "cluster", false)) f.ok.push_back("cluster reachable (" + context + ")");
      for (const auto& res : resources) {
        Resource want = ReadResource(res);
        auto argv = KubectlArgv(ctx, ResourceGetArgs(want));
        auto r = RunQuiet(ctx, argv, std::nullopt, std::chrono::seconds(15));
        if (r && r->Ok()) {
          f.ok.push_back(want.Shown());
        } else if (r && r->err.find("(NotFound)") != std::string::npos) {
          f.missing.push_back(want.Shown() + " does not exist" + (want.why.empty() ? "" : ": " + want.why));
        } else {
          f.missing.push_back(want.Shown() + ": could not be read: " +
                              (r ? CommandError(argv, *r).message : r.error().message));
        }
      }
    }
  }
  for (const auto& url : GetStringList(w, "urls")) {
    HttpRequest req;
    req.url = url;
    req.timeout = std::chrono::seconds(10);
    auto r = HttpDo(req);
    if (!r)
      f.missing.push_back("url " + url + " does not answer: " + r.error().message);
    else if (r->status >= 500)
      f.missing.push_back("url " + url + " answered " + std::to_string(r->status));
    else
      f.ok.push_back("url " + url + " (" + std::to_string(r->status) + ")");
  }
  return f;
}

}  // namespace

void PrereqStep::Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const {
  CheckWithKeys(step, diag, {"tools", "env", "files", "cluster", "urls", "resources"});
  auto with = step.body.value("with", Json::object());
  if (with.contains("resources")) {
    if (!with["resources"].is_array()) {
      diag.Error(step.LocOf("/with/resources"), "expected 'with.resources' to be a list of {kind, name, namespace, why}");
    } else {
      for (size_t i = 0; i < with["resources"].size(); ++i) {
        const Json& r = with["resources"][i];
        std::string at = "/with/resources/" + std::to_string(i);
        if (!r.is_object()) {
          diag.Error(step.LocOf(at), "expected {kind, name, namespace, why}");
          continue;
        }
        for (const auto& [k, _] : r.items())
          if (k != "kind" && k != "name" && k != "namespace" && k != "why")
            diag.Error(step.LocOf(at + "/" + k), "unknown key '" + k + "' in a resource of prereq",
                       "a resource has kind, name, namespace (for namespaced kinds) and why");
        for (const char* k : {"kind", "name"})
          if (!r.contains(k)) diag.Error(step.LocOf(at), std::string("a resource of prereq needs '") + k + "'");
      }
    }
  }
  if (with.contains("tools")) {
    if (!with["tools"].is_object()) {
      diag.Error(step.LocOf("/with/tools"), "expected 'with.tools' to map tool names to version constraints");
    } else {
      for (auto& [tool, c] : with["tools"].items()) {
        std::string constraint = c.is_null() ? "" : pipeline::ValueText(c);
        if (pipeline::HasTemplate(constraint) || constraint.empty()) continue;
        if (auto ok = VersionSatisfies({0, 0, 0}, constraint); !ok)
          diag.Error(step.LocOf("/with/tools/" + tool), ok.error().message);
      }
    }
  }
}

std::vector<std::string> PrereqStep::Describe(const pipeline::StepContext& ctx) const {
  const Json& w = ctx.With();
  std::vector<std::string> lines;
  for (const auto& [tool, c] : GetStringMap(w, "tools"))
    lines.push_back("tool " + tool + (c.empty() ? "" : " " + c) + ": " + pipeline::QuoteArgv(VersionArgv(tool)));
  for (const auto& v : GetStringList(w, "env")) lines.push_back("env " + v + " is set");
  for (const auto& f : GetStringList(w, "files")) lines.push_back("file " + f + " exists");
  if (GetBool(w, "cluster", false))
    lines.push_back("cluster: " + pipeline::QuoteArgv(KubectlArgv(ctx, {"version", "-o", "json"})) + "; " +
                    pipeline::QuoteArgv(KubectlArgv(ctx, {"get", "--raw", "/readyz"})));
  for (const auto& u : GetStringList(w, "urls")) lines.push_back("url " + u + " answers");
  for (const auto& r : w.value("resources", Json::array()))
    lines.push_back(ReadResource(r).Shown() + " exists: " + pipeline::QuoteArgv(KubectlArgv(ctx, ResourceGetArgs(ReadResource(r)))));
  return lines;
}

Expected<pipeline::Probe> PrereqStep::Check(const pipeline::StepContext& ctx) const {
  Findings f = Inspect(ctx, ctx.mode == pipeline::Mode::kDryRun);
  if (f.missing.empty())
    return pipeline::Probe{pipeline::Probe::State::kInSync, "all " + std::to_string(f.ok.size()) + " prerequisites met"};
  pipeline::Probe probe{pipeline::Probe::State::kChanges,
                        std::to_string(f.missing.size()) + " prerequisite(s) missing:" + f.Summary()};
  probe.would_fail = true;  // apply runs the same checks and stops here
  return probe;
}

Expected<pipeline::ApplyResult> PrereqStep::Apply(const pipeline::StepContext& ctx) const {
  Findings f = Inspect(ctx, false);
  if (!f.missing.empty())
    return Fail(std::to_string(f.missing.size()) + " prerequisite(s) missing:" + f.Summary());
  pipeline::ApplyResult out;
  out.summary = "all " + std::to_string(f.ok.size()) + " prerequisites met";
  return out;
}

}  // namespace slipway::steps
