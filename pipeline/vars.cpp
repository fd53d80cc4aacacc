#include "pipeline/vars.h"

#include <cstdlib>
#include <fstream>

#include "pipeline/loader.h"

extern char** environ;

namespace slipway::pipeline {

static void SetPath(Json& vars, const std::string& dotted, Json value) {
  Json* node = &vars;
  size_t start = 0;
  while (true) {
    size_t dot = dotted.find('.', start);
    std::string key = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (dot == std::string::npos) {
      (*node)[key] = std::move(value);
      return;
    }
    Json& child = (*node)[key];
    if (!child.is_object()) child = Json::object();
    node = &child;
    start = dot + 1;
  }
}

Json ResolveVars(const Plan& plan, const VarOverrides& overrides, Diagnostics& diag) {
  Json vars = plan.vars.is_object() ? plan.vars : Json::object();
  for (const auto& file : overrides.values_files) {
    Diagnostics local;
    std::ifstream probe(file);
    if (!probe) {
      diag.Error(SourceLoc{}, "--values: cannot read '" + file + "'");
      continue;
    }
    try {
      YAML::Node root = YAML::LoadFile(file);
      if (!root.IsMap()) {
        diag.Error(LocOf(root, file), "expected a --values file to be a mapping of var names to values");
        continue;
      }
      Json values = YamlToJson(root, file, "", nullptr);
      for (auto it = values.begin(); it != values.end(); ++it) vars[it.key()] = it.value();
    } catch (const YAML::Exception& e) {
      diag.Error(SourceLoc{file, e.mark.line + 1, e.mark.column + 1}, "invalid YAML: " + e.msg);
    }
  }
  if (!overrides.profile.empty()) {
    auto it = plan.profiles.find(overrides.profile);
    if (it == plan.profiles.end()) {
      std::vector<std::string> names;
      for (const auto& [n, _] : plan.profiles) names.push_back(n);
      std::string hint = names.empty() ? "the plan defines no profiles" : "defined profiles:";
      for (const auto& n : names) hint += " " + n;
      diag.Error(SourceLoc{}, "--profile: unknown profile '" + overrides.profile + "'", hint);
    } else {
      for (auto v = it->second.begin(); v != it->second.end(); ++v) vars[v.key()] = v.value();
    }
  }
  if (overrides.use_env) {
    static const std::string kPrefix = "SLIPWAY_VAR_";
    for (char** e = environ; *e; ++e) {
      std::string_view kv(*e);
      if (kv.rfind(kPrefix, 0) != 0) continue;
      size_t eq = kv.find('=');
      if (eq == std::string_view::npos || eq == kPrefix.size()) continue;
      vars[std::string(kv.substr(kPrefix.size(), eq - kPrefix.size()))] = std::string(kv.substr(eq + 1));
    }
  }
  for (const auto& s : overrides.sets) {
    size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0) {
      diag.Error(SourceLoc{}, "--set: invalid '" + s + "'; expected NAME=VALUE");
      continue;
    }
    SetPath(vars, s.substr(0, eq), s.substr(eq + 1));
  }
  return vars;
}

const Json* FindVar(const Json& vars, const std::vector<std::string>& path) {
  const Json* node = &vars;
  for (const auto& key : path) {
    if (node->is_object()) {
      auto it = node->find(key);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array() && !key.empty() && key.find_first_not_of("0123456789") == std::string::npos) {
      size_t i = std::stoul(key);
      if (i >= node->size()) return nullptr;
      node = &(*node)[i];
    } else {
      return nullptr;
    }
  }
  return node;
}

void OutputStore::Set(const std::string& step, std::map<std::string, std::string> outputs) {
  std::lock_guard lock(mu_);
  outputs_[step] = std::move(outputs);
}

bool OutputStore::Has(const std::string& step) const {
  std::lock_guard lock(mu_);
  return outputs_.count(step) > 0;
}

std::optional<std::string> OutputStore::Get(const std::string& step, const std::string& key) const {
  std::lock_guard lock(mu_);
  auto s = outputs_.find(step);
  if (s == outputs_.end()) return std::nullopt;
  auto k = s->second.find(key);
  if (k == s->second.end()) return std::nullopt;
  return k->second;
}

std::map<std::string, std::string> OutputStore::All(const std::string& step) const {
  std::lock_guard lock(mu_);
  auto s = outputs_.find(step);
  return s == outputs_.end() ? std::map<std::string, std::string>{} : s->second;
}

Expected<std::string> RunScope::Lookup(const Reference& ref) const { return LookupDepth(ref, 0); }

Expected<std::string> RunScope::LookupDepth(const Reference& ref, int depth) const {
  switch (ref.kind) {
    case Reference::Kind::kVar: {
      const Json* v = FindVar(vars_, ref.path);
      if (!v) return Fail("unknown variable '" + ref.text + "'");
      std::string text = ValueText(*v);
      if (!HasTemplate(text)) return text;
      // Vars may refer to other vars and to env; render them, guarding against loops.
      if (depth > 16) return Fail("variable '" + ref.text + "' refers to itself (through other vars)");
      auto segments = ParseTemplate(text);
      if (!segments) return Fail("variable '" + ref.text + "': " + segments.error().message);
      std::string out;
      for (const auto& seg : *segments) {
        if (!seg.ref) {
          out += seg.literal;
          continue;
        }
        auto inner = LookupDepth(*seg.ref, depth + 1);
        if (!inner) return inner;
        out += *inner;
      }
      return out;
    }
    case Reference::Kind::kEnv: {
      const char* v = std::getenv(ref.path[0].c_str());
      if (!v) return Fail("environment variable '" + ref.path[0] + "' is not set (referenced as '" + ref.text + "')");
      return std::string(v);
    }
    case Reference::Kind::kSecret: {
      auto v = secrets_.Get(ref.path[0]);
      if (!v && dry_run_) return std::string("***");
      return v;
    }
    case Reference::Kind::kStepOutput: {
      auto v = outputs_.Get(ref.path[0], ref.path[1]);
      if (v) return *v;
      if (dry_run_ && !outputs_.Has(ref.path[0])) return "(known after apply: " + ref.text + ")";
      if (!outputs_.Has(ref.path[0]))
        return Fail("'" + ref.text + "': step '" + ref.path[0] + "' has not published outputs in this run");
      std::string keys;
      for (const auto& [k, _] : outputs_.All(ref.path[0])) keys += (keys.empty() ? "" : ", ") + k;
      return Fail("'" + ref.text + "': step '" + ref.path[0] + "' published no output '" + ref.path[1] + "'" +
                  (keys.empty() ? std::string(" (it published none)") : " (it published: " + keys + ")"));
    }
  }
  return Fail("internal error: unknown reference kind");
}

}  // namespace slipway::pipeline
