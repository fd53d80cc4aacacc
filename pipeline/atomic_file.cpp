#include "pipeline/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace slipway::pipeline {

static std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

Expected<void> SyncDirectory(const std::filesystem::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Fail(Errno("open " + dir.string()));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Fail(Errno("fsync " + dir.string()));
  return {};
}

Expected<void> WriteFileAtomically(const std::filesystem::path& path, const std::string& content, unsigned mode,
                                   bool keep_backup, const FaultHook& fault) {
  std::filesystem::path dir = path.parent_path();
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Fail(Errno("create " + tmp.string()));
  ::fchmod(fd, mode);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string err = Errno("write " + tmp.string());
      ::close(fd);
      ::unlink(tmp.c_str());
      return Fail(err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    std::string err = Errno("fsync " + tmp.string());
    ::close(fd);
    ::unlink(tmp.c_str());
    return Fail(err);
  }
  ::close(fd);
  if (fault && !fault("written")) {
    ::unlink(tmp.c_str());
    return Fail("injected failure before rename of " + path.string());
  }
  if (keep_backup && ::access(path.c_str(), F_OK) == 0) {
    // Link the current good copy to .bak first: `path` exists at every instant.
    std::filesystem::path bak = path;
    bak += ".bak";
    std::filesystem::path bak_tmp = bak;
    bak_tmp += ".tmp." + std::to_string(::getpid());
    ::unlink(bak_tmp.c_str());
    if (::link(path.c_str(), bak_tmp.c_str()) == 0) ::rename(bak_tmp.c_str(), bak.c_str());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = Errno("rename " + tmp.string());
    ::unlink(tmp.c_str());
    return Fail(err);
  }
  if (fault && !fault("renamed")) return Fail("injected failure before directory fsync of " + path.string());
  return SyncDirectory(dir);
}

}  // namespace slipway::pipeline
