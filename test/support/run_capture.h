#pragma once
// Runs a real program (kubectl, a fake tool) with an argv list and captures what it prints, for tests.
// posix_spawn with the child in its own process group; a run past its timeout has the group killed.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace slipway::test {

/// What a finished (or killed) run produced.
struct RunResult {
  int exit_code = -1;      ///< the exit status; 128+N when killed by signal N; -1 when it never started
  std::string out;         ///< everything written to stdout
  std::string err;         ///< everything written to stderr (says why when the program never started)
  bool timed_out = false;  ///< the process group was killed because the run exceeded its timeout
};

/// How to run a program.
struct RunOptions {
  /// "NAME=value" entries layered over this process's environment (replacing variables of the same name).
  std::vector<std::string> env;
  /// Fed to stdin, which is then closed (stdin is empty by default).
  std::string stdin_data;
  std::chrono::milliseconds timeout{30000};
  /// Working directory; empty means this process's.
  std::filesystem::path cwd;
};

/// Runs argv; argv[0] without a '/' is looked up on the PATH the child will see (options.env's PATH if
/// given). Never throws: a program that cannot be started gives exit_code -1 and the reason in err.
RunResult RunCapture(const std::vector<std::string>& argv, const RunOptions& options = {});

}  // namespace slipway::test
