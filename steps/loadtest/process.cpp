#include "steps/loadtest/process.h"

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "steps/loadtest/engine.h"

extern char** environ;

namespace slipway::steps::loadtest::internal {

namespace {

constexpr std::size_t kMaxErr = 64 * 1024;

struct Child {
  pid_t pid = -1;
  int out = -1;
  int err = -1;
  int in = -1;
  std::size_t in_written = 0;
  bool exited = false;
  int status = 0;
  std::string err_line;  // partial stderr line
  ProcessResult result;
};

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

Expected<void> Spawn(const std::vector<std::string>& argv, bool feed_stdin, Child& c) {
  if (argv.empty()) return Fail("empty command");
  int out[2], err[2], in[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) != 0) return Fail(std::string("pipe: ") + std::strerror(errno));
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return Fail(std::string("pipe: ") + std::strerror(errno));
  }
  if (feed_stdin && pipe2(in, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    close(err[0]);
    close(err[1]);
    return Fail(std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (feed_stdin) posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  else posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(out[1]);
  close(err[1]);
  if (feed_stdin) close(in[0]);
  if (rc != 0) {
    close(out[0]);
    close(err[0]);
    if (feed_stdin) close(in[1]);
    return Fail("cannot run '" + argv[0] + "': " + std::strerror(rc));
  }
  c.pid = pid;
  c.out = out[0];
  c.err = err[0];
  c.in = feed_stdin ? in[1] : -1;
  if (c.in >= 0) fcntl(c.in, F_SETFL, fcntl(c.in, F_GETFL) | O_NONBLOCK);
  return {};
}

void KillGroup(Child& c, int sig) {
  if (c.pid > 0 && !c.exited) kill(-c.pid, sig);
}

}  // namespace

Expected<std::vector<ProcessResult>> RunProcesses(const std::vector<std::vector<std::string>>& argvs,
                                                  const ProcessOptions& options) {
  // Writing to a child that exited must not kill us.
  signal(SIGPIPE, SIG_IGN);
  std::vector<Child> children(argvs.size());
  for (std::size_t i = 0; i < argvs.size(); ++i) {
    auto ok = Spawn(argvs[i], !options.stdin_data.empty(), children[i]);
    if (!ok) {
      for (std::size_t j = 0; j < i; ++j) {
        KillGroup(children[j], SIGKILL);
        waitpid(children[j].pid, nullptr, 0);
        CloseFd(children[j].out);
        CloseFd(children[j].err);
        CloseFd(children[j].in);
      }
      return tl::unexpected(ok.error());
    }
  }
  const std::int64_t started = MonotonicNanos();
  std::int64_t term_sent_at = 0;
  bool timed_out = false, cancelled = false;
  char buf[65536];
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<std::pair<std::size_t, int>> who;  // child, 0 out / 1 err / 2 in
    for (std::size_t i = 0; i < children.size(); ++i) {
      if (children[i].out >= 0) fds.push_back({children[i].out, POLLIN, 0}), who.emplace_back(i, 0);
      if (children[i].err >= 0) fds.push_back({children[i].err, POLLIN, 0}), who.emplace_back(i, 1);
      if (children[i].in >= 0) fds.push_back({children[i].in, POLLOUT, 0}), who.emplace_back(i, 2);
    }
    bool all_exited = true;
    for (auto& c : children) {
      if (!c.exited && waitpid(c.pid, &c.status, WNOHANG) == c.pid) c.exited = true;
      all_exited = all_exited && c.exited;
    }
    if (fds.empty() && all_exited) break;
    std::int64_t now = MonotonicNanos();
    if (!term_sent_at) {
      bool cancel = options.cancel && options.cancel->load();
      bool late = options.timeout > 0 && now - started > options.timeout;
      if (cancel || late) {
        cancelled = cancel;
        timed_out = late;
        for (auto& c : children) KillGroup(c, SIGTERM);
        term_sent_at = now;
      }
    } else if (now - term_sent_at > options.grace) {
      for (auto& c : children) KillGroup(c, SIGKILL);
    }
    if (fds.empty()) {
      usleep(10000);
      continue;
    }
    int n = poll(fds.data(), fds.size(), 50);
    if (n < 0 && errno != EINTR) break;
    for (std::size_t k = 0; k < fds.size() && n > 0; ++k) {
      if (!fds[k].revents) continue;
      Child& c = children[who[k].first];
      if (who[k].second == 2) {
        const std::string& data = options.stdin_data;
        ssize_t w = write(c.in, data.data() + c.in_written, data.size() - c.in_written);
        if (w > 0) c.in_written += static_cast<std::size_t>(w);
        if (w < 0 && errno != EAGAIN) c.in_written = data.size();
        if (c.in_written >= data.size()) CloseFd(c.in);
        continue;
      }
      int& fd = who[k].second == 0 ? c.out : c.err;
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        CloseFd(fd);
        continue;
      }
      if (who[k].second == 0) {
        c.result.out.append(buf, static_cast<std::size_t>(r));
        continue;
      }
      c.err_line.append(buf, static_cast<std::size_t>(r));
      std::size_t nl;
      while ((nl = c.err_line.find('\n')) != std::string::npos) {
        std::string line = c.err_line.substr(0, nl);
        c.err_line.erase(0, nl + 1);
        bool consumed = options.on_stderr_line && options.on_stderr_line(who[k].first, line);
        if (!consumed) c.result.err += line + "\n";
      }
      if (c.result.err.size() > kMaxErr) c.result.err.erase(0, c.result.err.size() - kMaxErr);
    }
  }
  std::vector<ProcessResult> out;
  for (auto& c : children) {
    if (!c.exited) waitpid(c.pid, &c.status, 0);
    c.result.err += c.err_line;
    if (WIFEXITED(c.status)) c.result.exit_code = WEXITSTATUS(c.status);
    if (WIFSIGNALED(c.status)) c.result.signal = WTERMSIG(c.status);
    c.result.timed_out = timed_out;
    c.result.cancelled = cancelled;
    CloseFd(c.in);
    out.push_back(std::move(c.result));
  }
  return out;
}

Expected<ProcessResult> RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options) {
  auto r = RunProcesses({argv}, options);
  if (!r) return tl::unexpected(r.error());
  return std::move(r->front());
}

}  // namespace slipway::steps::loadtest::internal
