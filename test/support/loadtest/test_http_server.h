#pragma once
// A small HTTP/1.1 keep-alive server for the load-test engine's tests: one thread per connection, a
// handler decides status, body and an optional delay (how the stall and timeout tests make it slow).
// Listens on a free 127.0.0.1 port; the destructor stops it and joins every thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace slipway::test::loadtest {

struct TestRequest {
  std::string method;
  std::string target;  // path and query
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

struct TestResponse {
  int status = 200;
  std::string body = "ok";
  std::chrono::nanoseconds delay{0};  // before the response is written
};

class TestHttpServer {
 public:
  using Handler = std::function<TestResponse(const TestRequest&)>;
  /// Starts listening; aborts the test process if no socket can be bound.
  explicit TestHttpServer(Handler handler);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  int Port() const { return port_; }
  /// "http://127.0.0.1:PORT"
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::uint64_t Requests() const { return requests_.load(); }
  std::uint64_t Connections() const { return connections_.load(); }
  /// Stops accepting, closes every connection and joins the threads (idempotent).
  void Stop();

 private:
  void AcceptLoop();
  void Serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> connections_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
  std::vector<int> fds_;
};

/// GET over a fresh connection; returns the body ("" on failure). For reading status pages in tests.
std::string HttpGetBody(const std::string& host, int port, const std::string& path);

/// A free TCP port on 127.0.0.1 (bound and released; a small race the callers retry around).
int FreePort();

}  // namespace slipway::test::loadtest
