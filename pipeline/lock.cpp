#include "pipeline/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "pipeline/events.h"

namespace slipway::pipeline {

StateLock::~StateLock() {
  if (fd_ >= 0) {
    ::ftruncate(fd_, 0);
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

static std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ::lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

tl::expected<std::unique_ptr<StateLock>, LockFailure> StateLock::Acquire(const std::filesystem::path& file,
                                                                           const std::string& command,
                                                                           std::chrono::milliseconds wait) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return tl::unexpected(LockFailure{false, "cannot open lock " + file.string() + ": " + std::strerror(errno)});
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      std::string msg = "cannot lock " + file.string() + ": " + std::strerror(errno);
      ::close(fd);
      return tl::unexpected(LockFailure{false, msg});
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string holder = "another slipway run";
      auto info = nlohmann::json::parse(ReadAll(fd), nullptr, false);
      if (info.is_object()) {
        holder = "pid " + std::to_string(info.value("pid", 0)) + " on " + info.value("host", "?") + " since " +
                 info.value("started", "?") + " (" + info.value("command", "?") + ")";
      }
      ::close(fd);
      return tl::unexpected(LockFailure{
          true, "state " + file.string() + " is locked by " + holder +
                    "; wait for it to finish, or pass --lock-timeout to wait for it"});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  char host[256] = "?";
  ::gethostname(host, sizeof host - 1);
  nlohmann::json info{{"pid", ::getpid()}, {"host", host}, {"started", IsoTimestamp()}, {"command", command}};
  std::string text = info.dump() + "\n";
  ::ftruncate(fd, 0);
  ::pwrite(fd, text.data(), text.size(), 0);
  return std::unique_ptr<StateLock>(new StateLock(fd));
}

}  // namespace slipway::pipeline
