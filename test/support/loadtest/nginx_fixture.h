#pragma once
// Real nginx for end-to-end tests: /usr/sbin/nginx started with its own config, prefix, pid file and
// logs in a temp dir, listening on a free 127.0.0.1 port, in its own process group; the destructor stops
// it (SIGTERM to the group, SIGKILL after 2 s) and removes the dir.

#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

namespace slipway::test::loadtest {

class NginxServer {
 public:
  /// Where nginx-light is installed.
  static constexpr const char* kBinary = "/usr/sbin/nginx";
  static bool Available();

  /// Starts nginx serving `Dir()/html` with `locations` inserted in the server block; with `tls`, the
  /// listener is `ssl http2` with a self-signed certificate for 127.0.0.1 (CertFile()).
  /// Returns nullptr and fills `error` when nginx does not come up.
  static std::unique_ptr<NginxServer> Start(const std::string& locations, bool tls, std::string* error);
  ~NginxServer();

  int Port() const { return port_; }
  const std::string& Dir() const { return dir_; }
  std::string HtmlDir() const { return dir_ + "/html"; }
  std::string CertFile() const { return dir_ + "/cert.pem"; }
  /// "http://127.0.0.1:PORT" or "https://..." with tls.
  std::string Url() const;

 private:
  NginxServer() = default;
  std::string dir_;
  int port_ = 0;
  bool tls_ = false;
  pid_t pid_ = -1;
};

/// Runs argv (no shell) to completion; returns its exit code (-1 when it could not run).
int RunCommand(const std::vector<std::string>& argv);

}  // namespace slipway::test::loadtest
