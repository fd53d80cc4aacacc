#include "steps/mesh_linkerd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "steps/kube.h"
#include "steps/manifest.h"
#include "steps/mesh_common.h"
#include "steps/with.h"

namespace slipway::steps {

namespace {

constexpr const char* kStateKind = "mesh-linkerd";
constexpr std::chrono::minutes kDefaultTimeout{10};
constexpr std::chrono::hours kDefaultValidity{8760};
constexpr std::chrono::seconds kProbeTimeout{60};
constexpr std::chrono::seconds kOpensslTimeout{60};
constexpr const char* kRootName = "root.linkerd.cluster.local";
constexpr const char* kIssuerName = "identity.linkerd.cluster.local";

// Extensions of the generated certificates, as linkerd's docs make them with `step certificate create
// --profile root-ca` and `--profile intermediate-ca`.
constexpr const char* kOpensslConfig = R"([req]
distinguished_name = dn
[dn]
[root_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[issuer_ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
)";

struct Settings {
  std::string version;
  bool ha = false;
  std::string anchor_cert, anchor_key, issuer_cert, issuer_key;  // as given (empty: generate)
  std::chrono::milliseconds validity{kDefaultValidity};
  std::chrono::milliseconds timeout{kDefaultTimeout};
};

Settings Read(const pipeline::StepContext& ctx) {
  const Json& w = ctx.With();
  Settings s;
  s.version = GetString(w, "version");
  s.ha = GetBool(w, "ha", false);
  if (auto it = w.find("trust_anchor"); it != w.end() && it->is_object()) {
    s.anchor_cert = GetString(*it, "cert");
    s.anchor_key = GetString(*it, "key");
  }
  if (auto it = w.find("issuer"); it != w.end() && it->is_object()) {
    s.issuer_cert = GetString(*it, "cert");
    s.issuer_key = GetString(*it, "key");
  }
  s.validity = GetDuration(w, "cert_validity", kDefaultValidity);
  s.timeout = GetDuration(w, "timeout", kDefaultTimeout);
  return s;
}

std::string Absolute(const pipeline::StepContext& ctx, const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::absolute(ctx.Resolve(path), ec);
  return ec ? ctx.Resolve(path).string() : p.lexically_normal().string();
}

// The four files `linkerd install` is given, and which of them slipway makes.
struct Certs {
  std::filesystem::path dir;
  std::string ca_crt, ca_key, issuer_crt, issuer_key;
  bool generate_anchor = false, generate_issuer = false;
};

Certs CertPaths(const pipeline::StepContext& ctx, const Settings& s) {
  Certs c;
  c.dir = MeshStepDir(ctx, kStateKind);
  c.generate_anchor = s.anchor_cert.empty();
  c.generate_issuer = s.issuer_cert.empty();
  c.ca_crt = c.generate_anchor ? (c.dir / "ca.crt").string() : Absolute(ctx, s.anchor_cert);
  c.ca_key = c.generate_anchor ? (c.dir / "ca.key").string() : (s.anchor_key.empty() ? "" : Absolute(ctx, s.anchor_key));
  c.issuer_crt = c.generate_issuer ? (c.dir / "issuer.crt").string() : Absolute(ctx, s.issuer_cert);
  c.issuer_key = c.generate_issuer ? (c.dir / "issuer.key").string() : Absolute(ctx, s.issuer_key);
  return c;
}

long ValidityDays(const Settings& s) {
  constexpr long kDayMs = 24L * 3600 * 1000;
  long days = static_cast<long>((s.validity.count() + kDayMs - 1) / kDayMs);
  return days < 1 ? 1 : days;
}

std::string Config(const Certs& c) { return (c.dir / "openssl.cnf").string(); }

// The openssl commands that make the anchor (key, self-signed certificate), writing to `crt`/`key`.
std::vector<std::vector<std::string>> AnchorCommands(const Certs& c, const Settings& s, const std::string& crt,
                                                     const std::string& key) {
  return {{"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key},
          {"openssl", "req", "-x509", "-new", "-key", key, "-sha256", "-days", std::to_string(ValidityDays(s)), "-subj",
           std::string("/CN=") + kRootName, "-config", Config(c), "-extensions", "root_ca", "-out", crt}};
}

// The openssl commands that make the issuer (key, request, certificate signed by the anchor).
std::vector<std::vector<std::string>> IssuerCommands(const Certs& c, const Settings& s, const std::string& crt,
                                                     const std::string& key) {
  std::string csr = (c.dir / "issuer.csr").string();
  return {{"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key},
          {"openssl", "req", "-new", "-key", key, "-sha256", "-subj", std::string("/CN=") + kIssuerName, "-config",
           Config(c), "-out", csr},
          {"openssl", "x509", "-req", "-in", csr, "-CA", c.ca_crt, "-CAkey", c.ca_key, "-CAserial",
           (c.dir / "ca.srl").string(), "-CAcreateserial", "-days", std::to_string(ValidityDays(s)), "-sha256",
           "-extfile", Config(c), "-extensions", "issuer_ca", "-out", crt}};
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) > 0;
}

// An empty file only its owner can read, for openssl to write a key into (it keeps the mode).
Expected<void> CreatePrivateFile(const std::string& path) {
  ::unlink(path.c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Fail("cannot create " + path + ": " + std::strerror(errno));
  ::close(fd);
  return {};
}

Expected<void> RunOpenssl(const pipeline::StepContext& ctx, const std::vector<std::vector<std::string>>& commands) {
  for (const auto& argv : commands) {
    if (argv[1] == "ecparam")
      if (auto made = CreatePrivateFile(argv.back()); !made) return made;
    auto r = RunOk(ctx, argv, std::nullopt, kOpensslTimeout, Echo::kQuiet);
    if (!r) return tl::unexpected(r.error());
  }
  return {};
}

Expected<void> Rename(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::rename(from, to, ec);
  if (ec) return Fail("cannot rename " + from + " to " + to + ": " + ec.message());
  return {};
}

// Whether the issuer certificate chains to the anchor and is within its validity period.
bool IssuerVerifies(const pipeline::StepContext& ctx, const Certs& c) {
  auto r = RunQuiet(ctx, {"openssl", "verify", "-CAfile", c.ca_crt, c.issuer_crt}, std::nullopt, kOpensslTimeout);
  return r && r->Ok();
}

// Makes the certificates that were not given (reusing earlier ones that are still good). Only paths
// are logged; keys are created 0600 in a 0700 directory before openssl writes them.
Expected<void> EnsureCerts(const pipeline::StepContext& ctx, const Settings& s, const Certs& c) {
  if (!c.generate_anchor && !c.generate_issuer) return {};
  if (auto made = MakePrivateDir(c.dir); !made) return made;
  {
    std::ofstream cnf(Config(c), std::ios::trunc);
    cnf << kOpensslConfig;
    if (!cnf.flush()) return Fail("cannot write " + Config(c));
  }
  bool new_anchor = false;
  if (c.generate_anchor && !(Exists(c.ca_crt) && Exists(c.ca_key))) {
    // Written under temporary names and renamed, so a crash never leaves a key without its certificate.
    std::string crt = c.ca_crt + ".tmp", key = c.ca_key + ".tmp";
    if (auto r = RunOpenssl(ctx, AnchorCommands(c, s, crt, key)); !r) return r;
    if (auto r = Rename(key, c.ca_key); !r) return r;
    if (auto r = Rename(crt, c.ca_crt); !r) return r;
    ctx.Log("generated the trust anchor " + c.ca_crt + " (CN " + kRootName + ", ECDSA P-256, " +
            std::to_string(ValidityDays(s)) + " days)");
    new_anchor = true;
  }
  if (c.generate_issuer) {
    if (!new_anchor && Exists(c.issuer_crt) && Exists(c.issuer_key) && IssuerVerifies(ctx, c)) return {};
    if (c.ca_key.empty() || !Exists(c.ca_key))
      return Fail("cannot generate the issuer certificate: the trust anchor's key " +
                  (c.ca_key.empty() ? std::string("is not given (with.trust_anchor.key)") : c.ca_key + " is missing"));
    std::string crt = c.issuer_crt + ".tmp", key = c.issuer_key + ".tmp";
    if (auto r = RunOpenssl(ctx, IssuerCommands(c, s, crt, key)); !r) return r;
    std::error_code ec;
    std::filesystem::remove(c.dir / "issuer.csr", ec);
    if (auto r = Rename(key, c.issuer_key); !r) return r;
    if (auto r = Rename(crt, c.issuer_crt); !r) return r;
    ctx.Log("generated the issuer certificate " + c.issuer_crt + " (CN " + kIssuerName + ", signed by " + c.ca_crt + ")");
  }
  return {};
}

// SHA-256 of the anchor certificate (DER), as openssl prints it: "AB:CD:...". Not secret.
Expected<std::string> Fingerprint(const pipeline::StepContext& ctx, const std::string& cert) {
  std::vector<std::string> argv{"openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"};
  auto r = RunOk(ctx, argv, std::nullopt, kOpensslTimeout, Echo::kQuiet);
  if (!r) return tl::unexpected(r.error());
  auto eq = r->out.find('=');
  if (eq == std::string::npos) return Fail("openssl x509 -fingerprint: unexpected output");
  std::string fp = r->out.substr(eq + 1);
  while (!fp.empty() && (fp.back() == '\n' || fp.back() == '\r' || fp.back() == ' ')) fp.pop_back();
  return fp;
}

std::vector<std::string> ApplyArgv(const pipeline::StepContext& ctx) {
  return KubectlArgv(ctx, {"apply", "--server-side", "--field-manager=slipway", "-f", "-"});
}
std::vector<std::string> DeleteArgv(const pipeline::StepContext& ctx) {
  return KubectlArgv(ctx, {"delete", "--ignore-not-found", "-f", "-"});
}
std::vector<std::string> CrdsArgv(const pipeline::StepContext& ctx, const std::string& verb) {
  return ContextArgv(ctx, "linkerd", {verb, "--crds"});
}
std::vector<std::string> InstallArgv(const pipeline::StepContext& ctx, const Settings& s, const Certs& c) {
  std::vector<std::string> args{"install", "--identity-trust-anchors-file", c.ca_crt, "--identity-issuer-certificate-file",
                                c.issuer_crt, "--identity-issuer-key-file", c.issuer_key};
  if (s.ha) args.push_back("--ha");
  return ContextArgv(ctx, "linkerd", args);
}
std::vector<std::string> UpgradeArgv(const pipeline::StepContext& ctx, const Settings& s) {
  std::vector<std::string> args{"upgrade"};
  if (s.ha) args.push_back("--ha");
  return ContextArgv(ctx, "linkerd", args);
}
std::vector<std::string> CheckArgv(const pipeline::StepContext& ctx) { return ContextArgv(ctx, "linkerd", {"check"}); }
std::vector<std::string> UninstallArgv(const pipeline::StepContext& ctx) {
  return ContextArgv(ctx, "linkerd", {"uninstall"});
}

struct Versions {
  std::string client, server;  // server empty: no control plane
};

// `linkerd version`: "Client version: X" and "Server version: Y" ("unavailable" without a control plane).
Expected<Versions> Look(const pipeline::StepContext& ctx) {
  auto argv = ContextArgv(ctx, "linkerd", {"version"});
  auto r = RunQuiet(ctx, argv, std::nullopt, kProbeTimeout);
  if (!r) return tl::unexpected(r.error());
  if (!r->Ok()) return tl::unexpected(CommandError(argv, *r));
  Versions v;
  std::istringstream in(r->out);
  for (std::string line; std::getline(in, line);) {
    auto value = [&](const std::string& prefix) {
      std::string rest = line.substr(prefix.size());
      while (!rest.empty() && (rest.back() == '\r' || rest.back() == ' ')) rest.pop_back();
      while (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
      return rest;
    };
    if (line.rfind("Client version:", 0) == 0) v.client = value("Client version:");
    if (line.rfind("Server version:", 0) == 0) v.server = value("Server version:");
  }
  if (v.server == "unavailable") v.server.clear();
  if (v.client.empty()) return Fail("linkerd version: no client version in its output");
  return v;
}

enum class Action { kNone, kInstall, kUpgrade };

Action Needed(const Settings& s, const Versions& v) {
  if (v.server.empty()) return Action::kInstall;
  if (!s.version.empty() && !VersionMatches(s.version, v.server)) return Action::kUpgrade;
  return Action::kNone;
}

Expected<void> Uninstall(const pipeline::StepContext& ctx, std::chrono::milliseconds timeout) {
  return PipeIntoKubectl(ctx, UninstallArgv(ctx), DeleteArgv(ctx), timeout, EmptyOutput::kNothing);
}

tl::unexpected<Error> FailAndUninstall(const pipeline::StepContext& ctx, const Error& cause,
                                       std::chrono::milliseconds timeout) {
  auto undone = Uninstall(ctx, timeout);
  if (undone) return Fail(cause.message + " (removed what this attempt installed: linkerd uninstall | kubectl delete)");
  return Fail(cause.message + " (linkerd uninstall failed too: " + undone.error().message + ")");
}

}  // namespace

void MeshLinkerdStep::Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const {
  CheckWithKeys(step, diag, {"version", "ha", "trust_anchor", "issuer", "cert_validity", "timeout"});
  CheckWithDuration(step, diag, "cert_validity");
  CheckWithDuration(step, diag, "timeout");
  const Json w = step.body.value("with", Json::object());
  for (const char* what : {"trust_anchor", "issuer"}) {
    if (!w.contains(what)) continue;
    const Json& v = w[what];
    std::string where = std::string("/with/") + what;
    if (!v.is_object() || !v.contains("cert")) {
      diag.Error(step.LocOf(where), std::string("expected 'with.") + what + "' to be {cert: FILE, key: FILE}");
      continue;
    }
    for (auto it = v.begin(); it != v.end(); ++it)
      if (it.key() != "cert" && it.key() != "key")
        diag.Error(step.LocOf(where + "/" + it.key()), "unknown key '" + it.key() + "' in 'with." + what + "'",
                   "expected cert and key");
    if (std::string(what) == "issuer" && !v.contains("key"))
      diag.Error(step.LocOf(where), "'with.issuer' needs 'key' (linkerd signs workload certificates with it)");
  }
  if (w.contains("issuer") && !w.contains("trust_anchor"))
    diag.Error(step.LocOf("/with/issuer"), "'with.issuer' is given without 'with.trust_anchor'",
               "give the anchor that signed the issuer, or neither (slipway then generates both)");
  if (w.contains("trust_anchor") && !w.contains("issuer") && w["trust_anchor"].is_object() &&
      !w["trust_anchor"].contains("key"))
    diag.Error(step.LocOf("/with/trust_anchor"),
               "'with.trust_anchor' needs 'key' when no issuer is given (slipway signs a generated issuer with it)");
}

std::vector<std::filesystem::path> MeshLinkerdStep::ReferencedFiles(const pipeline::StepSpec&, const Json& rendered,
                                                                    const std::filesystem::path& plan_dir) const {
  auto ctx = BodyContext(rendered, plan_dir);
  Settings s = Read(ctx);
  std::vector<std::filesystem::path> out;
  // Certificates only: keys are secret and change with the certificate anyway.
  if (!s.anchor_cert.empty()) out.push_back(ctx.Resolve(s.anchor_cert));
  if (!s.issuer_cert.empty()) out.push_back(ctx.Resolve(s.issuer_cert));
  return out;
}

std::vector<std::string> MeshLinkerdStep::Describe(const pipeline::StepContext& ctx) const {
  Settings s = Read(ctx);
  Certs c = CertPaths(ctx, s);
  std::vector<std::string> lines;
  if (c.generate_anchor)
    for (const auto& argv : AnchorCommands(c, s, c.ca_crt, c.ca_key))
      lines.push_back(pipeline::QuoteArgv(argv) + "   (unless " + c.ca_crt + " exists)");
  if (c.generate_issuer)
    for (const auto& argv : IssuerCommands(c, s, c.issuer_crt, c.issuer_key))
      lines.push_back(pipeline::QuoteArgv(argv) + "   (unless " + c.issuer_crt + " exists and verifies)");
  lines.push_back(QuotePipe(CrdsArgv(ctx, "install"), ApplyArgv(ctx)) + "   (when linkerd is not installed)");
  lines.push_back(QuotePipe(InstallArgv(ctx, s, c), ApplyArgv(ctx)) +
                  "   (manifests not shown: they hold the issuer key)");
  if (!s.version.empty())
    lines.push_back(QuotePipe(CrdsArgv(ctx, "upgrade"), ApplyArgv(ctx)) + " and " +
                    QuotePipe(UpgradeArgv(ctx, s), ApplyArgv(ctx)) + "   (when another version is installed)");
  lines.push_back(pipeline::QuoteArgv(CheckArgv(ctx)));
  return lines;
}

Expected<pipeline::Probe> MeshLinkerdStep::Check(const pipeline::StepContext& ctx) const {
  Settings s = Read(ctx);
  auto v = Look(ctx);
  if (!v) {
    if (ctx.mode == pipeline::Mode::kDryRun)
      return NotChecked(v.error());
    return tl::unexpected(v.error());
  }
  switch (Needed(s, *v)) {
    case Action::kInstall: {
      Certs c = CertPaths(ctx, s);
      std::string certs = c.generate_anchor ? "generated certificates in " + c.dir.string() : "the given certificates";
      return pipeline::Probe{pipeline::Probe::State::kChanges, "would install linkerd " +
                                                                   (s.version.empty() ? v->client : s.version) +
                                                                   (s.ha ? " (HA)" : "") + " with " + certs};
    }
    case Action::kUpgrade:
      return pipeline::Probe{pipeline::Probe::State::kChanges, "would upgrade linkerd " + v->server + " to " + s.version};
    case Action::kNone:
      break;
  }
  pipeline::Probe in_sync{pipeline::Probe::State::kInSync, "linkerd " + v->server + " installed",
                          {{"version", v->server}, {"installed", "false"}, {"trust_anchor_fingerprint", ""}}};
  if (Certs c = CertPaths(ctx, s); Exists(c.ca_crt))
    if (auto fp = Fingerprint(ctx, c.ca_crt)) in_sync.outputs["trust_anchor_fingerprint"] = *fp;
  return in_sync;
}

Expected<pipeline::ApplyResult> MeshLinkerdStep::Apply(const pipeline::StepContext& ctx) const {
  Settings s = Read(ctx);
  auto v = Look(ctx);
  if (!v) return tl::unexpected(v.error());
  Action action = Needed(s, *v);
  if (action != Action::kNone && !s.version.empty() && !VersionMatches(s.version, v->client))
    return Fail("the linkerd CLI on PATH is " + v->client + " but the plan wants " + s.version +
                ": linkerd installs its own version, so put linkerd " + s.version + " on PATH");
  Certs c = CertPaths(ctx, s);
  Json data{{"installed", false}};
  std::string version = v->server;
  if (action == Action::kInstall) {
    // No control plane answers, yet its namespace exists: a broken or partial install that is not this
    // attempt's to remove (a failure would uninstall it). The operator decides.
    auto ns_argv = KubectlArgv(ctx, {"get", "namespace", "linkerd", "-o", "name", "--ignore-not-found"});
    auto ns = RunQuiet(ctx, ns_argv, std::nullopt, kProbeTimeout);
    if (!ns) return tl::unexpected(ns.error());
    if (!ns->Ok()) return tl::unexpected(CommandError(ns_argv, *ns));
    if (ns->out.find_first_not_of(" \n") != std::string::npos)
      return Fail("namespace linkerd exists but `linkerd version` reports no control plane (a broken or partial "
                  "install): repair it, or remove it with `linkerd uninstall | kubectl delete -f -`, then run again");
    if (auto made = EnsureCerts(ctx, s, c); !made) return tl::unexpected(made.error());
    // From here on a failure leaves pieces of a control plane nobody had before: they are ours to remove.
    if (auto r = PipeIntoKubectl(ctx, CrdsArgv(ctx, "install"), ApplyArgv(ctx), s.timeout); !r)
      return FailAndUninstall(ctx, r.error(), s.timeout);
    if (auto r = PipeIntoKubectl(ctx, InstallArgv(ctx, s, c), ApplyArgv(ctx), s.timeout); !r)
      return FailAndUninstall(ctx, r.error(), s.timeout);
    if (auto r = RunOk(ctx, CheckArgv(ctx), std::nullopt, s.timeout, Echo::kStream); !r)
      return FailAndUninstall(ctx, r.error(), s.timeout);
    data["installed"] = true;
    version = v->client;
  } else if (action == Action::kUpgrade) {
    // An upgrade cannot be undone by uninstalling (the mesh was there before); it is left in place.
    if (auto r = PipeIntoKubectl(ctx, CrdsArgv(ctx, "upgrade"), ApplyArgv(ctx), s.timeout); !r)
      return tl::unexpected(r.error());
    if (auto r = PipeIntoKubectl(ctx, UpgradeArgv(ctx, s), ApplyArgv(ctx), s.timeout); !r)
      return tl::unexpected(r.error());
    if (auto r = RunOk(ctx, CheckArgv(ctx), std::nullopt, s.timeout, Echo::kStream); !r)
      return Fail(r.error().message + " (the upgraded control plane was left in place)");
    version = v->client;
  }
  std::string fingerprint;
  if (Exists(c.ca_crt)) {
    auto fp = Fingerprint(ctx, c.ca_crt);
    if (!fp) {
      if (data["installed"].get<bool>()) return FailAndUninstall(ctx, fp.error(), s.timeout);
      return tl::unexpected(fp.error());
    }
    fingerprint = *fp;
  }
  pipeline::ApplyResult out;
  out.outputs = {{"version", version},
                 {"installed", data["installed"].get<bool>() ? "true" : "false"},
                 {"trust_anchor_fingerprint", fingerprint}};
  if (data["installed"].get<bool>()) out.rollback = data;  // else null: nothing of this run to undo
  out.summary = action == Action::kInstall   ? "installed linkerd " + version
                : action == Action::kUpgrade ? "upgraded linkerd " + v->server + " to " + version
                                             : "linkerd " + version + " already installed";
  return out;
}

Expected<void> MeshLinkerdStep::Rollback(const pipeline::StepContext& ctx, const Json& data) const {
  if (!data.value("installed", false)) return {};
  return Uninstall(ctx, GetDuration(ctx.With(), "timeout", kDefaultTimeout));
}

}  // namespace slipway::steps

namespace slipway::steps {

std::vector<std::string> MeshLinkerdStep::Provides(const pipeline::StepContext&) const {
  // What `linkerd install --crds` and `linkerd install` bring.
  return {"namespace/linkerd", "group/linkerd.io", "group/policy.linkerd.io", "group/workload.linkerd.io"};
}

}  // namespace slipway::steps
