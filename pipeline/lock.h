#pragma once
// One run at a time per plan and state directory: an flock on <state>/<plan>.lock. The lock file
// holds who has it (pid, host, start time, command) so a refused run can name the holder. flock is
// released by the kernel when its holder dies, so a lock left by a dead process is not a lock.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <tl/expected.hpp>

namespace slipway::pipeline {

struct LockFailure {
  bool held_by_other = false;  // true: exit 4; false: an I/O problem
  std::string message;
};

class StateLock {
 public:
  ~StateLock();
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;
  /// Takes the lock, waiting up to `wait` (0: fail at once). The message of a refusal names the holder.
  static tl::expected<std::unique_ptr<StateLock>, LockFailure> Acquire(const std::filesystem::path& file,
                                                                         const std::string& command,
                                                                         std::chrono::milliseconds wait);

 private:
  explicit StateLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace slipway::pipeline
