#pragma once
// Starts test/support/kube/kube_api_server.py (an in-memory Kubernetes API server the real kubectl can
// talk to) for one test, writes a kubeconfig for it and stops it again. See the .py for what it serves.
//
//   slipway::test::KubeTestServerOptions options;
//   options.dir = temp_dir;
//   auto server = slipway::test::KubeTestServer::Start(options);
//   ASSERT_TRUE(server) << server.error().message;
//   // run kubectl with server->Env() (KUBECONFIG and KUBECACHEDIR) in its environment

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/error.h"

#ifndef SLIPWAY_TEST_PYTHON3
#define SLIPWAY_TEST_PYTHON3 "python3"
#endif

namespace slipway::test {

/// How to start the server.
struct KubeTestServerOptions {
  /// An existing directory for the kubeconfig, port file, server log and kubectl's discovery cache.
  std::filesystem::path dir;
  /// Answer every API request with 401, as a cluster does for bad credentials.
  bool unauthorized = false;
  /// The interpreter (a path, or a name looked up on PATH); CMake pins a real binary, because a pyenv
  /// shim on PATH costs up to a second per start.
  std::string python = SLIPWAY_TEST_PYTHON3;
  /// Where the server writes every object as JSON when it stops (empty: nowhere).
  std::filesystem::path state_dump;
  /// How long to wait for the server to listen.
  std::chrono::milliseconds start_timeout{10000};
};

/// The answer to a raw HTTP request.
struct HttpResponse {
  int status = 0;
  std::string body;
};

/// A running kube_api_server.py in its own process group; stopped (SIGTERM, then SIGKILL to the group)
/// by Stop() or the destructor. Move-only.
class KubeTestServer {
 public:
  /// Starts the server on a free port of 127.0.0.1 and waits until it listens; fails with the reason
  /// and the server's log when it cannot start or does not listen within start_timeout.
  static Expected<KubeTestServer> Start(const KubeTestServerOptions& options);

  /// Takes over other's process; other no longer stops anything.
  KubeTestServer(KubeTestServer&& other) noexcept;
  /// Stops this server, then takes over other's process.
  KubeTestServer& operator=(KubeTestServer&& other) noexcept;
  KubeTestServer(const KubeTestServer&) = delete;
  KubeTestServer& operator=(const KubeTestServer&) = delete;
  /// Stops the server (see Stop).
  ~KubeTestServer();

  /// Path of the kubeconfig (cluster, context and user all named "test"; current context "test").
  std::string Kubeconfig() const;
  /// The port the server listens on.
  int Port() const { return port_; }
  /// "http://127.0.0.1:PORT".
  std::string Url() const;
  /// A kubectl discovery cache private to this server (pass as KUBECACHEDIR).
  std::string CacheDir() const;
  /// {"KUBECONFIG=...", "KUBECACHEDIR=..."}: what a kubectl process needs to talk to this server.
  std::vector<std::string> Env() const;

  /// Every stored object (a JSON array sorted by group, kind, namespace, name); on failure a JSON object
  /// {"error": "..."}, which no assertion on objects will mistake for a result.
  nlohmann::json Objects() const;
  /// The stored object of this kind ("Deployment"), namespace ("" for cluster-scoped) and name, or null.
  nlohmann::json Find(std::string_view kind, std::string_view ns, std::string_view name) const;
  /// The server's request log: [{method, path, query, content_type, user_agent, status, body?}].
  nlohmann::json Requests() const;
  /// Makes matching API requests fail; see POST /_test/fail in kube_api_server.py for the keys.
  Expected<void> InjectFault(const nlohmann::json& fault) const;
  /// A raw request to the server (Connection: close; chunked responses are not decoded).
  Expected<HttpResponse> Request(std::string_view method, std::string_view path, std::string_view body = "",
                                 std::string_view content_type = "application/json") const;
  /// What the server printed to stdout and stderr so far.
  std::string Log() const;

  /// Stops the server; safe to call more than once.
  void Stop();

 private:
  KubeTestServer() = default;

  pid_t pid_ = -1;
  int port_ = 0;
  std::filesystem::path dir_;
};

}  // namespace slipway::test
