#include "steps/service.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "pipeline/atomic_file.h"
#include "pipeline/duration.h"
#include "pipeline/sha256.h"
#include "steps/http_client.h"
#include "steps/with.h"

extern char** environ;

namespace slipway::steps {

namespace {

using Clock = std::chrono::steady_clock;

std::string ServiceName(const pipeline::StepContext& ctx) { return GetString(ctx.With(), "name", ctx.spec->id); }

std::filesystem::path InfoFile(const pipeline::StepContext& ctx, const std::string& name) {
  return ctx.state_dir / "services" / (name + ".json");
}

std::optional<Json> ReadInfo(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  Json j = Json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

// The process is alive and is still the one we started (guards against pid reuse).
bool Alive(const Json& info) {
  pid_t pid = info.value("pid", 0);
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 2));
  std::string state;
  rest >> state;
  if (state == "Z") return false;
  std::vector<std::string> fields(20);
  for (auto& f : fields) rest >> f;
  // Field 22 (starttime) follows state (3) by 19 fields.
  return info.value("starttime", std::string()) == fields[18];
}

std::string StartTime(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  size_t close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 2));
  std::string f;
  for (int i = 0; i < 20; ++i) rest >> f;
  return f;
}

std::string Definition(const pipeline::StepContext& ctx) {
  Json def = ctx.With();
  def.erase("state");
  return pipeline::Sha256Hex(def.dump()).substr(0, 16);
}

bool TcpAnswers(const std::string& host, int port, std::chrono::milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (!ok && errno == EINPROGRESS) {
    fd_set w;
    FD_ZERO(&w);
    FD_SET(fd, &w);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    if (::select(fd + 1, nullptr, &w, nullptr, &tv) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      ok = err == 0;
    }
  }
  ::close(fd);
  return ok;
}

// One readiness probe. Empty string: ready.
std::string ProbeReady(const Json& ready) {
  if (ready.contains("url")) {
    HttpRequest req;
    req.url = GetString(ready, "url");
    req.timeout = std::chrono::milliseconds(1000);
    auto r = HttpDo(req);
    if (!r) return r.error().message;
    if (r->status >= 500) return req.url + " answered " + std::to_string(r->status);
    return {};
  }
  if (ready.contains("port")) {
    std::string host = GetString(ready, "host", "127.0.0.1");
    int port = static_cast<int>(GetNumber(ready, "port").value_or(0));
    return TcpAnswers(host, port, std::chrono::milliseconds(500)) ? std::string()
                                                                   : host + ":" + std::to_string(port) + " refuses connections";
  }
  return {};
}

std::string Tail(const std::filesystem::path& file, size_t lines) {
  std::ifstream in(file);
  std::vector<std::string> all;
  for (std::string l; std::getline(in, l);) all.push_back(l);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += "\n    " + all[i];
  return out;
}

Expected<void> Stop(const Json& info, std::chrono::milliseconds grace, const std::filesystem::path& info_file) {
  pid_t pid = info.value("pid", 0);
  if (pid > 0 && Alive(info)) {
    ::kill(-pid, SIGTERM);  // the service leads its own session and process group
    auto deadline = Clock::now() + grace;
    while (Clock::now() < deadline && Alive(info)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (Alive(info)) {
      ::kill(-pid, SIGKILL);
      for (int i = 0; i < 40 && Alive(info); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (Alive(info)) return Fail("service pid " + std::to_string(pid) + " did not stop, even after SIGKILL");
    }
  }
  std::error_code ec;
  std::filesystem::remove(info_file, ec);
  return {};
}

bool Stopping(const pipeline::StepContext& ctx) { return GetString(ctx.With(), "state", "started") == "stopped"; }

}  // namespace

void ServiceStep::Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const {
  CheckWithKeys(step, diag, {"run", "env", "cwd", "name", "log", "ready", "state", "stop_timeout"});
  CheckWithDuration(step, diag, "stop_timeout");
  auto with = step.body.value("with", Json::object());
  std::string state = with.value("state", "started");
  if (state != "started" && state != "stopped")
    diag.Error(step.LocOf("/with/state"), "expected 'with.state' to be started or stopped, got '" + state + "'");
  if (state == "started" && (!with.contains("run") || !with["run"].is_array() || with["run"].empty()))
    diag.Error(with.contains("run") ? step.LocOf("/with/run") : step.kind_loc,
               "service needs 'with.run': the command to start, as a list (argv)");
  if (with.contains("ready")) {
    if (!with["ready"].is_object() || (!with["ready"].contains("url") && !with["ready"].contains("port")))
      diag.Error(step.LocOf("/with/ready"), "expected 'with.ready' to give a url or a port to probe");
  }
}

std::vector<std::string> ServiceStep::Describe(const pipeline::StepContext& ctx) const {
  const Json& w = ctx.With();
  std::string name = ServiceName(ctx);
  if (Stopping(ctx)) return {"stop service '" + name + "' (SIGTERM to its process group, then SIGKILL)"};
  std::vector<std::string> lines{"start service '" + name + "': " + pipeline::QuoteArgv(GetStringList(w, "run"))};
  for (const auto& [k, v] : GetStringMap(w, "env")) lines.push_back("env: " + k + "=" + v);
  if (w.contains("log")) lines.push_back("log: " + GetString(w, "log"));
  if (w.contains("ready")) {
    const Json& r = w["ready"];
    lines.push_back("ready when " + (r.contains("url") ? GetString(r, "url") + " answers"
                                                       : GetString(r, "host", "127.0.0.1") + ":" + GetString(r, "port") +
                                                             " accepts connections") +
                    " (timeout " + pipeline::FormatDuration(GetDuration(r, "timeout", std::chrono::seconds(30))) + ")");
  }
  return lines;
}

Expected<pipeline::Probe> ServiceStep::Check(const pipeline::StepContext& ctx) const {
  std::string name = ServiceName(ctx);
  auto info = ReadInfo(InfoFile(ctx, name));
  bool running = info && Alive(*info);
  if (Stopping(ctx)) {
    if (!running) return pipeline::Probe{pipeline::Probe::State::kInSync, "service '" + name + "' is not running"};
    return pipeline::Probe{pipeline::Probe::State::kChanges, "would stop service '" + name + "' (pid " +
                                                                 std::to_string(info->value("pid", 0)) + ")"};
  }
  if (!running) return pipeline::Probe{pipeline::Probe::State::kChanges, "service '" + name + "' is not running"};
  if (info->value("definition", "") != Definition(ctx))
    return pipeline::Probe{pipeline::Probe::State::kChanges,
                           "service '" + name + "' runs with a different definition; would restart it"};
  if (auto why = ProbeReady(ctx.With().value("ready", Json::object())); !why.empty())
    return pipeline::Probe{pipeline::Probe::State::kChanges, "service '" + name + "' is running but not ready: " + why};
  return pipeline::Probe{pipeline::Probe::State::kInSync,
                         "service '" + name + "' is running (pid " + std::to_string(info->value("pid", 0)) + ") and ready"};
}

Expected<pipeline::ApplyResult> ServiceStep::Apply(const pipeline::StepContext& ctx) const {
  const Json& w = ctx.With();
  std::string name = ServiceName(ctx);
  auto info_file = InfoFile(ctx, name);
  auto grace = GetDuration(w, "stop_timeout", std::chrono::seconds(10));
  auto existing = ReadInfo(info_file);
  if (Stopping(ctx)) {
    if (existing) {
      if (auto s = Stop(*existing, grace, info_file); !s) return tl::unexpected(s.error());
    }
    pipeline::ApplyResult out;
    out.summary = "stopped service '" + name + "'";
    return out;
  }
  if (existing && Alive(*existing)) {
    ctx.Log("stopping the running instance of '" + name + "' (pid " + std::to_string(existing->value("pid", 0)) +
            ") to start the new definition");
    if (auto s = Stop(*existing, grace, info_file); !s) return tl::unexpected(s.error());
  }
  std::error_code ec;
  std::filesystem::create_directories(info_file.parent_path(), ec);
  std::filesystem::path log = w.contains("log") ? ctx.Resolve(GetString(w, "log"))
                                                : ctx.state_dir / "services" / (name + ".log");
  std::filesystem::create_directories(log.parent_path(), ec);
  std::vector<std::string> argv = GetStringList(w, "run");
  std::string cwd = w.contains("cwd") ? ctx.Resolve(GetString(w, "cwd")).string() : ctx.plan_dir.string();
  std::string program = argv[0];
  if (program.find('/') == std::string::npos) {
    program = pipeline::FindOnPath(argv[0]);
    if (program.empty()) return Fail(argv[0] + ": command not found on PATH");
  } else if (program[0] != '/') {
    program = (std::filesystem::path(cwd) / program).string();
  }

  std::vector<std::string> env_strings;
  auto extra = GetStringMap(w, "env");
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    std::string key(kv.substr(0, kv.find('=')));
    bool overridden = false;
    for (const auto& [k, _] : extra) overridden |= k == key;
    if (!overridden) env_strings.emplace_back(kv);
  }
  for (const auto& [k, v] : extra) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, cargv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  // Its own session: the service outlives slipway and a Ctrl-C at slipway's terminal.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, program.c_str(), &actions, &attr, cargv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Fail(argv[0] + ": cannot start: " + std::strerror(rc));
  // Reap it if it dies while slipway still runs, so Alive() sees it gone rather than a zombie.
  std::thread([pid] {
    int status;
    ::waitpid(pid, &status, 0);
  }).detach();

  Json info{{"pid", pid},   {"starttime", StartTime(pid)}, {"argv", argv},        {"log", log.string()},
            {"name", name}, {"definition", Definition(ctx)}, {"started", pipeline::IsoTimestamp()}};
  if (auto wr = pipeline::WriteFileAtomically(info_file, info.dump(2), 0600); !wr) {
    ::kill(-pid, SIGKILL);
    return tl::unexpected(wr.error());
  }
  ctx.Log("started '" + name + "' as pid " + std::to_string(pid) + "; log: " + log.string());

  Json ready = w.value("ready", Json::object());
  auto timeout = GetDuration(ready, "timeout", std::chrono::seconds(30));
  auto interval = GetDuration(ready, "interval", std::chrono::milliseconds(200));
  auto deadline = Clock::now() + timeout;
  std::string why;
  while (true) {
    if (!Alive(info)) {
      std::filesystem::remove(info_file, ec);
      return Fail("service '" + name + "' exited during start-up; last lines of " + log.string() + ":" + Tail(log, 5));
    }
    why = ProbeReady(ready);
    if (why.empty()) break;
    if (Clock::now() >= deadline || ctx.Cancelled()) {
      (void)Stop(info, std::chrono::seconds(2), info_file);
      return Fail("service '" + name + "' was not ready within " + pipeline::FormatDuration(timeout) + " (" + why +
                  "); stopped it. Last lines of " + log.string() + ":" + Tail(log, 5));
    }
    std::this_thread::sleep_for(interval);
  }
  pipeline::ApplyResult out;
  out.outputs = {{"pid", std::to_string(pid)}, {"log", log.string()}, {"url", GetString(ready, "url")}};
  out.rollback = Json{{"name", name}, {"info_file", info_file.string()}, {"pid", pid}};
  out.summary = "service '" + name + "' running as pid " + std::to_string(pid);
  return out;
}

bool ServiceStep::CanRollback(const pipeline::StepSpec& step) const {
  auto with = step.body.value("with", Json::object());
  return with.value("state", "started") != "stopped";
}

Expected<void> ServiceStep::Rollback(const pipeline::StepContext& ctx, const Json& data) const {
  std::filesystem::path info_file = data.value("info_file", "");
  auto info = ReadInfo(info_file);
  if (!info || info->value("pid", 0) != data.value("pid", -1)) {
    ctx.Log("service '" + data.value("name", "") + "' is no longer the instance this run started; nothing to stop");
    return {};
  }
  return Stop(*info, GetDuration(ctx.With(), "stop_timeout", std::chrono::seconds(10)), info_file);
}

}  // namespace slipway::steps
