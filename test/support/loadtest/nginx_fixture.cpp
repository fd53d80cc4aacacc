#include "test/support/loadtest/nginx_fixture.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/support/loadtest/test_http_server.h"

extern char** environ;

namespace slipway::test::loadtest {

namespace {

pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  return rc == 0 ? pid : -1;
}

bool CanConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

int RunCommand(const std::vector<std::string>& argv) {
  pid_t pid = Spawn(argv, "/dev/null");
  if (pid < 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool NginxServer::Available() { return access(kBinary, X_OK) == 0; }

std::string NginxServer::Url() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

std::unique_ptr<NginxServer> NginxServer::Start(const std::string& locations, bool tls, std::string* error) {
  std::unique_ptr<NginxServer> s(new NginxServer());
  std::string tmpl = (std::filesystem::temp_directory_path() / "slipway-nginx-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) {
    *error = "mkdtemp failed";
    return nullptr;
  }
  s->dir_ = tmpl;
  s->tls_ = tls;
  std::filesystem::create_directories(s->HtmlDir());
  if (tls) {
    int rc = RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                         "-nodes", "-keyout", s->dir_ + "/key.pem", "-out", s->CertFile(), "-days", "2", "-subj",
                         "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"});
    if (rc != 0) {
      *error = "openssl could not make a certificate";
      return nullptr;
    }
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    s->port_ = FreePort();
    const std::string& d = s->dir_;
    std::string listen = "listen 127.0.0.1:" + std::to_string(s->port_) + (tls ? " ssl http2;\n" : ";\n");
    std::string conf =
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid " + d + "/nginx.pid;\n" +
        "error_log " + d + "/error.log warn;\n" +
        "events { worker_connections 4096; }\n"
        "http {\n  access_log off;\n  keepalive_requests 1000000;\n  keepalive_timeout 60s;\n" +
        "  client_body_temp_path " + d + "/tmp_body;\n  proxy_temp_path " + d + "/tmp_proxy;\n" +
        "  fastcgi_temp_path " + d + "/tmp_fastcgi;\n  uwsgi_temp_path " + d + "/tmp_uwsgi;\n" +
        "  scgi_temp_path " + d + "/tmp_scgi;\n" + "  server {\n    " + listen + "    root " + d + "/html;\n" +
        (tls ? "    ssl_certificate " + d + "/cert.pem;\n    ssl_certificate_key " + d + "/key.pem;\n" : "") +
        "    location = /nginx_status { stub_status; }\n" + locations + "\n  }\n}\n";
    std::ofstream(d + "/nginx.conf") << conf;
    s->pid_ = Spawn({kBinary, "-p", d, "-c", d + "/nginx.conf", "-e", d + "/error.log"}, d + "/out.log");
    if (s->pid_ < 0) {
      *error = "cannot start nginx";
      return nullptr;
    }
    for (int i = 0; i < 250; ++i) {
      if (CanConnect(s->port_)) return s;
      int status = 0;
      if (waitpid(s->pid_, &status, WNOHANG) == s->pid_) {
        s->pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (s->pid_ > 0) {
      kill(-s->pid_, SIGKILL);
      waitpid(s->pid_, nullptr, 0);
      s->pid_ = -1;
    }
    *error = "nginx did not come up: " + ReadFile(d + "/error.log") + ReadFile(d + "/out.log");
  }
  return nullptr;
}

NginxServer::~NginxServer() {
  if (pid_ > 0) {
    kill(-pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

}  // namespace slipway::test::loadtest
