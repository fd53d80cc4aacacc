#include "pipeline/template.h"

namespace slipway::pipeline {

static std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

static bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

Expected<Reference> ParseReference(std::string_view expr) {
  expr = Trim(expr);
  Reference ref;
  ref.text = std::string(expr);
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= expr.size(); ++i) {
    if (i == expr.size() || expr[i] == '.') {
      if (i == start) return Fail("malformed reference '" + ref.text + "': empty name between dots");
      parts.emplace_back(expr.substr(start, i - start));
      start = i + 1;
    } else if (!IsNameChar(expr[i])) {
      return Fail("malformed reference '" + ref.text + "': unexpected '" + std::string(1, expr[i]) +
                  "'; expected vars.NAME, env.NAME, secrets.NAME or steps.ID.outputs.KEY");
    }
  }
  const std::string& root = parts.front();
  if (root == "vars" && parts.size() >= 2) {
    ref.kind = Reference::Kind::kVar;
    ref.path.assign(parts.begin() + 1, parts.end());
  } else if ((root == "env" || root == "secrets") && parts.size() == 2) {
    ref.kind = root == "env" ? Reference::Kind::kEnv : Reference::Kind::kSecret;
    ref.path = {parts[1]};
  } else if (root == "steps" && parts.size() == 4 && parts[2] == "outputs") {
    ref.kind = Reference::Kind::kStepOutput;
    ref.path = {parts[1], parts[3]};
  } else {
    return Fail("unknown reference '" + ref.text +
                "'; expected vars.NAME, env.NAME, secrets.NAME or steps.ID.outputs.KEY");
  }
  return ref;
}

bool IsRuntimeReference(std::string_view expr) {
  expr = Trim(expr);
  for (std::string_view root : {"request.", "worker.", "random."})
    if (expr.substr(0, root.size()) == root) return true;
  return false;
}

Expected<std::vector<Segment>> ParseTemplate(std::string_view text) {
  std::vector<Segment> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      out.push_back({std::string(text.substr(pos)), std::nullopt});
      break;
    }
    if (open > pos) out.push_back({std::string(text.substr(pos, open - pos)), std::nullopt});
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) return Fail("unclosed '{{' at offset " + std::to_string(open));
    std::string_view inner = text.substr(open + 2, close - open - 2);
    if (IsRuntimeReference(inner)) {
      // Left for the load-test engine, which fills these in per request.
      out.push_back({std::string(text.substr(open, close + 2 - open)), std::nullopt});
      pos = close + 2;
      continue;
    }
    auto ref = ParseReference(inner);
    if (!ref) return tl::unexpected(ref.error());
    ref->offset = open;
    out.push_back({{}, std::move(*ref)});
    pos = close + 2;
  }
  return out;
}

Expected<std::string> RenderString(std::string_view text, const Scope& scope) {
  if (!HasTemplate(text)) return std::string(text);
  auto segments = ParseTemplate(text);
  if (!segments) return tl::unexpected(segments.error());
  std::string out;
  for (const auto& seg : *segments) {
    if (!seg.ref) {
      out += seg.literal;
      continue;
    }
    auto value = scope.Lookup(*seg.ref);
    if (!value) return tl::unexpected(value.error());
    out += *value;
  }
  return out;
}

std::string PointerEscape(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

std::string ValueText(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

static SourceLoc LocFor(const LocTable& locs, const std::string& pointer) {
  auto it = locs.find(pointer);
  return it == locs.end() ? SourceLoc{} : it->second;
}

Json RenderJson(const Json& value, const Scope& scope, const LocTable& locs, const std::string& pointer,
                std::vector<Error>& errors) {
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (!HasTemplate(s)) return value;
    auto rendered = RenderString(s, scope);
    if (!rendered) {
      errors.emplace_back(rendered.error().message, LocFor(locs, pointer));
      return value;
    }
    return *rendered;
  }
  if (value.is_array()) {
    Json out = Json::array();
    for (size_t i = 0; i < value.size(); ++i)
      out.push_back(RenderJson(value[i], scope, locs, pointer + "/" + std::to_string(i), errors));
    return out;
  }
  if (value.is_object()) {
    Json out = Json::object();
    for (auto it = value.begin(); it != value.end(); ++it)
      out[it.key()] = RenderJson(it.value(), scope, locs, pointer + "/" + PointerEscape(it.key()), errors);
    return out;
  }
  return value;
}

void ForEachReference(const Json& value, const std::string& pointer,
                      const std::function<void(const Reference&, const std::string& pointer)>& visit,
                      const std::function<void(const Error&, const std::string& pointer)>& on_error) {
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (!HasTemplate(s)) return;
    auto segments = ParseTemplate(s);
    if (!segments) {
      on_error(segments.error(), pointer);
      return;
    }
    for (const auto& seg : *segments)
      if (seg.ref) visit(*seg.ref, pointer);
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i)
      ForEachReference(value[i], pointer + "/" + std::to_string(i), visit, on_error);
  } else if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it)
      ForEachReference(it.value(), pointer + "/" + PointerEscape(it.key()), visit, on_error);
  }
}

}  // namespace slipway::pipeline
