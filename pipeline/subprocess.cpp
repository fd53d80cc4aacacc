#include "pipeline/subprocess.h"

#include "pipeline/duration.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace slipway::pipeline {

namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Close();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  ~Fd() { Close(); }
  int get() const { return fd_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

bool MakePipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  read_end = Fd(fds[0]);
  write_end = Fd(fds[1]);
  return true;
}

// Splits a byte stream into lines for the callback; keeps the partial tail.
struct LineBuffer {
  std::string pending;
  std::string* capture = nullptr;
  size_t capture_limit = 0;
  void Feed(std::string_view data, Stream s, const std::function<void(Stream, std::string_view)>& cb) {
    if (capture && capture->size() < capture_limit)
      capture->append(data.substr(0, std::min(data.size(), capture_limit - capture->size())));
    if (!cb) return;
    pending.append(data);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(pending.data() + start, nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      cb(s, line);
    }
    pending.erase(0, start);
    if (pending.size() > 64 * 1024) {  // an endless line: flush it in pieces
      cb(s, pending);
      pending.clear();
    }
  }
  void Flush(Stream s, const std::function<void(Stream, std::string_view)>& cb) {
    if (cb && !pending.empty()) cb(s, pending);
    pending.clear();
  }
};

int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

}  // namespace

std::string ProcessResult::Describe() const {
  if (cancelled) return "cancelled";
  if (timed_out) return "timed out after " + FormatDuration(timeout);
  if (term_signal) {
    const char* abbrev = ::sigabbrev_np(term_signal);
    return std::string("killed by ") + (abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(term_signal));
  }
  return "exit " + std::to_string(exit_code);
}

std::string FindOnPath(const std::string& name, const std::string& path_env) {
  if (name.empty()) return {};
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : std::string();
  std::string path = path_env;
  if (path.empty()) {
    const char* p = ::getenv("PATH");
    path = p ? p : "/usr/local/bin:/usr/bin:/bin";
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return {};
}

std::string QuoteArgv(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                                   "-_./:=,@%+") == std::string::npos;
    if (plain) {
      out += a;
      continue;
    }
    out += '\'';
    for (char c : a) {
      if (c == '\'')
        out += "'\\''";
      else
        out += c;
    }
    out += '\'';
  }
  return out;
}

Expected<ProcessResult> RunProcess(const ProcessSpec& spec) {
  if (spec.argv.empty()) return Fail("empty command");
  // Resolve the program against the PATH the child will see.
  std::string path_env;
  if (auto it = spec.env.find("PATH"); it != spec.env.end()) path_env = it->second;
  std::string program = spec.argv[0];
  if (program.find('/') == std::string::npos) {
    program = FindOnPath(spec.argv[0], path_env);
    if (program.empty()) return Fail(spec.argv[0] + ": command not found on PATH");
  } else if (!spec.cwd.empty() && program[0] != '/') {
    // Relative paths resolve against the child's working directory.
    std::string full = spec.cwd + "/" + program;
    if (::access(full.c_str(), X_OK) != 0) return Fail(program + ": not found or not executable in " + spec.cwd);
  } else if (::access(program.c_str(), X_OK) != 0) {
    return Fail(program + ": not found or not executable");
  }

  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    std::string key(kv.substr(0, kv.find('=')));
    if (spec.env.count(key) == 0) env_strings.emplace_back(kv);
  }
  for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = spec.argv;
  std::vector<char*> argv;
  for (auto& a : argv_copy) argv.push_back(a.data());
  argv.push_back(nullptr);

  Fd out_r, out_w, err_r, err_w, in_r, in_w;
  if (!MakePipe(out_r, out_w) || !MakePipe(err_r, err_w)) return Fail(std::string("pipe: ") + std::strerror(errno));
  if (spec.stdin_data && !MakePipe(in_r, in_w)) return Fail(std::string("pipe: ") + std::strerror(errno));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (spec.stdin_data)
    posix_spawn_file_actions_adddup2(&actions, in_r.get(), 0);
  else
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, spec.cwd.c_str());

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults, empty;
  sigemptyset(&empty);
  sigfillset(&defaults);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  const auto start = Clock::now();
  pid_t pid = -1;
  // With a relative program and a cwd, spawn the path as given; the child chdir()s first.
  const char* exec_path = program.c_str();
  int rc = ::posix_spawn(&pid, exec_path, &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Fail(spec.argv[0] + ": cannot start: " + std::strerror(rc));
  out_w.Close();
  err_w.Close();
  in_r.Close();

  ProcessResult result;
  Fd pidfd(PidfdOpen(pid));
  LineBuffer out_buf, err_buf;
  if (spec.capture) {
    out_buf.capture = &result.out;
    err_buf.capture = &result.err;
    out_buf.capture_limit = err_buf.capture_limit = spec.capture_limit;
  }
  size_t stdin_written = 0;
  if (spec.stdin_data) ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
  if (spec.stdin_data && spec.stdin_data->empty()) in_w.Close();

  bool exited = false;
  int status = 0;
  bool term_sent = false;
  Clock::time_point term_time{};  // when SIGTERM went to the group
  bool killed = false;
  const bool has_deadline = spec.timeout.count() > 0;
  const Clock::time_point deadline = has_deadline ? start + spec.timeout : Clock::time_point::max();
  bool draining = false;
  Clock::time_point drain_until{};  // after exit: read what is left, briefly

  auto signal_group = [&](int sig) { ::kill(-pid, sig); };
  char buf[65536];
  while (true) {
    auto now = Clock::now();
    if (!exited) {
      bool cancel = spec.cancel && spec.cancel->load();
      bool kill_now = spec.kill_now && spec.kill_now->load();
      if (kill_now && !killed) {
        result.cancelled = true;
        signal_group(SIGKILL);
        killed = true;
      }
      if (!term_sent && ((has_deadline && now >= deadline) || cancel)) {
        if (cancel) {
          result.cancelled = true;
        } else {
          result.timed_out = true;
          result.timeout = spec.timeout;
        }
        signal_group(SIGTERM);
        term_sent = true;
        term_time = now;
      }
      if (term_sent && !killed && now - term_time >= spec.grace) {
        signal_group(SIGKILL);
        killed = true;
      }
    }
    if (exited && out_r.get() < 0 && err_r.get() < 0) break;
    if (exited && !draining) {
      draining = true;
      drain_until = now + std::chrono::milliseconds(200);
    }
    if (draining && now >= drain_until) break;  // leftover grandchildren hold the pipes; stop reading

    pollfd fds[4];
    int nfds = 0;
    int idx_out = -1, idx_err = -1, idx_pid = -1, idx_in = -1;
    if (out_r.get() >= 0) fds[idx_out = nfds++] = {out_r.get(), POLLIN, 0};
    if (err_r.get() >= 0) fds[idx_err = nfds++] = {err_r.get(), POLLIN, 0};
    if (!exited && pidfd.get() >= 0) fds[idx_pid = nfds++] = {pidfd.get(), POLLIN, 0};
    if (in_w.get() >= 0) fds[idx_in = nfds++] = {in_w.get(), POLLOUT, 0};
    int wait_ms = 100;
    if (pidfd.get() < 0 && !exited) wait_ms = 10;
    if (has_deadline && !term_sent) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
      wait_ms = std::min<int>(wait_ms, static_cast<int>(std::max<long long>(0, left)));
    }
    int ready = ::poll(fds, static_cast<nfds_t>(nfds), wait_ms);
    if (ready < 0 && errno != EINTR) break;
    if (ready > 0) {
      if (idx_in >= 0 && (fds[idx_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
        const std::string& data = *spec.stdin_data;
        ssize_t n = ::write(in_w.get(), data.data() + stdin_written, data.size() - stdin_written);
        if (n > 0) stdin_written += static_cast<size_t>(n);
        if (n < 0 && errno != EAGAIN) in_w.Close();
        if (stdin_written >= data.size()) in_w.Close();
      }
      for (auto [idx, fd, lb, stream] : {std::tuple{idx_out, &out_r, &out_buf, Stream::kStdout},
                                         std::tuple{idx_err, &err_r, &err_buf, Stream::kStderr}}) {
        if (idx < 0 || !(fds[idx].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::read(fd->get(), buf, sizeof buf);
        if (n > 0) {
          lb->Feed(std::string_view(buf, static_cast<size_t>(n)), stream, spec.on_line);
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          lb->Flush(stream, spec.on_line);
          fd->Close();
        }
      }
    }
    if (!exited) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) exited = true;
    }
  }
  if (!exited) {
    ::waitpid(pid, &status, 0);
  }
  out_buf.Flush(Stream::kStdout, spec.on_line);
  err_buf.Flush(Stream::kStderr, spec.on_line);
  // Whatever the leader left behind in its group goes too when we had to stop it.
  if (term_sent || killed) signal_group(SIGKILL);
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
    result.exit_code = 128 + result.term_signal;
  }
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return result;
}

}  // namespace slipway::pipeline
