#pragma once
// Child processes: posix_spawn with an argv array (never a shell string), each child in its own
// process group, stdin from /dev/null unless data is fed, stdout/stderr through close-on-exec pipes.
// Timeouts and cancellation signal the whole group: SIGTERM, a grace period, then SIGKILL.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/error.h"

namespace slipway::pipeline {

enum class Stream { kStdout, kStderr };

struct ProcessSpec {
  std::vector<std::string> argv;                 // argv[0] is looked up on PATH when it has no '/'
  std::map<std::string, std::string> env;        // added to (or replacing) the inherited environment
  std::string cwd;                               // empty: inherit
  std::optional<std::string> stdin_data;         // fed through a pipe, then closed
  std::chrono::milliseconds timeout{0};          // 0: none
  std::chrono::milliseconds grace{std::chrono::seconds(5)};  // SIGTERM -> SIGKILL delay
  const std::atomic<bool>* cancel = nullptr;     // set: terminate the group (same grace)
  const std::atomic<bool>* kill_now = nullptr;   // set: SIGKILL the group at once
  /// Called with each complete line (without the newline), from the calling thread.
  std::function<void(Stream, std::string_view)> on_line;
  bool capture = true;                           // keep stdout/stderr in the result
  size_t capture_limit = 16 * 1024 * 1024;       // bytes kept per stream
};

struct ProcessResult {
  int exit_code = -1;      // the child's exit status, or 128+signal when killed by a signal
  int term_signal = 0;     // the signal that ended it, if any
  bool timed_out = false;
  bool cancelled = false;
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};
  std::chrono::milliseconds timeout{0};  // the limit that was hit, when timed_out
  bool Ok() const { return exit_code == 0 && !timed_out && !cancelled; }
  /// "exit 3", "killed by SIGKILL", "timed out after 2.0s", "cancelled".
  std::string Describe() const;
};

/// Runs a process to completion. Fails (as an Error) only when it cannot be started, e.g.
/// "kubectl: command not found on PATH".
Expected<ProcessResult> RunProcess(const ProcessSpec& spec);

/// The absolute path of `name` found on PATH (or `name` itself when it has a '/'), or "".
std::string FindOnPath(const std::string& name, const std::string& path_env = {});

/// Formats an argv for people, quoting words with spaces or shell metacharacters.
std::string QuoteArgv(const std::vector<std::string>& argv);

}  // namespace slipway::pipeline
