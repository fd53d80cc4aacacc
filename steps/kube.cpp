#include "steps/kube.h"

#include <regex>
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

KubeFailure ClassifyKubeFailure(const std::string& text) {
  KubeFailure f;
  std::smatch m;
  auto has = [&](const char* needle) { return text.find(needle) != std::string::npos; };
  if (has("not found on PATH")) {
    f.kind = KubeFailure::Kind::kToolMissing;
  } else if (std::regex_search(text, m, std::regex(R"re(no matches for kind "([^"]+)" in version "([^"]*)")re"))) {
    f.kind = KubeFailure::Kind::kKindNotServed;
    f.kind_name = m[1];
    std::string gv = m[2];
    auto slash = gv.find('/');
    f.group = slash == std::string::npos ? "" : gv.substr(0, slash);
    f.version = slash == std::string::npos ? gv : gv.substr(slash + 1);
  } else if (has("the server doesn't have a resource type") || has("ensure CRDs are installed first")) {
    f.kind = KubeFailure::Kind::kKindNotServed;
  } else if (std::regex_search(text, m, std::regex(R"re(namespaces "([^"]+)" not found)re"))) {
    f.kind = KubeFailure::Kind::kNamespaceMissing;
    f.ns = m[1];
  } else if (std::regex_search(text, m, std::regex(R"re(User "([^"]*)" cannot (\S+) resource "([^"]*)"(?: in API group "([^"]*)")?(?: in the namespace "([^"]*)")?)re"))) {
    f.kind = KubeFailure::Kind::kForbidden;
    f.user = m[1];
    f.verb = m[2];
    f.resource = m[3];
    if (m[4].length() > 0) f.resource += "." + m[4].str();
    f.ns = m[5];
  } else if (has("(Forbidden)") || has("is forbidden")) {
    f.kind = KubeFailure::Kind::kForbidden;
  } else if (std::regex_search(text, m, std::regex(R"re(Apply failed with \d+ conflicts?: ([^\n]*(?:\n- [^\n]*)*))re"))) {
    f.kind = KubeFailure::Kind::kConflict;
    f.conflicts = m[1];
  } else if (has("connection refused") || has("Unable to connect to the server") || has("dial tcp") ||
             has("no such host") || has("x509:") || has("tls:") || has("Unauthorized") ||
             has("provide credentials") || has("i/o timeout") || has("context deadline exceeded") ||
             has("couldn't get current server API group list") || has("the server could not find the requested resource") ||
             has("Kubernetes cluster unreachable") || has("was refused")) {
    f.kind = KubeFailure::Kind::kUnreachable;
  }
  return f;
}

std::string CrdName(const std::string& kind, const std::string& group) {
  std::string plural;
  for (char c : kind) plural += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto ends = [&](const char* e) {
    size_t n = std::char_traits<char>::length(e);
    return plural.size() >= n && plural.compare(plural.size() - n, n, e) == 0;
  };
  if (ends("y") && plural.size() > 1 && std::string("aeiou").find(plural[plural.size() - 2]) == std::string::npos)
    plural = plural.substr(0, plural.size() - 1) + "ies";
  else if (ends("s") || ends("x") || ends("ch") || ends("sh"))
    plural += "es";
  else
    plural += "s";
  return group.empty() ? plural : plural + "." + group;
}

pipeline::Probe NotChecked(const Error& why, const pipeline::StepContext* ctx) {
  using State = pipeline::Probe::State;
  KubeFailure f = ClassifyKubeFailure(why.message);
  auto provider = [&](const std::string& what) {
    return ctx && ctx->provider ? ctx->provider(what) : std::string();
  };
  pipeline::Probe p;
  switch (f.kind) {
    case KubeFailure::Kind::kToolMissing:
      p = {State::kUnknown, "not checked: " + why.message};
      p.not_checked = "tool-missing";
      p.would_fail = true;
      return p;
    case KubeFailure::Kind::kKindNotServed: {
      if (f.kind_name.empty()) {
        p = {State::kUnknown, "not checked: a kind the manifests use is not served by the cluster (" + why.message + ")"};
      } else {
        std::string crd = CrdName(f.kind_name, f.group);
        std::string by = provider("kind/" + f.group + "/" + f.kind_name);
        if (by.empty()) by = provider("group/" + f.group);
        std::string gv = f.group.empty() ? f.version : f.group + "/" + f.version;
        p = {State::kUnknown, "not checked: kind " + f.kind_name + " (" + gv + ") is not served yet: " +
                                  (by.empty() ? "its CRD (" + crd + ") is not installed and no step of this plan installs it"
                                              : "its CRD (" + crd + ") is installed by step `" + by + "`")};
        p.facts = {{"kind", f.kind_name}, {"api_version", gv}, {"crd", crd}};
        if (!by.empty()) p.facts["provided_by"] = by;
        p.would_fail = by.empty();  // nothing in this plan makes the kind appear
      }
      p.not_checked = "kind-not-served";
      return p;
    }
    case KubeFailure::Kind::kNamespaceMissing: {
      std::string by = provider("namespace/" + f.ns);
      if (!by.empty()) {
        p = {State::kChanges, "would create (namespace " + f.ns + " is created by step `" + by + "`)"};
        p.not_checked = "namespace-pending";
        p.facts = {{"namespace", f.ns}, {"provided_by", by}};
        return p;
      }
      p = {State::kUnknown, "not checked: namespace " + f.ns + " does not exist and no step of this plan creates it"};
      p.not_checked = "namespace-missing";
      p.facts = {{"namespace", f.ns}};
      p.would_fail = true;
      return p;
    }
    case KubeFailure::Kind::kForbidden:
      if (f.verb.empty()) {
        p = {State::kUnknown, "not checked: forbidden (" + why.message + ")"};
      } else {
        p = {State::kUnknown, "not checked: forbidden: user " + f.user + " may not " + f.verb + " " + f.resource +
                                  (f.ns.empty() ? "" : " in namespace " + f.ns) + " (RBAC)"};
        p.facts = {{"verb", f.verb}, {"resource", f.resource}, {"user", f.user}};
        if (!f.ns.empty()) p.facts["namespace"] = f.ns;
      }
      p.not_checked = "forbidden";
      return p;
    case KubeFailure::Kind::kUnreachable:
      p = {State::kUnknown, "not checked: cluster unreachable (" + why.message + ")"};
      p.not_checked = "cluster-unreachable";
      return p;
    case KubeFailure::Kind::kConflict:
    case KubeFailure::Kind::kOther:
      break;
  }
  p = {State::kUnknown, "not checked: " + why.message};
  p.not_checked = "error";
  return p;
}

}  // namespace slipway::steps
