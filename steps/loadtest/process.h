#pragma once
// Internal: running child processes from argv lists (never a shell): posix_spawn, each child in its own
// process group, stdin from /dev/null, stdout and stderr through close-on-exec pipes; a timeout or a
// cancel signals the whole group (SIGTERM, then SIGKILL after a grace period).

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/error.h"
#include "steps/loadtest/duration.h"

namespace slipway::steps::loadtest::internal {

/// How a child ended and what it printed.
struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  bool timed_out = false;
  bool cancelled = false;
  std::string out;
  std::string err;  // at most the last 64 KiB
};

/// Options shared by every child of one RunProcesses call.
struct ProcessOptions {
  Nanos timeout = 0;                        // 0: none
  const std::atomic<bool>* cancel = nullptr;  // polled every 50 ms
  Nanos grace = 2 * kNanosPerSecond;        // SIGTERM -> SIGKILL
  /// Called on the calling thread for each complete stderr line of child `index`; such lines are not
  /// kept in `err` when the callback returns true (consumed).
  std::function<bool(std::size_t index, std::string_view line)> on_stderr_line;
  std::string stdin_data;  // written to each child's stdin (empty: /dev/null)
};

/// Runs all children at once and waits for every one. Fails only when a child cannot be started (then
/// the ones already started are killed); exit codes are for the caller to judge.
Expected<std::vector<ProcessResult>> RunProcesses(const std::vector<std::vector<std::string>>& argvs,
                                                  const ProcessOptions& options);

/// One child; same rules.
Expected<ProcessResult> RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options);

}  // namespace slipway::steps::loadtest::internal
