#include "steps/manifest.h"

#include <glob.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include <kainjow/mustache.hpp>
#include <yaml-cpp/yaml.h>

namespace slipway::steps {

namespace mstch = kainjow::mustache;

static mstch::data ToData(const Json& j) {
  if (j.is_object()) {
    mstch::data d{mstch::data::type::object};
    for (auto it = j.begin(); it != j.end(); ++it) d.set(it.key(), ToData(it.value()));
    return d;
  }
  if (j.is_array()) {
    mstch::data list{mstch::data::type::list};
    for (const auto& v : j) list.push_back(ToData(v));
    return list;
  }
  if (j.is_boolean()) return j.get<bool>() ? mstch::data{mstch::data::type::bool_true} : mstch::data{mstch::data::type::bool_false};
  if (j.is_null()) return mstch::data{mstch::data::type::bool_false};
  if (j.is_string()) return mstch::data{j.get<std::string>()};
  return mstch::data{j.dump()};
}

Expected<std::string> RenderMustache(const std::string& text, const Json& data, const std::string& name) {
  mstch::mustache tmpl{text};
  if (!tmpl.is_valid()) return Fail("template " + name + ": " + tmpl.error_message());
  tmpl.set_custom_escape([](const std::string& s) { return s; });
  std::string out = tmpl.render(ToData(data));
  if (!tmpl.is_valid()) return Fail("template " + name + ": " + tmpl.error_message());
  return out;
}

Json TemplateData(const pipeline::StepContext& ctx) {
  Json data = ctx.vars && ctx.vars->is_object() ? *ctx.vars : Json::object();
  data["vars"] = ctx.vars ? *ctx.vars : Json::object();
  const Json& w = ctx.With();
  if (auto it = w.find("values"); it != w.end() && it->is_object())
    for (auto kv = it->begin(); kv != it->end(); ++kv) data[kv.key()] = kv.value();
  return data;
}

Expected<std::vector<std::filesystem::path>> ExpandGlobs(const pipeline::StepContext& ctx,
                                                         const std::vector<std::string>& patterns) {
  std::vector<std::filesystem::path> out;
  std::set<std::string> seen;
  for (const auto& pattern : patterns) {
    std::string full = ctx.Resolve(pattern).string();
    glob_t g{};
    int rc = ::glob(full.c_str(), 0, nullptr, &g);
    if ((rc == GLOB_NOMATCH || g.gl_pathc == 0) && pattern.rfind("templates/", 0) == 0) {
      ::globfree(&g);
      g = glob_t{};
      full = (TemplatesDir() / pattern.substr(10)).string();
      rc = ::glob(full.c_str(), 0, nullptr, &g);
    }
    if (rc == GLOB_NOMATCH || g.gl_pathc == 0) {
      ::globfree(&g);
      std::string where = ctx.Resolve(pattern).parent_path().string();
      if (pattern.rfind("templates/", 0) == 0)
        where += " and " + (TemplatesDir() / pattern.substr(10)).parent_path().string();
      return Fail("'" + pattern + "' matches no file (looked in " + where + ")");
    }
    std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    ::globfree(&g);
    std::sort(matches.begin(), matches.end());
    for (auto& m : matches)
      if (seen.insert(m).second) out.emplace_back(m);
  }
  return out;
}

pipeline::StepContext BodyContext(const Json& rendered, const std::filesystem::path& plan_dir) {
  pipeline::StepContext ctx;
  ctx.body = rendered;
  ctx.plan_dir = plan_dir;
  return ctx;
}

std::filesystem::path LocalOrShipped(const pipeline::StepContext& ctx, const std::string& path) {
  auto local = ctx.Resolve(path);
  if (std::filesystem::exists(local)) return local;
  std::filesystem::path rel = path.rfind("templates/", 0) == 0 ? path.substr(10) : path;
  auto shipped = TemplatesDir() / rel;
  return std::filesystem::exists(shipped) ? shipped : local;
}

std::filesystem::path TemplatesDir() {
  if (const char* env = std::getenv("SLIPWAY_TEMPLATES"); env && *env) return env;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto installed = exe.parent_path().parent_path() / "share" / "slipway" / "templates";
    if (std::filesystem::is_directory(installed)) return installed;
  }
#ifdef SLIPWAY_SOURCE_TEMPLATES
  return SLIPWAY_SOURCE_TEMPLATES;
#else
  return "templates";
#endif
}

Expected<std::vector<KubeObject>> ParseManifests(const std::string& text, const std::string& default_namespace) {
  std::vector<KubeObject> out;
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    return Fail("rendered manifest is not valid YAML (line " + std::to_string(e.mark.line + 1) + "): " + e.msg);
  }
  int index = 0;
  for (const auto& doc : docs) {
    ++index;
    if (!doc || doc.IsNull()) continue;
    if (!doc.IsMap() || !doc["kind"] || !doc["apiVersion"] || !doc["metadata"] || !doc["metadata"]["name"])
      return Fail("rendered manifest document " + std::to_string(index) +
                  " is not a Kubernetes object (needs apiVersion, kind and metadata.name)");
    KubeObject o;
    o.api_version = doc["apiVersion"].as<std::string>();
    o.kind = doc["kind"].as<std::string>();
    o.name = doc["metadata"]["name"].as<std::string>();
    if (doc["metadata"]["namespace"]) o.namespace_ = doc["metadata"]["namespace"].as<std::string>();
    static const std::set<std::string> kClusterScoped = {
        "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
        "StorageClass", "PriorityClass", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"};
    if (o.namespace_.empty() && !kClusterScoped.count(o.kind)) o.namespace_ = default_namespace;
    YAML::Emitter em;
    em << doc;
    o.yaml = em.c_str();
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace slipway::steps
