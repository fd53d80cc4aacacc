#include "test/support/kube/kube_test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#ifndef SLIPWAY_KUBE_API_SERVER_PY
#error "SLIPWAY_KUBE_API_SERVER_PY must name kube_api_server.py (set by test/support/kube/CMakeLists.txt)"
#endif

extern char** environ;

namespace slipway::test {
namespace {

constexpr const char* kPortFile = "kube-api-server.port";
constexpr const char* kLogFile = "kube-api-server.log";
constexpr const char* kKubeconfigFile = "kubeconfig";
constexpr const char* kCacheDir = "kube-cache";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// True once pid has exited (and then it has been reaped).
bool Exited(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, WNOHANG) == pid;
}

Expected<HttpResponse> HttpCall(int port, std::string_view method, std::string_view path, std::string_view body,
                                std::string_view content_type) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(std::string("socket: ") + std::strerror(errno));
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return Fail("connect to 127.0.0.1:" + std::to_string(port) + ": " + why);
  }
  std::string request = std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1:" +
                        std::to_string(port) + "\r\nConnection: close\r\nUser-Agent: slipway-kube-test-server\r\n";
  if (!body.empty()) request += "Content-Type: " + std::string(content_type) + "\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      return Fail("send: " + why);
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      return Fail("recv: " + why);
    }
    if (n == 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t header_end = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || header_end == std::string::npos || response.size() < 12) {
    return Fail("malformed HTTP response: " + response.substr(0, 200));
  }
  HttpResponse out;
  out.status = std::atoi(response.c_str() + 9);
  out.body = response.substr(header_end + 4);
  return out;
}

}  // namespace

Expected<KubeTestServer> KubeTestServer::Start(const KubeTestServerOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_directory(options.dir, ec)) {
    return Fail("KubeTestServer: " + options.dir.string() + " is not a directory");
  }
  KubeTestServer server;
  server.dir_ = std::filesystem::absolute(options.dir);
  std::filesystem::path port_file = server.dir_ / kPortFile;
  std::filesystem::path log_file = server.dir_ / kLogFile;
  std::filesystem::remove(port_file, ec);

  // -S: the server needs only the standard library, and site-packages can be slow to import.
  std::vector<std::string> args = {options.python, "-S", SLIPWAY_KUBE_API_SERVER_PY, "--port", "0", "--port-file",
                                   port_file.string()};
  if (!options.state_dump.empty()) {
    args.push_back("--state-dump");
    args.push_back(std::filesystem::absolute(options.state_dump).string());
  }
  if (options.unauthorized) args.push_back("--unauthorized");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty_mask, defaults;
  sigemptyset(&empty_mask);
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGPIPE}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &empty_mask);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group, so Stop() can signal everything it started
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  int rc = posix_spawnp(&server.pid_, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    server.pid_ = -1;
    return Fail("KubeTestServer: cannot start " + options.python + ": " + std::strerror(rc));
  }

  auto deadline = std::chrono::steady_clock::now() + options.start_timeout;
  while (!std::filesystem::exists(port_file, ec)) {
    if (Exited(server.pid_)) {
      server.pid_ = -1;
      return Fail("KubeTestServer: the server exited before listening; its log:\n" + ReadFile(log_file));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      server.Stop();
      return Fail("KubeTestServer: the server did not listen within " +
                  std::to_string(options.start_timeout.count()) + " ms; its log:\n" + ReadFile(log_file));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  server.port_ = std::atoi(ReadFile(port_file).c_str());
  if (server.port_ <= 0) {
    server.Stop();
    return Fail("KubeTestServer: unreadable port file " + port_file.string());
  }

  std::filesystem::create_directories(server.dir_ / kCacheDir, ec);
  std::ofstream kubeconfig(server.dir_ / kKubeconfigFile, std::ios::trunc);
  kubeconfig << "apiVersion: v1\n"
                "kind: Config\n"
                "clusters:\n"
                "- name: test\n"
                "  cluster:\n"
                "    server: "
             << server.Url()
             << "\n"
                "contexts:\n"
                "- name: test\n"
                "  context:\n"
                "    cluster: test\n"
                "    user: test\n"
                "current-context: test\n"
                "users:\n"
                "- name: test\n"
                "  user:\n"
                "    token: slipway-test-token\n";  // kubectl sends credentials over TLS only: never to us
  kubeconfig.close();
  if (!kubeconfig) {
    server.Stop();
    return Fail("KubeTestServer: cannot write " + server.Kubeconfig());
  }
  return server;
}

KubeTestServer::KubeTestServer(KubeTestServer&& other) noexcept
    : pid_(other.pid_), port_(other.port_), dir_(std::move(other.dir_)) {
  other.pid_ = -1;
}

KubeTestServer& KubeTestServer::operator=(KubeTestServer&& other) noexcept {
  if (this != &other) {
    Stop();
    pid_ = other.pid_;
    port_ = other.port_;
    dir_ = std::move(other.dir_);
    other.pid_ = -1;
  }
  return *this;
}

KubeTestServer::~KubeTestServer() { Stop(); }

void KubeTestServer::Stop() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  siginfo_t info{};
  for (;;) {
    info.si_pid = 0;
    // Observe the exit without reaping: the group id stays ours until the final SIGKILL below.
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == pid_) {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(-pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

std::string KubeTestServer::Kubeconfig() const { return (dir_ / kKubeconfigFile).string(); }

std::string KubeTestServer::Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string KubeTestServer::CacheDir() const { return (dir_ / kCacheDir).string(); }

std::vector<std::string> KubeTestServer::Env() const {
  return {"KUBECONFIG=" + Kubeconfig(), "KUBECACHEDIR=" + CacheDir()};
}

std::string KubeTestServer::Log() const { return ReadFile(dir_ / kLogFile); }

Expected<HttpResponse> KubeTestServer::Request(std::string_view method, std::string_view path,
                                               std::string_view body, std::string_view content_type) const {
  return HttpCall(port_, method, path, body, content_type);
}

nlohmann::json KubeTestServer::Objects() const {
  auto response = Request("GET", "/_test/objects");
  if (!response) return {{"error", response.error().message}};
  if (response->status != 200) return {{"error", "HTTP " + std::to_string(response->status) + ": " + response->body}};
  auto parsed = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return {{"error", "not JSON: " + response->body.substr(0, 200)}};
  return parsed;
}

nlohmann::json KubeTestServer::Find(std::string_view kind, std::string_view ns, std::string_view name) const {
  nlohmann::json objects = Objects();
  if (!objects.is_array()) return nullptr;
  for (const nlohmann::json& obj : objects) {
    const nlohmann::json& meta = obj.value("metadata", nlohmann::json::object());
    if (obj.value("kind", "") == kind && meta.value("namespace", "") == ns && meta.value("name", "") == name) {
      return obj;
    }
  }
  return nullptr;
}

nlohmann::json KubeTestServer::Requests() const {
  auto response = Request("GET", "/_test/requests");
  if (!response) return {{"error", response.error().message}};
  auto parsed = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return {{"error", "not JSON: " + response->body.substr(0, 200)}};
  return parsed;
}

Expected<void> KubeTestServer::InjectFault(const nlohmann::json& fault) const {
  auto response = Request("POST", "/_test/fail", fault.dump());
  if (!response) return tl::unexpected(response.error());
  if (response->status != 200) return Fail("InjectFault: HTTP " + std::to_string(response->status) + ": " + response->body);
  return {};
}

}  // namespace slipway::test
