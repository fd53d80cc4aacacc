#include "steps/helm_release.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <variant>

#include <yaml-cpp/yaml.h>

#include "pipeline/duration.h"
#include "pipeline/loader.h"
#include "pipeline/sha256.h"
#include "steps/kube.h"
#include "steps/manifest.h"
#include "steps/with.h"

namespace slipway::steps {

namespace {

constexpr std::chrono::milliseconds kDefaultTimeout = std::chrono::minutes(5);
// helm's own --timeout bounds the wait; this margin covers its start-up and the API calls around it.
constexpr std::chrono::milliseconds kHelmMargin = std::chrono::minutes(2);
constexpr std::chrono::milliseconds kProbeTimeout = std::chrono::seconds(60);

// The with: block, read once.
struct Settings {
  std::string name, chart, repo, version, ns;
  bool create_namespace = true;
  bool atomic = false;
  bool plain_http = false;          // an oci:// registry served over HTTP (helm's --plain-http)
  std::vector<std::string> values;  // file patterns
  Json set = Json::object();
  std::chrono::milliseconds timeout = kDefaultTimeout;
};

Settings ReadSettings(const pipeline::StepContext& ctx) {
  const Json& w = ctx.With();
  Settings s;
  s.name = GetString(w, "name");
  s.chart = GetString(w, "chart");
  s.repo = GetString(w, "repo");
  s.version = GetString(w, "version");
  s.ns = GetString(w, "namespace");
  s.create_namespace = GetBool(w, "create_namespace", true);
  s.atomic = GetBool(w, "atomic", false);
  s.plain_http = GetBool(w, "plain_http", false);
  s.values = GetStringList(w, "values");
  if (auto it = w.find("set"); it != w.end() && it->is_object()) s.set = *it;
  s.timeout = GetDuration(w, "timeout", kDefaultTimeout);
  return s;
}

// One values file: where it comes from, where slipway writes it for helm, what it holds after rendering.
struct ValuesFile {
  std::filesystem::path source, target;
  std::string content;
};

std::filesystem::path ValuesDir(const pipeline::StepContext& ctx) {
  std::filesystem::path state = ctx.state_dir.empty() ? ctx.plan_dir / ".slipway" : ctx.state_dir;
  std::error_code ec;
  auto abs = std::filesystem::absolute(state, ec);
  // helm runs in the plan directory, so the path it gets must not depend on slipway's own cwd.
  return (ec ? state : abs) / "helm" / (ctx.spec ? ctx.spec->id : std::string("release"));
}

Expected<std::vector<ValuesFile>> RenderValues(const pipeline::StepContext& ctx, const Settings& s) {
  std::vector<ValuesFile> out;
  if (s.values.empty()) return out;
  auto files = ExpandGlobs(ctx, s.values);
  if (!files) return tl::unexpected(files.error());
  Json data = TemplateData(ctx);
  auto dir = ValuesDir(ctx);
  for (const auto& f : *files) {
    std::ifstream in(f);
    if (!in) return Fail("cannot read values file " + f.string());
    std::ostringstream buf;
    buf << in.rdbuf();
    auto rendered = RenderMustache(buf.str(), data, f.string());
    if (!rendered) return tl::unexpected(rendered.error());
    out.push_back({f, dir / ("values-" + std::to_string(out.size() + 1) + ".yaml"), *rendered});
  }
  return out;
}

// Writes a file only its owner may read: rendered values may carry secrets.
Expected<void> WritePrivate(const std::filesystem::path& path, const std::string& content) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return Fail("cannot create " + path.parent_path().string() + ": " + ec.message());
  ::chmod(path.parent_path().c_str(), 0700);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Fail("cannot write " + path.string() + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);  // an older file may have had wider permissions
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string why = std::strerror(errno);
      ::close(fd);
      return Fail("cannot write " + path.string() + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return Fail("cannot write " + path.string() + ": " + std::strerror(errno));
  return {};
}

// How a `set` entry goes to helm, in the order helm applies them: --set-json, then --set, then --set-string.
enum class SetFlag { kJson, kPlain, kString };

SetFlag FlagFor(const Json& v) {
  if (v.is_object() || v.is_array()) return SetFlag::kJson;
  // helm's --set parser reads a value starting with '{' as a list, even with --set-string.
  if (v.is_string()) return v.get_ref<const std::string&>().rfind('{', 0) == 0 ? SetFlag::kJson : SetFlag::kString;
  return SetFlag::kPlain;
}

// A value for --set/--set-string: helm's parser splits on ',' and takes '\' as an escape.
std::string EscapeSetValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == ',') out += '\\';
    out += c;
  }
  return out;
}

std::string SetText(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "null";
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return std::to_string(static_cast<long long>(d));
  }
  return v.dump();
}

std::vector<std::string> SetArgs(const Json& set) {
  std::vector<std::string> args;
  for (auto it = set.begin(); it != set.end(); ++it) {
    switch (FlagFor(it.value())) {
      case SetFlag::kJson:
        args.push_back("--set-json");
        args.push_back(it.key() + "=" + it.value().dump());
        break;
      case SetFlag::kPlain:
        args.push_back("--set");
        args.push_back(it.key() + "=" + EscapeSetValue(SetText(it.value())));
        break;
      case SetFlag::kString:
        args.push_back("--set-string");
        args.push_back(it.key() + "=" + EscapeSetValue(it.value().get<std::string>()));
        break;
    }
  }
  return args;
}

// helm's major version (3 or 4) from `helm version`, 0 when it cannot be told. helm 4 renamed --atomic
// to --rollback-on-failure (and rejects the old name).
int HelmMajor(const pipeline::StepContext& ctx) {
  auto r = RunQuiet(ctx, HelmArgv(ctx, {"version", "--template", "{{.Version}}"}), std::nullopt, std::chrono::seconds(20));
  if (!r || !r->Ok()) return 0;
  std::string v = r->out;
  size_t at = v.find_first_of("0123456789");
  return at == std::string::npos ? 0 : std::atoi(v.c_str() + at);
}

std::vector<std::string> UpgradeArgv(const pipeline::StepContext& ctx, const Settings& s,
                                     const std::vector<ValuesFile>& files, int helm_major) {
  std::vector<std::string> args{"upgrade", "--install", s.name, s.chart, "--namespace", s.ns};
  if (!s.repo.empty()) args.insert(args.end(), {"--repo", s.repo});
  if (!s.version.empty()) args.insert(args.end(), {"--version", s.version});
  if (s.plain_http) args.push_back("--plain-http");
  if (s.create_namespace) args.push_back("--create-namespace");
  args.insert(args.end(), {"--wait", "--timeout", GoDuration(s.timeout)});
  if (s.atomic) args.push_back(helm_major >= 4 ? "--rollback-on-failure" : "--atomic");
  for (const auto& f : files) args.insert(args.end(), {"-f", f.target.string()});
  for (auto& a : SetArgs(s.set)) args.push_back(std::move(a));
  args.insert(args.end(), {"-o", "json"});
  return HelmArgv(ctx, args);
}

// Why helm could not be started, saying what to install when it is not on PATH.
Error StartError(const Error& e) {
  if (!pipeline::FindOnPath("helm").empty()) return e;
  return Error("helm is not installed or not on PATH (helm.release runs the helm CLI, 3 or 4): " + e.message);
}

// Runs helm quietly (its JSON output holds the rendered manifest: not for the console). A missing helm
// binary gets a message saying what to install.
Expected<pipeline::ProcessResult> RunHelm(const pipeline::StepContext& ctx, const std::vector<std::string>& argv,
                                          std::chrono::milliseconds timeout) {
  auto r = RunQuiet(ctx, argv, std::nullopt, timeout);
  if (!r) return tl::unexpected(StartError(r.error()));
  return r;
}

bool NotFound(const pipeline::ProcessResult& r) {
  return !r.Ok() && (r.err.find("release: not found") != std::string::npos ||
                     r.err.find("Release not loaded") != std::string::npos);
}

// What the release object (`helm upgrade -o json`) says about a release.
struct Live {
  bool exists = false;
  int revision = 0;
  std::string status, chart_name, chart_version;
};

Live FromReleaseJson(const Json& j) {
  Live live;
  live.exists = true;
  live.revision = j.value("version", 0);
  if (auto info = j.find("info"); info != j.end() && info->is_object()) live.status = info->value("status", "");
  if (auto chart = j.find("chart"); chart != j.end() && chart->is_object())
    if (auto meta = chart->find("metadata"); meta != chart->end() && meta->is_object()) {
      live.chart_name = meta->value("name", "");
      live.chart_version = meta->value("version", "");
    }
  return live;
}

// `helm get metadata -o json` (helm >= 3.13 and 4): {name, chart, version, appVersion, revision, status, ...}.
// `helm status -o json` no longer carries the chart in helm 3.21 and 4, so it cannot tell the version.
Live FromMetadataJson(const Json& j) {
  Live live;
  live.exists = true;
  live.revision = j.value("revision", 0);
  live.status = j.value("status", "");
  live.chart_name = j.value("chart", "");
  live.chart_version = j.value("version", "");
  return live;
}

Expected<Live> GetRelease(const pipeline::StepContext& ctx, const Settings& s) {
  auto argv = HelmArgv(ctx, {"get", "metadata", s.name, "-n", s.ns, "-o", "json"});
  auto r = RunHelm(ctx, argv, kProbeTimeout);
  if (!r) return tl::unexpected(r.error());
  if (NotFound(*r)) return Live{};
  if (!r->Ok()) return tl::unexpected(CommandError(argv, *r));
  Json j = Json::parse(r->out, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Fail("helm get metadata " + s.name + ": output is not JSON");
  return FromMetadataJson(j);
}

Expected<Json> GetUserValues(const pipeline::StepContext& ctx, const Settings& s) {
  auto argv = HelmArgv(ctx, {"get", "values", s.name, "-n", s.ns, "-o", "json"});
  auto r = RunHelm(ctx, argv, kProbeTimeout);
  if (!r) return tl::unexpected(r.error());
  if (!r->Ok()) return tl::unexpected(CommandError(argv, *r));
  Json j = Json::parse(r->out, nullptr, false);
  if (j.is_discarded()) return Fail("helm get values " + s.name + ": output is not JSON");
  return j;
}

Expected<Json> WantedValues(const std::vector<ValuesFile>& files, const Settings& s) {
  std::vector<std::pair<std::string, std::string>> docs;
  for (const auto& f : files) docs.emplace_back(f.source.string(), f.content);
  return HelmUserValues(docs, s.set);
}

std::string Short(const std::string& digest) { return digest.substr(0, 12); }

// helm's mergeMaps: maps merge key by key, anything else replaces.
void MergeInto(Json& base, const Json& over) {
  for (auto it = over.begin(); it != over.end(); ++it) {
    auto existing = base.find(it.key());
    if (it.value().is_object() && existing != base.end() && existing->is_object())
      MergeInto(*existing, it.value());
    else
      base[it.key()] = it.value();
  }
}

using PathPart = std::variant<std::string, size_t>;

// `a.b[0].c` (a '\' makes the next character literal, as in helm's --set keys) into its parts.
Expected<std::vector<PathPart>> ParseSetPath(const std::string& key) {
  std::vector<PathPart> parts;
  std::string cur;
  bool have = false;
  for (size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    if (c == '\\' && i + 1 < key.size()) {
      cur += key[++i];
      have = true;
    } else if (c == '.') {
      if (have) parts.emplace_back(cur);
      else if (parts.empty() || !std::holds_alternative<size_t>(parts.back()))
        return Fail("set key '" + key + "' has an empty part");
      cur.clear();
      have = false;
    } else if (c == '[') {
      if (have) parts.emplace_back(cur);
      cur.clear();
      have = false;
      size_t close = key.find(']', i);
      std::string digits = close == std::string::npos ? "" : key.substr(i + 1, close - i - 1);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 5)
        return Fail("set key '" + key + "' has a bad list index");
      parts.emplace_back(static_cast<size_t>(std::stoul(digits)));
      i = close;
    } else {
      cur += c;
      have = true;
    }
  }
  if (have) parts.emplace_back(cur);
  if (parts.empty()) return Fail("set key '" + key + "' is empty");
  return parts;
}

void SetAt(Json& node, const std::vector<PathPart>& path, size_t i, const Json& value) {
  if (i == path.size()) {
    node = value;
    return;
  }
  if (const auto* key = std::get_if<std::string>(&path[i])) {
    if (!node.is_object()) node = Json::object();
    SetAt(node[*key], path, i + 1, value);
  } else {
    size_t index = std::get<size_t>(path[i]);
    if (!node.is_array()) node = Json::array();
    while (node.size() <= index) node.push_back(nullptr);
    SetAt(node[index], path, i + 1, value);
  }
}

// The value helm stores for a set entry: --set types true/false/null/integers and keeps the rest as text.
Json StoredSetValue(const Json& v) {
  switch (FlagFor(v)) {
    case SetFlag::kJson:
    case SetFlag::kString:
      return v;
    case SetFlag::kPlain:
      break;
  }
  if (v.is_boolean() || v.is_null() || v.is_number_integer()) return v;
  std::string text = SetText(v);
  Json parsed = Json::parse(text, nullptr, false);
  if (!parsed.is_discarded() && parsed.is_number_integer() && (text == "0" || text[0] != '0')) return parsed;
  return text;
}

Json Canonical(const Json& v) {
  if (v.is_object()) {
    Json out = Json::object();
    for (auto it = v.begin(); it != v.end(); ++it) out[it.key()] = Canonical(it.value());
    return out;
  }
  if (v.is_array()) {
    Json out = Json::array();
    for (const auto& e : v) out.push_back(Canonical(e));
    return out;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    // helm keeps YAML numbers as float64 and prints 2.0 as 2.
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<long long>(d);
  }
  return v;
}

Expected<void> RunChange(const pipeline::StepContext& ctx, const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout) {
  pipeline::ProcessSpec p;
  p.argv = argv;
  p.timeout = timeout;
  auto r = ctx.Run(p);
  if (!r) return tl::unexpected(StartError(r.error()));
  if (!r->Ok()) return tl::unexpected(CommandError(argv, *r));
  return {};
}

}  // namespace

std::string GoDuration(std::chrono::milliseconds d) {
  long long total = d.count();
  if (total == 0) return "0s";
  std::string out = total < 0 ? "-" : "";
  if (total < 0) total = -total;
  if (total < 1000) return out + std::to_string(total) + "ms";
  long long h = total / 3600000, m = total / 60000 % 60, s = total / 1000 % 60, frac = total % 1000;
  if (h) out += std::to_string(h) + "h" + std::to_string(m) + "m";
  else if (m) out += std::to_string(m) + "m";
  out += std::to_string(s);
  if (frac) {
    std::string f = std::to_string(frac);
    f = std::string(3 - f.size(), '0') + f;
    while (!f.empty() && f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out + "s";
}

Expected<Json> HelmUserValues(const std::vector<std::pair<std::string, std::string>>& documents, const Json& set) {
  Json merged = Json::object();
  for (const auto& [name, text] : documents) {
    YAML::Node node;
    try {
      node = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      return Fail("values file " + name + " is not valid YAML after rendering (line " + std::to_string(e.mark.line + 1) +
                  "): " + e.msg);
    }
    if (!node || node.IsNull()) continue;
    if (!node.IsMap()) return Fail("values file " + name + " must be a YAML mapping (key: value)");
    MergeInto(merged, pipeline::YamlToJson(node, name, "", nullptr));
  }
  if (!set.is_object()) return merged;
  for (SetFlag pass : {SetFlag::kJson, SetFlag::kPlain, SetFlag::kString}) {
    for (auto it = set.begin(); it != set.end(); ++it) {
      if (FlagFor(it.value()) != pass) continue;
      auto path = ParseSetPath(it.key());
      if (!path) return tl::unexpected(path.error());
      SetAt(merged, *path, 0, StoredSetValue(it.value()));
    }
  }
  return merged;
}

std::string HelmValuesDigest(const Json& values) {
  Json c = values.is_null() ? Json::object() : Canonical(values);
  return pipeline::Sha256Hex(c.dump());
}

void HelmReleaseStep::Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const {
  CheckWithKeys(step, diag,
                {"name", "chart", "repo", "version", "namespace", "create_namespace", "values", "set", "timeout", "atomic",
                 "plain_http"},
                {"name", "chart", "namespace"});
  CheckWithDuration(step, diag, "timeout");
  auto w = step.body.value("with", Json::object());
  if (!w.is_object()) return;
  if (auto it = w.find("set"); it != w.end() && !it->is_object())
    diag.Error(step.LocOf("/with/set"), "expected 'with.set' to be a mapping of dotted keys to values",
               "e.g. set: {grafana.enabled: true, image.tag: \"1.2.3\"}");
  if (auto it = w.find("values"); it != w.end() && !it->is_string() && !it->is_array())
    diag.Error(step.LocOf("/with/values"), "expected 'with.values' to be a values file or a list of them",
               "e.g. values: [templates/observability/prometheus-values.yaml]");
  for (const char* key : {"name", "chart", "namespace"})
    if (auto it = w.find(key); it != w.end() && (it->is_null() || (it->is_string() && it->get<std::string>().empty())))
      diag.Error(step.LocOf("/with/" + std::string(key)), "'with." + std::string(key) + "' must not be empty");
  // With --repo URL helm looks the chart argument up in that repository's index as it is: an alias
  // prefix ("prometheus-community/kube-prometheus-stack") is never found there.
  auto chart = w.find("chart");
  if (w.contains("repo") && chart != w.end() && chart->is_string()) {
    const std::string& c = chart->get_ref<const std::string&>();
    if (!pipeline::HasTemplate(c) && c.find('/') != std::string::npos && c.rfind("oci://", 0) != 0)
      diag.Error(step.LocOf("/with/chart"),
                 "'with.chart: " + c + "' names a repository alias, but 'with.repo' already gives the repository: helm "
                 "would look '" + c + "' up in that repository's index and fail with \"not found\"",
                 "use the bare chart name: chart: " + c.substr(c.rfind('/') + 1));
  }
  if (w.contains("repo") && chart != w.end() && chart->is_string() &&
      chart->get_ref<const std::string&>().rfind("oci://", 0) == 0)
    diag.Error(step.LocOf("/with/repo"), "'with.repo' does not go with an oci:// chart",
               "an OCI chart names its registry itself: drop 'with.repo'");
  if (auto p = w.find("plain_http"); p != w.end() && p->is_boolean() && p->get<bool>() && chart != w.end() &&
      chart->is_string() && !pipeline::HasTemplate(chart->get_ref<const std::string&>()) &&
      chart->get_ref<const std::string&>().rfind("oci://", 0) != 0)
    diag.Error(step.LocOf("/with/plain_http"), "'with.plain_http' only applies to an oci:// chart",
               "a chart repository given by 'with.repo' says http:// or https:// in its URL");
}

std::vector<std::filesystem::path> HelmReleaseStep::ReferencedFiles(const pipeline::StepSpec&, const Json& rendered,
                                                                    const std::filesystem::path& plan_dir) const {
  auto ctx = BodyContext(rendered, plan_dir);
  auto patterns = GetStringList(ctx.With(), "values");
  if (patterns.empty()) return {};
  auto files = ExpandGlobs(ctx, patterns);
  if (files) return *files;
  // A missing file still counts: when it appears, the fingerprint changes.
  std::vector<std::filesystem::path> out;
  for (const auto& p : patterns) out.push_back(LocalOrShipped(ctx, p));
  return out;
}

std::vector<std::string> HelmReleaseStep::Describe(const pipeline::StepContext& ctx) const {
  Settings s = ReadSettings(ctx);
  auto files = RenderValues(ctx, s);
  int major = s.atomic ? HelmMajor(ctx) : 0;
  if (!files) return {pipeline::QuoteArgv(UpgradeArgv(ctx, s, {}, major)), "error: " + files.error().message};
  std::vector<std::string> lines{pipeline::QuoteArgv(UpgradeArgv(ctx, s, *files, major))};
  for (const auto& f : *files) {
    std::string body = f.content;
    if (!body.empty() && body.back() != '\n') body += '\n';
    lines.push_back("# " + f.target.string() + " (rendered from " + f.source.string() + "):\n" + body);
  }
  return lines;
}

Expected<pipeline::Probe> HelmReleaseStep::Check(const pipeline::StepContext& ctx) const {
  using State = pipeline::Probe::State;
  Settings s = ReadSettings(ctx);
  auto files = RenderValues(ctx, s);
  if (!files) return tl::unexpected(files.error());
  auto wanted = WantedValues(*files, s);
  if (!wanted) return tl::unexpected(wanted.error());
  bool dry = ctx.mode == pipeline::Mode::kDryRun;
  auto live = GetRelease(ctx, s);
  if (!live) {
    if (dry) return NotChecked(live.error(), &ctx);
    return tl::unexpected(live.error());
  }
  if (!live->exists)
    return pipeline::Probe{State::kChanges, "would install release " + s.name + " (chart " + s.chart +
                                                (s.version.empty() ? "" : " " + s.version) + ") in namespace " + s.ns};
  auto current = GetUserValues(ctx, s);
  if (!current) {
    if (dry) return NotChecked(current.error(), &ctx);
    return tl::unexpected(current.error());
  }
  std::vector<std::string> diffs;
  if (live->status != "deployed") diffs.push_back("status " + (live->status.empty() ? "unknown" : live->status));
  if (!s.version.empty() && live->chart_version != s.version)
    diffs.push_back("chart version " + live->chart_version + " → " + s.version);
  std::string have = HelmValuesDigest(*current), want = HelmValuesDigest(*wanted);
  if (have != want) diffs.push_back("values digest " + Short(have) + " → " + Short(want));
  std::string where = " (revision " + std::to_string(live->revision) + ", chart " + live->chart_name + " " +
                      live->chart_version + ")";
  if (diffs.empty())
    return pipeline::Probe{State::kInSync, "release " + s.name + " is deployed" + where + " with the same values",
                           {{"revision", std::to_string(live->revision)},
                            {"status", live->status},
                            {"chart_version", live->chart_version},
                            {"values_digest", have}}};
  std::string what;
  for (const auto& d : diffs) what += (what.empty() ? "" : "; ") + d;
  return pipeline::Probe{State::kChanges, "would upgrade release " + s.name + where + ": " + what};
}

std::vector<std::string> HelmReleaseStep::Provides(const pipeline::StepContext& ctx) const {
  Settings s = ReadSettings(ctx);
  std::vector<std::string> out;
  if (s.create_namespace && !s.ns.empty()) out.push_back("namespace/" + s.ns);
  // The chart's CRDs (its crds/ directories, subcharts' included), read without installing anything.
  std::vector<std::string> args{"show", "crds", s.chart};
  if (!s.repo.empty()) args.insert(args.end(), {"--repo", s.repo});
  if (!s.version.empty()) args.insert(args.end(), {"--version", s.version});
  if (s.plain_http) args.push_back("--plain-http");
  auto r = RunQuiet(ctx, HelmArgv(ctx, args), std::nullopt, std::chrono::seconds(60));
  if (!r || !r->Ok()) return out;
  try {
    for (const auto& doc : YAML::LoadAll(r->out)) {
      if (!doc.IsMap() || doc["kind"].as<std::string>("") != "CustomResourceDefinition") continue;
      auto spec = doc["spec"];
      if (spec && spec["group"] && spec["names"] && spec["names"]["kind"])
        out.push_back("kind/" + spec["group"].as<std::string>("") + "/" + spec["names"]["kind"].as<std::string>(""));
    }
  } catch (const YAML::Exception&) {
  }
  return out;
}

Expected<pipeline::ApplyResult> HelmReleaseStep::Apply(const pipeline::StepContext& ctx) const {
  Settings s = ReadSettings(ctx);
  auto files = RenderValues(ctx, s);
  if (!files) return tl::unexpected(files.error());
  auto wanted = WantedValues(*files, s);
  if (!wanted) return tl::unexpected(wanted.error());
  auto before = GetRelease(ctx, s);
  if (!before) return tl::unexpected(before.error());
  for (const auto& f : *files)
    if (auto w = WritePrivate(f.target, f.content); !w) return tl::unexpected(w.error());

  Json rollback{{"name", s.name}, {"namespace", s.ns}, {"timeout", GoDuration(s.timeout)}};
  if (before->exists)
    rollback["previous_revision"] = before->revision;
  else
    rollback["installed"] = true;

  auto argv = UpgradeArgv(ctx, s, *files, s.atomic ? HelmMajor(ctx) : 0);
  ctx.Log("$ " + pipeline::QuoteArgv(argv));
  auto r = RunHelm(ctx, argv, ctx.timeout.count() > 0 ? ctx.timeout : s.timeout + kHelmMargin);
  if (!r) return tl::unexpected(r.error());
  if (!r->Ok()) return tl::unexpected(CommandError(argv, *r));

  Json j = Json::parse(r->out, nullptr, false);
  Live after;
  if (!j.is_discarded() && j.is_object() && j.contains("version")) {
    after = FromReleaseJson(j);
  } else {
    // Not the JSON release object (an older helm ignoring -o): ask for it.
    auto live = GetRelease(ctx, s);
    if (!live) return tl::unexpected(live.error());
    after = *live;
  }
  std::string digest = HelmValuesDigest(*wanted);
  pipeline::ApplyResult out;
  out.outputs = {{"revision", std::to_string(after.revision)},
                 {"status", after.status},
                 {"chart_version", after.chart_version},
                 {"values_digest", digest}};
  out.rollback = rollback;
  std::string chart = after.chart_name.empty() ? s.chart : after.chart_name;
  out.summary = std::string(before->exists ? "upgraded" : "installed") + " release " + s.name + " (revision " +
                std::to_string(after.revision) + ", chart " + chart + " " + after.chart_version + ", " + after.status + ")";
  return out;
}

Expected<void> HelmReleaseStep::Rollback(const pipeline::StepContext& ctx, const Json& data) const {
  std::string name = data.value("name", ""), ns = data.value("namespace", "");
  if (name.empty() || ns.empty()) return Fail("rollback data names no release");
  std::string timeout = data.value("timeout", GoDuration(GetDuration(ctx.With(), "timeout", kDefaultTimeout)));
  auto limit = pipeline::ParseDuration(timeout);
  auto budget = (limit ? *limit : kDefaultTimeout) + kHelmMargin;
  if (data.value("installed", false)) {
    auto argv = HelmArgv(ctx, {"uninstall", name, "-n", ns, "--wait"});
    pipeline::ProcessSpec p;
    p.argv = argv;
    p.timeout = budget;
    auto r = ctx.Run(p);
    if (!r) return tl::unexpected(StartError(r.error()));
    if (r->Ok() || NotFound(*r)) return {};
    return tl::unexpected(CommandError(argv, *r));
  }
  if (!data.contains("previous_revision")) return Fail("rollback data has neither previous_revision nor installed");
  std::string revision = pipeline::ValueText(data["previous_revision"]);
  return RunChange(ctx, HelmArgv(ctx, {"rollback", name, revision, "-n", ns, "--wait", "--timeout", timeout}), budget);
}

}  // namespace slipway::steps
