#include "steps/with.h"

#include <cstdlib>

#include "pipeline/duration.h"
#include "pipeline/template.h"

namespace slipway::steps {

void CheckWithKeys(const pipeline::StepSpec& step, pipeline::Diagnostics& diag, const std::vector<std::string>& allowed,
                   const std::vector<std::string>& required) {
  auto it = step.body.find("with");
  if (it == step.body.end() || !it->is_object()) {
    if (!required.empty())
      diag.Error(step.kind_loc, "step '" + step.id + "' (" + step.kind + ") needs 'with:' giving " + required.front());
    return;
  }
  for (auto kv = it->begin(); kv != it->end(); ++kv) {
    bool ok = false;
    for (const auto& a : allowed) ok |= a == kv.key();
    if (ok) continue;
    std::string near = pipeline::ClosestMatch(kv.key(), allowed);
    std::string hint = near.empty() ? "" : "did you mean '" + near + "'?";
    if (hint.empty()) {
      hint = "expected one of:";
      for (const auto& a : allowed) hint += " " + a;
    }
    // The key's own position: the value's position is the best the loader keeps.
    diag.Error(step.LocOf("/with/" + pipeline::PointerEscape(kv.key())),
               "unknown key '" + kv.key() + "' in 'with' of " + step.kind, hint);
  }
  for (const auto& r : required)
    if (!it->contains(r)) diag.Error(step.LocOf("/with"), step.kind + " needs 'with." + r + "'");
}

std::string GetString(const Json& with, const std::string& key, const std::string& fallback) {
  auto it = with.find(key);
  if (it == with.end() || it->is_null()) return fallback;
  return pipeline::ValueText(*it);
}

std::optional<double> GetNumber(const Json& with, const std::string& key) {
  auto it = with.find(key);
  if (it == with.end()) return std::nullopt;
  if (it->is_number()) return it->get<double>();
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end && *end == '\0' && !s.empty()) return v;
  }
  return std::nullopt;
}

bool GetBool(const Json& with, const std::string& key, bool fallback) {
  auto it = with.find(key);
  if (it == with.end()) return fallback;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string()) return *it == "true" || *it == "yes" || *it == "1";
  return fallback;
}

std::chrono::milliseconds GetDuration(const Json& with, const std::string& key, std::chrono::milliseconds fallback) {
  auto it = with.find(key);
  if (it == with.end()) return fallback;
  if (it->is_number()) return std::chrono::milliseconds(static_cast<long long>(it->get<double>() * 1000));
  auto d = pipeline::ParseDuration(pipeline::ValueText(*it));
  return d ? *d : fallback;
}

std::vector<std::string> GetStringList(const Json& with, const std::string& key) {
  std::vector<std::string> out;
  auto it = with.find(key);
  if (it == with.end()) return out;
  if (it->is_array())
    for (const auto& v : *it) out.push_back(pipeline::ValueText(v));
  else if (!it->is_null())
    out.push_back(pipeline::ValueText(*it));
  return out;
}

std::vector<std::pair<std::string, std::string>> GetStringMap(const Json& with, const std::string& key) {
  std::vector<std::pair<std::string, std::string>> out;
  auto it = with.find(key);
  if (it == with.end() || !it->is_object()) return out;
  for (auto kv = it->begin(); kv != it->end(); ++kv) out.emplace_back(kv.key(), pipeline::ValueText(kv.value()));
  return out;
}

}  // namespace slipway::steps

namespace slipway::steps {
void CheckWithDuration(const pipeline::StepSpec& step, pipeline::Diagnostics& diag, const std::string& key) {
  auto with = step.body.find("with");
  if (with == step.body.end() || !with->contains(key)) return;
  const Json& v = (*with)[key];
  if (v.is_number()) return;
  std::string text = pipeline::ValueText(v);
  if (pipeline::HasTemplate(text)) return;
  auto d = pipeline::ParseDuration(text);
  if (!d) diag.Error(step.LocOf("/with/" + pipeline::PointerEscape(key)), "'with." + key + "': " + d.error().message);
}
}  // namespace slipway::steps
