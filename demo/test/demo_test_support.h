#pragma once
// Helpers for the demo service tests: a blocking HTTP/1.1 client, child processes in their own
// process group (killed with the group on destruction, so a failing test leaves nothing
// behind), temp dirs, free ports and a parser for Prometheus text exposition.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::demo::testing {

/// One HTTP response; header names are lower-cased.
struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  /// The value of header `name` (lower-case), or "" when absent.
  std::string Header(const std::string& name) const;
};

/// A blocking client over one keep-alive connection to 127.0.0.1:port. Bodies may be framed by
/// Content-Length, chunked encoding or connection close (Prometheus uses all three).
class HttpClient {
 public:
  /// Connects at once; Connected() says whether that worked.
  explicit HttpClient(int port, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  bool Connected() const { return fd_ >= 0; }

  /// Sends one request and reads its response; nullopt on a socket error, timeout or garbage.
  std::optional<HttpResponse> Request(std::string_view method, std::string_view target, std::string_view body = {});

  /// Writes raw bytes (for pipelining and malformed-request tests); false on error.
  bool SendRaw(std::string_view bytes);

  /// Reads the next response; `head` when it answers a HEAD request (no body follows).
  std::optional<HttpResponse> ReadResponse(bool head = false);

  /// True when the server has closed the connection (a read returns EOF within the timeout).
  bool WaitForClose();

 private:
  bool Fill();  // reads more bytes into buffer_; false on EOF, error or timeout
  int fd_ = -1;
  int port_ = 0;
  std::string buffer_;
};

/// A child process running in a process group of its own.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// Starts argv (argv[0] is a path) with stdin from /dev/null, stdout into a pipe readable with
  /// ReadStdoutLine(), stderr appended to `stderr_path`. False when posix_spawn fails.
  bool Spawn(const std::vector<std::string>& argv, const std::string& stderr_path = "/dev/null");

  /// The next stdout line without its newline; nullopt on EOF or timeout.
  std::optional<std::string> ReadStdoutLine(std::chrono::milliseconds timeout);

  /// Sends `signal` to the whole process group.
  void Signal(int signal);

  /// Waits for the child's exit; the raw wait status, or nullopt if it is still running after
  /// `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

  /// SIGKILLs the group and reaps the child; a no-op once it has been reaped.
  void Kill();

  pid_t Pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string stdout_buffer_;
};

/// A directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& Path() const { return path_; }

 private:
  std::string path_;
};

/// A port on 127.0.0.1 that was free a moment ago (the kernel's pick for port 0).
int FreePort();

/// Parses exposition text into "name{labels}" -> value, keys exactly as printed.
std::map<std::string, double> ParseExposition(const std::string& text);

/// The value of `series` in `metrics`, 0 when absent (Prometheus counters start absent).
double SeriesValue(const std::map<std::string, double>& metrics, const std::string& series);

/// Reads a whole file; "" when it cannot be read.
std::string ReadFile(const std::string& path);

/// Writes a whole file; false on error.
bool WriteFile(const std::string& path, const std::string& content);

/// Milliseconds elapsed since `start`.
double MillisSince(std::chrono::steady_clock::time_point start);

}  // namespace slipway::demo::testing
