#include "pipeline/loader.h"

#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "pipeline/duration.h"
#include "pipeline/template.h"

namespace slipway::pipeline {

SourceLoc LocOf(const YAML::Node& node, const std::string& file) {
  const YAML::Mark m = node.Mark();
  if (m.line < 0) return SourceLoc{file, 0, 0};
  return SourceLoc{file, m.line + 1, m.column + 1};
}

static const char* TypeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "nothing (null)";
    default:
      return "an undefined value";
  }
}

// YAML 1.2 core schema: [-+]?[0-9]+ is an integer.
static bool LooksLikeInteger(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// [-+]?(digits.digits?|.digits)([eE][-+]?digits)?
static bool LooksLikeFloat(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++int_digits;
  if (i >= s.size() || s[i] != '.') return false;
  ++i;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++frac_digits;
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

Json YamlToJson(const YAML::Node& node, const std::string& file, const std::string& pointer, LocTable* locs) {
  if (locs) (*locs)[pointer] = LocOf(node, file);
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      Json out = Json::object();
      for (auto it = node.begin(); it != node.end(); ++it) {
        std::string key = it->first.Scalar();
        out[key] = YamlToJson(it->second, file, pointer + "/" + PointerEscape(key), locs);
      }
      return out;
    }
    case YAML::NodeType::Sequence: {
      Json out = Json::array();
      size_t i = 0;
      for (auto it = node.begin(); it != node.end(); ++it, ++i)
        out.push_back(YamlToJson(*it, file, pointer + "/" + std::to_string(i), locs));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "!") return s;  // quoted: always a string
 if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
      if (s == "null" || s == "~" || s == "Null" || s == "NULL") return nullptr;
      if (LooksLikeInteger(s)) {
        try {
          return std::stoll(s);
        } catch (...) {
          return s;
        }
      }
      if (LooksLikeFloat(s)) return std::stod(s);
      return s;
    }
    default:
      return nullptr;
  }
}

namespace {

class PlanReader {
 public:
  PlanReader(std::string file, Diagnostics& diag) : file_(std::move(file)), diag_(diag) {}

  void Read(const YAML::Node& root, Plan& plan) {
    if (!root.IsMap()) {
      Err(root, std::string("expected the plan to be a mapping with apiVersion, kind, metadata and steps, got ") +
                    TypeName(root));
      return;
    }
    CheckKeys(root, {"apiVersion", "kind", "metadata", "vars", "profiles", "defaults", "kube", "parallel", "steps"},
              "plan");
    if (auto v = root["apiVersion"]) {
      plan.api_version = Str(v, "apiVersion");
      if (!plan.api_version.empty() && plan.api_version != "slipway/v1")
        Err(v, "unsupported apiVersion '" + plan.api_version + "'; expected 'slipway/v1'");
    } else {
      Err(root, "missing 'apiVersion'; expected 'apiVersion: slipway/v1'");
    }
    if (auto v = root["kind"]) {
      std::string kind = Str(v, "kind");
      if (!kind.empty() && kind != "Plan") Err(v, "unsupported kind '" + kind + "'; expected 'Plan'");
    }
    if (auto m = root["metadata"]) {
      if (ExpectMap(m, "metadata")) {
        CheckKeys(m, {"name", "description", "labels"}, "metadata");
        if (auto n = m["name"]) {
          plan.name = Str(n, "metadata.name");
          static const std::regex kName(R"([A-Za-z0-9][A-Za-z0-9._-]*)");
          if (!plan.name.empty() && !std::regex_match(plan.name, kName))
            Err(n, "invalid plan name '" + plan.name + "'; expected letters, digits, '.', '_' or '-'");
        } else {
          Err(m, "missing 'metadata.name'");
        }
        if (auto d = m["description"]) plan.description = Str(d, "metadata.description");
      }
    } else {
      Err(root, "missing 'metadata' with a 'name'");
    }
    if (auto v = root["vars"]) {
      if (ExpectMap(v, "vars")) {
        plan.vars = YamlToJson(v, file_, "", nullptr);
        for (auto it = v.begin(); it != v.end(); ++it) plan.var_locs[it->first.Scalar()] = LocOf(it->first, file_);
      }
    }
    if (auto p = root["profiles"]) {
      if (ExpectMap(p, "profiles")) {
        for (auto it = p.begin(); it != p.end(); ++it) {
          if (ExpectMap(it->second, "profiles." + it->first.Scalar()))
            plan.profiles[it->first.Scalar()] = YamlToJson(it->second, file_, "", nullptr);
        }
      }
    }
    if (auto d = root["defaults"]) {
      if (ExpectMap(d, "defaults")) {
        CheckKeys(d, {"timeout", "retries"}, "defaults");
        if (auto t = d["timeout"]) plan.default_timeout = Duration(t, "defaults.timeout").value_or(plan.default_timeout);
        if (auto r = d["retries"]) plan.default_retries = Retries(r, "defaults.retries");
      }
    }
    if (auto k = root["kube"]) {
      if (ExpectMap(k, "kube")) {
        CheckKeys(k, {"context", "kubeconfig"}, "kube");
        if (auto c = k["context"]) plan.kube.context = Str(c, "kube.context");
        if (auto c = k["kubeconfig"]) plan.kube.kubeconfig = Str(c, "kube.kubeconfig");
      }
    }
    if (auto p = root["parallel"]) {
      int n = Int(p, "parallel");
      if (n < 1)
        Err(p, "expected 'parallel' to be a positive integer");
      else
        plan.parallel = n;
    }
    auto steps = root["steps"];
    if (!steps) {
      Err(root, "missing 'steps'; expected a list of steps");
      return;
    }
    if (!steps.IsSequence()) {
      Err(steps, std::string("expected 'steps' to be a list, got ") + TypeName(steps));
      return;
    }
    std::map<std::string, SourceLoc> seen;
    for (auto it = steps.begin(); it != steps.end(); ++it) {
      StepSpec step;
      if (!ReadStep(*it, step)) continue;
      if (!step.id.empty()) {
        auto [pos, inserted] = seen.emplace(step.id, step.loc);
        if (!inserted) {
          diag_.Error(step.loc, "duplicate step id '" + step.id + "'", "first defined at " + pos->second.ToString());
          continue;
        }
      }
      plan.steps.push_back(std::move(step));
    }
  }

 private:
  bool ReadStep(const YAML::Node& node, StepSpec& step) {
    if (!ExpectMap(node, "a step")) return false;
    CheckKeys(node,
              {"id", "name", "description", "uses", "run", "shell", "needs", "with", "check", "rollback", "tags", "if",
               "timeout", "retries", "continue_on_error", "env", "cwd"},
              "step");
    step.loc = LocOf(node, file_);
    if (auto id = node["id"]) {
      step.id = Str(id, "id");
      step.loc = LocOf(id, file_);
      bool valid = !step.id.empty() && step.id[0] != '-';
      for (char c : step.id) valid &= std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
      if (!step.id.empty() && !valid) {
        Err(id, "invalid step id '" + step.id + "'; expected letters, digits, '_' or '-' (no dots or spaces)");
        step.id.clear();
      }
    } else {
      Err(node, "step without an 'id'; every step needs a unique id");
    }
    if (auto d = node["description"]) step.description = Str(d, "description");
    if (auto d = node["name"]) {
      if (step.description.empty()) step.description = Str(d, "name");
    }
    auto uses = node["uses"], run = node["run"], shell = node["shell"];
    int forms = (uses ? 1 : 0) + (run ? 1 : 0) + (shell ? 1 : 0);
    if (forms == 0) {
      Err(node, "step '" + step.id + "' says neither 'uses' nor 'run' nor 'shell'; expected exactly one of them");
    } else if (forms > 1) {
      Err(run ? run : shell, "step '" + step.id + "' has more than one of 'uses', 'run' and 'shell'; expected exactly one");
    }
    if (uses) {
      step.kind = Str(uses, "uses");
      step.kind_loc = LocOf(uses, file_);
    } else if (run) {
      step.kind = "run";
      step.kind_loc = LocOf(run, file_);
      if (run.IsScalar()) {
        Err(run, "expected 'run' to be a list (argv), e.g. [kubectl, get, pods]; to run a script through a shell, "
                 "use 'shell:' instead");
      } else if (ExpectStringList(run, "run")) {
        step.body["run"] = ArgvToJson(run, "/run", step.locs);
      }
    } else if (shell) {
      step.kind = "run";
      step.kind_loc = LocOf(shell, file_);
      step.body["shell"] = Str(shell, "shell");
      step.locs["/shell"] = LocOf(shell, file_);
    }
    for (const char* key : {"check", "rollback"}) {
      auto c = node[key];
      if (!c) continue;
      if (c.IsSequence()) {
        if (ExpectStringList(c, key)) step.body[key] = ArgvToJson(c, std::string("/") + key, step.locs);
      } else if (c.IsMap() && c["shell"] && c.size() == 1) {
        step.body[key] = YamlToJson(c, file_, std::string("/") + key, &step.locs);
      } else {
        Err(c, std::string("expected '") + key + "' to be a list (argv) or a mapping {shell: \"script\"}, got " +
                   TypeName(c));
      }
    }
    if (auto n = node["needs"]) {
      if (n.IsScalar()) {
        step.needs.push_back(n.Scalar());
        step.needs_locs.push_back(LocOf(n, file_));
      } else if (ExpectStringList(n, "needs")) {
        for (auto it = n.begin(); it != n.end(); ++it) {
          step.needs.push_back(it->Scalar());
          step.needs_locs.push_back(LocOf(*it, file_));
        }
      }
    }
    if (auto w = node["with"]) {
      if (ExpectMap(w, "with")) step.body["with"] = YamlToJson(w, file_, "/with", &step.locs);
    }
    if (auto t = node["tags"]) {
      if (t.IsScalar()) {
        step.tags.push_back(t.Scalar());
      } else if (ExpectStringList(t, "tags")) {
        for (auto it = t.begin(); it != t.end(); ++it) step.tags.push_back(it->Scalar());
      }
    }
    if (auto c = node["if"]) {
      if (!c.IsScalar()) {
        Err(c, std::string("expected 'if' to be a condition string, got ") + TypeName(c));
      } else {
        step.if_expr = c.Scalar();
        step.if_loc = LocOf(c, file_);
        if (c.Tag() == "!") step.if_loc.column += 1;  // past the opening quote
      }
    }
    if (auto t = node["timeout"]) step.timeout = Duration(t, "timeout");
    if (auto r = node["retries"]) step.retries = Retries(r, "retries");
    if (auto c = node["continue_on_error"]) step.continue_on_error = Bool(c, "continue_on_error");
    if (auto e = node["env"]) {
      if (ExpectMap(e, "env")) {
        for (auto it = e.begin(); it != e.end(); ++it) {
          if (!it->second.IsScalar())
            Err(it->second, "expected env '" + it->first.Scalar() + "' to be a string, got " + TypeName(it->second));
        }
        // Env values are text exactly as written: 1.10 stays "1.10".
        step.body["env"] = YamlToJson(e, file_, "/env", &step.locs);
        for (auto it = e.begin(); it != e.end(); ++it)
          if (it->second.IsScalar()) step.body["env"][it->first.Scalar()] = it->second.Scalar();
      }
    }
    if (auto c = node["cwd"]) {
      step.body["cwd"] = Str(c, "cwd");
      step.locs["/cwd"] = LocOf(c, file_);
    }
    return true;
  }

  // An argv list as strings exactly as written (no YAML typing: 1.10, 007 and TRUE stay as they are).
  Json ArgvToJson(const YAML::Node& list, const std::string& pointer, LocTable& locs) {
    Json out = Json::array();
    locs[pointer] = LocOf(list, file_);
    size_t i = 0;
    for (auto it = list.begin(); it != list.end(); ++it, ++i) {
      out.push_back(it->Scalar());
      locs[pointer + "/" + std::to_string(i)] = LocOf(*it, file_);
    }
    return out;
  }

  void CheckKeys(const YAML::Node& map, const std::vector<std::string>& allowed, const std::string& what) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string key = it->first.Scalar();
      bool ok = false;
      for (const auto& a : allowed) ok |= a == key;
      if (ok) continue;
      std::string hint;
      if (std::string near = ClosestMatch(key, allowed); !near.empty()) {
        hint = "did you mean '" + near + "'?";
      } else {
        hint = "expected one of:";
        for (const auto& a : allowed) hint += " " + a;
      }
      diag_.Error(LocOf(it->first, file_), "unknown key '" + key + "' in " + what, hint);
    }
  }

  void Err(const YAML::Node& n, std::string msg) { diag_.Error(LocOf(n, file_), std::move(msg)); }

  bool ExpectMap(const YAML::Node& n, const std::string& what) {
    if (n.IsMap()) return true;
    Err(n, "expected " + (what.rfind("a ", 0) == 0 ? what : "'" + what + "'") + " to be a mapping, got " + TypeName(n));
    return false;
  }

  bool ExpectStringList(const YAML::Node& n, const std::string& what) {
    if (!n.IsSequence()) {
      Err(n, "expected '" + what + "' to be a list, got " + TypeName(n));
      return false;
    }
    bool ok = true;
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->IsScalar()) {
        Err(*it, "expected the items of '" + what + "' to be strings, got " + TypeName(*it));
        ok = false;
      }
    }
    return ok;
  }

  std::string Str(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar()) return n.Scalar();
    Err(n, "expected '" + what + "' to be a string, got " + TypeName(n));
    return {};
  }

  int Int(const YAML::Node& n, const std::string& what) {
    static const std::regex kInt(R"([0-9]+)");
    if (n.IsScalar() && std::regex_match(n.Scalar(), kInt)) {
      try {
        return std::stoi(n.Scalar());
      } catch (...) {
      }
    }
    Err(n, "expected '" + what + "' to be a whole number, got '" + (n.IsScalar() ? n.Scalar() : TypeName(n)) + "'");
    return -1;
  }

  bool Bool(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar()) {
      const std::string& s = n.Scalar();
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
    }
    Err(n, "expected '" + what + "' to be true or false, got '" + (n.IsScalar() ? n.Scalar() : TypeName(n)) + "'");
    return false;
  }

  std::optional<Millis> Duration(const YAML::Node& n, const std::string& what) {
    if (!n.IsScalar()) {
      Err(n, "expected '" + what + "' to be a duration such as 30s or 5m, got " + TypeName(n));
      return std::nullopt;
    }
    auto d = ParseDuration(n.Scalar());
    if (!d) {
      Err(n, "'" + what + "': " + d.error().message);
      return std::nullopt;
    }
    return *d;
  }

  RetryPolicy Retries(const YAML::Node& n, const std::string& what) {
    RetryPolicy r;
    if (n.IsScalar()) {
      r.attempts = Int(n, what);
    } else if (ExpectMap(n, what)) {
      CheckKeys(n, {"attempts", "backoff"}, what);
      if (auto a = n["attempts"]) r.attempts = Int(a, what + ".attempts");
      if (auto b = n["backoff"]) r.backoff = Duration(b, what + ".backoff").value_or(Millis(0));
    }
    if (r.attempts < 1) {
      Err(n, "expected '" + what + "' attempts to be at least 1");
      r.attempts = 1;
    }
    return r;
  }

  std::string file_;
  Diagnostics& diag_;
};

}  // namespace

std::optional<Plan> LoadPlanText(const std::string& file, const std::string& text, Diagnostics& diag) {
  diag.AddSource(file, text);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    SourceLoc loc{file, e.mark.line + 1, e.mark.column + 1};
    if (e.mark.line < 0) loc = SourceLoc{file, 0, 0};
    diag.Error(loc, "invalid YAML: " + e.msg);
    return std::nullopt;
  }
  Plan plan;
  plan.file = file;
  plan.source = text;
  PlanReader(file, diag).Read(root, plan);
  return plan;
}

std::optional<Plan> LoadPlanFile(const std::string& path, Diagnostics& diag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diag.Error(SourceLoc{path, 0, 0}, "cannot read plan file: " + std::string(std::strerror(errno)));
    return std::nullopt;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  return LoadPlanText(path, buf.str(), diag);
}

}  // namespace slipway::pipeline
