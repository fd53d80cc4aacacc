#include "demo/demo_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <queue>
#include <string_view>

#include "demo/http_parser.h"

namespace slipway::demo {

using Clock = std::chrono::steady_clock;

namespace {

constexpr int kMaxEvents = 256;
constexpr std::size_t kReadChunk = 16 * 1024;
// How long a stopping server waits for requests in flight before it closes them anyway.
constexpr auto kDrainTimeout = std::chrono::seconds(5);
// After EMFILE the listener is ignored this long, instead of spinning on a readable socket.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);

constexpr std::string_view kRootBody = "slipway demo service\n";
constexpr std::string_view kHealthBody = "ok";
constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";
constexpr std::string_view kJson = "application/json";
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

std::string ErrnoMessage(const std::string& what) { return what + ": " + std::strerror(errno); }

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast and good enough to draw error decisions
// and jitter; one state per connection keeps a single connection's sequence reproducible.
std::uint64_t SplitMix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

// What a parsed request will be answered with; the body is built when the response is due
// (so /metrics and POST ids reflect that moment, not the moment the request arrived).
enum class Reply : std::uint8_t {
  kRoot, kHealth, kItemsList, kItemCreated, kMetrics, kNotFound, kMethodNotAllowed, kInjectedError, kProtocolError
};

struct Pending {
  Reply reply = Reply::kNotFound;
  Route route = Route::kOther;
  Method method = Method::kOther;
  int status = 404;
  bool head = false;
  bool keep_alive = true;
  bool counted = true;        // false for /metrics, which is not counted
  std::string_view allow;     // Allow header of a 405
  Clock::time_point start;    // when the request was parsed
  Clock::duration delay{0};   // injected latency + jitter
};

enum class ConnState : std::uint8_t { kReading, kWaiting, kWriting };

struct Connection {
  int fd = -1;
  std::uint64_t serial = 0;  // distinguishes a reused fd number in stale timer entries
  std::uint64_t rng = 0;
  ConnState state = ConnState::kReading;
  std::uint32_t interest = 0;
  bool peer_closed = false;
  std::string in;
  std::string out;
  std::size_t out_offset = 0;
  Pending pending;
};

struct Timer {
  Clock::time_point due;
  int fd;
  std::uint64_t serial;
  bool operator>(const Timer& other) const { return due > other.due; }
};

enum class Alive : std::uint8_t { kYes, kClosed };

}  // namespace

ServerShared::ServerShared(DemoOptions opts, double start_time_seconds)
    : options(std::move(opts)),
      start(Clock::now()),
      metrics(static_cast<std::size_t>(options.threads), start_time_seconds) {}

bool ServerShared::InStall(Clock::time_point now) const {
  if (options.stall_every.count() <= 0) return false;
  auto since = now - start;
  auto every = std::chrono::duration_cast<Clock::duration>(options.stall_every);
  if (since < every) return false;  // the first stall starts one period after start
  return since % every < options.stall_for;
}

Clock::time_point ServerShared::StallEnd(Clock::time_point now) const {
  auto since = now - start;
  auto every = std::chrono::duration_cast<Clock::duration>(options.stall_every);
  return now - since % every + std::chrono::duration_cast<Clock::duration>(options.stall_for);
}

/// One event loop: its own epoll instance, listener, connections, timer heap and metrics.
class Worker {
 public:
  Worker(ServerShared& shared, std::size_t index) : shared_(shared), metrics_(shared.metrics.ForThread(index)) {}

  ~Worker() {
    for (auto& conn : conns_) {
      if (conn) ::close(conn->fd);
    }
    CloseFd(listen_fd_);
    CloseFd(wake_fd_);
    CloseFd(epoll_fd_);
  }

  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Creates the epoll instance, the wake-up eventfd and the SO_REUSEPORT listener.
  std::optional<std::string> Open(const sockaddr* addr, socklen_t len, const std::string& display) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return ErrnoMessage("epoll_create1");
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return ErrnoMessage("eventfd");
    listen_fd_ = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return ErrnoMessage("socket");
    int one = 1;
    if (::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      return ErrnoMessage("setsockopt");
    }
    if (::bind(listen_fd_, addr, len) != 0) return ErrnoMessage("bind " + display);
    if (::listen(listen_fd_, SOMAXCONN) != 0) return ErrnoMessage("listen " + display);
    if (!Watch(listen_fd_, EPOLLIN) || !Watch(wake_fd_, EPOLLIN)) return ErrnoMessage("epoll_ctl");
    return std::nullopt;
  }

  int ListenFd() const { return listen_fd_; }

  /// Asks the loop to look at shared.stopping; callable from any thread.
  void Wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
  }

  /// The event loop; returns once stopping and drained.
  void Run() {
    epoll_event events[kMaxEvents];
    for (;;) {
      int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, NextTimeoutMs());
      if (n < 0) {
        if (errno == EINTR) continue;
        std::perror("slipway-demo-service: epoll_wait");
        break;
      }
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == listen_fd_) {
          AcceptAll();
        } else if (fd == wake_fd_) {
          OnWake();
        } else {
          OnConnectionEvent(fd, events[i].events);
        }
      }
      Clock::time_point now = Clock::now();
      FireTimers(now);
      if (listener_paused_ && now >= listener_resume_ && !draining_) {
        listener_paused_ = !Watch(listen_fd_, EPOLLIN);
        if (listener_paused_) listener_resume_ = now + kAcceptBackoff;
      }
      if (draining_ && (live_ == 0 || now >= drain_deadline_)) break;
    }
    for (auto& conn : conns_) {
      if (conn) Close(conn.get());
    }
  }

 private:
  bool Watch(int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
  }

  void SetInterest(Connection* c, std::uint32_t events) {
    if (c->interest == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = c->fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev);
    c->interest = events;
  }

  int NextTimeoutMs() const {
    auto next = Clock::time_point::max();
    if (!timers_.empty()) next = timers_.top().due;
    if (draining_) next = std::min(next, drain_deadline_);
    if (listener_paused_) next = std::min(next, listener_resume_);
    if (next == Clock::time_point::max()) return -1;
    auto now = Clock::now();
    if (next <= now) return 0;
    // Round up: waking a little late costs a fraction of a millisecond, waking early a loop.
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(next - now).count();
    return static_cast<int>(std::min<std::int64_t>((us + 999) / 1000, INT_MAX));
  }

  Connection* Lookup(int fd) const {
    if (fd < 0 || static_cast<std::size_t>(fd) >= conns_.size()) return nullptr;
    return conns_[static_cast<std::size_t>(fd)].get();
  }

  void AcceptAll() {
    for (;;) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
          listener_paused_ = true;
          listener_resume_ = Clock::now() + kAcceptBackoff;
        }
        return;
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto conn = std::make_unique<Connection>();
      conn->fd = fd;
      conn->serial = shared_.next_connection.fetch_add(1, std::memory_order_relaxed);
      // Connection n of a process always gets the same stream for a given --seed.
      std::uint64_t seed_state = shared_.options.seed;
      conn->rng = SplitMix64(seed_state) ^ conn->serial;
      conn->interest = EPOLLIN | EPOLLRDHUP;
      if (!Watch(fd, conn->interest)) {
        ::close(fd);
        continue;
      }
      if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(static_cast<std::size_t>(fd) + 1);
      conns_[static_cast<std::size_t>(fd)] = std::move(conn);
      ++live_;
    }
  }

  void OnWake() {
    std::uint64_t value = 0;
    [[maybe_unused]] ssize_t ignored = ::read(wake_fd_, &value, sizeof value);
    if (shared_.stopping.load() && !draining_) BeginDrain();
  }

  void BeginDrain() {
    draining_ = true;
    drain_deadline_ = Clock::now() + kDrainTimeout;
    if (!listener_paused_) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
    CloseFd(listen_fd_);
    listener_paused_ = false;
    // Idle keep-alive connections (and half-sent requests) are closed now; those with a
    // response on its way keep it and close after it is written.
    for (auto& conn : conns_) {
      if (conn && conn->state == ConnState::kReading) Close(conn.get());
    }
  }

  void Close(Connection* c) {
    int fd = c->fd;
    ::shutdown(fd, SHUT_WR);
    ::close(fd);  // also removes it from the epoll set
    conns_[static_cast<std::size_t>(fd)].reset();
    --live_;
  }

  void OnConnectionEvent(int fd, std::uint32_t events) {
    Connection* c = Lookup(fd);
    if (c == nullptr) return;
    if (events & EPOLLERR) {
      Close(c);
      return;
    }
    switch (c->state) {
      case ConnState::kWriting:
        if (Flush(c) == Alive::kYes && c->state == ConnState::kReading) ProcessInput(c);
        return;
      case ConnState::kWaiting:
        if (events & EPOLLHUP) Close(c);
        return;
      case ConnState::kReading:
        break;
    }
    char buf[kReadChunk];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      c->in.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      c->peer_closed = true;  // answer what is buffered, then close
    } else {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      Close(c);
      return;
    }
    ProcessInput(c);
  }

  Alive ProcessInput(Connection* c) {
    while (c->state == ConnState::kReading && !c->in.empty()) {
      ParseResult parsed = ParseHttpRequest(c->in, limits_);
      if (parsed.status == ParseStatus::kIncomplete) break;
      Clock::time_point now = Clock::now();
      if (parsed.status == ParseStatus::kError) {
        PrepareProtocolError(c, parsed.error_status, now);
        c->in.clear();
      } else {
        Prepare(c, parsed.request, now);
        c->in.erase(0, parsed.consumed);
      }
      if (Schedule(c, now) == Alive::kClosed) return Alive::kClosed;
    }
    if (c->state == ConnState::kReading && (c->peer_closed || draining_)) {
      Close(c);
      return Alive::kClosed;
    }
    return Alive::kYes;
  }

  double NextUniform(Connection* c) { return static_cast<double>(SplitMix64(c->rng) >> 11) * 0x1.0p-53; }

  void Prepare(Connection* c, const HttpRequest& request, Clock::time_point now) {
    Pending p;
    p.start = now;
    p.method = MethodFromString(request.method);
    p.head = p.method == Method::kHead;
    p.keep_alive = request.keep_alive;
    bool read_only = p.method == Method::kGet || p.method == Method::kHead;
    bool application = false;  // subject to injected latency and errors

    const std::string_view path = request.path;
    if (path == "/") {
      p.route = Route::kRoot;
      p.reply = read_only ? Reply::kRoot : Reply::kMethodNotAllowed;
      p.allow = "GET, HEAD";
      application = read_only;
    } else if (path == "/health") {
      p.route = Route::kHealth;
      p.reply = read_only ? Reply::kHealth : Reply::kMethodNotAllowed;
      p.allow = "GET, HEAD";
    } else if (path == "/api/items") {
      p.route = Route::kItems;
      p.allow = "GET, HEAD, POST";
      application = read_only || p.method == Method::kPost;
      p.reply = read_only ? Reply::kItemsList : p.method == Method::kPost ? Reply::kItemCreated : Reply::kMethodNotAllowed;
    } else if (path == "/metrics") {
      p.counted = false;
      p.reply = read_only ? Reply::kMetrics : Reply::kMethodNotAllowed;
      p.allow = "GET, HEAD";
    } else {
      p.route = Route::kOther;
      p.reply = Reply::kNotFound;
    }

    if (application) {
      const DemoOptions& options = shared_.options;
      if (options.error_rate > 0 && NextUniform(c) < options.error_rate) p.reply = Reply::kInjectedError;
      Clock::duration delay = std::chrono::duration_cast<Clock::duration>(options.latency);
      if (options.jitter.count() > 0) {
        auto jitter_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options.jitter).count();
        delay += std::chrono::nanoseconds(static_cast<std::int64_t>(NextUniform(c) * static_cast<double>(jitter_ns)));
      }
      p.delay = delay;
    }
    p.status = StatusOf(p.reply);
    c->pending = p;
  }

  void PrepareProtocolError(Connection* c, int status, Clock::time_point now) {
    Pending p;
    p.start = now;
    p.reply = Reply::kProtocolError;
    p.status = status;
    p.keep_alive = false;  // the rest of the input cannot be trusted to frame requests
    c->pending = p;
  }

  static int StatusOf(Reply reply) {
    switch (reply) {
      case Reply::kRoot: case Reply::kHealth: case Reply::kItemsList: case Reply::kMetrics: return 200;
      case Reply::kItemCreated: return 201;
      case Reply::kNotFound: return 404;
      case Reply::kMethodNotAllowed: return 405;
      case Reply::kInjectedError: return 500;
      case Reply::kProtocolError: return 400;
    }
    return 500;
  }

  Alive Schedule(Connection* c, Clock::time_point now) {
    Clock::time_point due = now + c->pending.delay;
    if (due <= now && !shared_.InStall(now)) return Respond(c);
    c->state = ConnState::kWaiting;
    SetInterest(c, 0);  // stop reading: pipelined requests wait in the kernel buffer
    timers_.push(Timer{due, c->fd, c->serial});
    return Alive::kYes;
  }

  void FireTimers(Clock::time_point now) {
    while (!timers_.empty() && timers_.top().due <= now) {
      Timer timer = timers_.top();
      timers_.pop();
      Connection* c = Lookup(timer.fd);
      if (c == nullptr || c->serial != timer.serial || c->state != ConnState::kWaiting) continue;
      if (shared_.InStall(now)) {
        timers_.push(Timer{shared_.StallEnd(now), timer.fd, timer.serial});
        continue;
      }
      if (Respond(c) == Alive::kYes && c->state == ConnState::kReading) ProcessInput(c);
    }
  }

  const std::string& DateHeader() {
    std::time_t second = std::time(nullptr);
    if (second != date_second_) {
      std::tm tm{};
      ::gmtime_r(&second, &tm);
      char buf[64];
      std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
      date_ = buf;
      date_second_ = second;
    }
    return date_;
  }

  Alive Respond(Connection* c) {
    Pending& p = c->pending;
    p.keep_alive = p.keep_alive && !draining_;
    std::string_view content_type = kTextPlain;
    std::string_view body;
    std::string owned_body;
    std::string extra_headers;
    switch (p.reply) {
      case Reply::kRoot: body = kRootBody; break;
      case Reply::kHealth: body = kHealthBody; break;
      case Reply::kItemsList:
        content_type = kJson;
        owned_body = "{\"items\":[{\"id\":1,\"name\":\"anchor\",\"stock\":12},{\"id\":2,\"name\":\"bollard\","
                     "\"stock\":4},{\"id\":3,\"name\":\"capstan\",\"stock\":7}],\"created\":" +
                     std::to_string(shared_.items_created.load(std::memory_order_relaxed)) + "}\n";
        break;
      case Reply::kItemCreated: {
        // Ids after the three fixed items; nothing is stored, so memory stays flat under load.
        std::string id = std::to_string(4 + shared_.items_created.fetch_add(1, std::memory_order_relaxed));
        content_type = kJson;
        owned_body = "{\"id\":" + id + "}\n";
        extra_headers = "Location: /api/items/" + id + "\r\n";
        break;
      }
      case Reply::kMetrics:
        content_type = kMetricsType;
        owned_body = shared_.metrics.Render();
        break;
      case Reply::kNotFound: body = "not found\n"; break;
      case Reply::kMethodNotAllowed:
        body = "method not allowed\n";
        extra_headers = "Allow: " + std::string(p.allow) + "\r\n";
        break;
      case Reply::kInjectedError: body = "injected error\n"; break;
      case Reply::kProtocolError: owned_body = std::string(ReasonPhrase(p.status)) + "\n"; break;
    }
    if (!owned_body.empty()) body = owned_body;

    std::string& out = c->out;
    out += "HTTP/1.1 ";
    out += std::to_string(p.status);
    out += ' ';
    out += ReasonPhrase(p.status);
    out += "\r\nDate: ";
    out += DateHeader();
    out += "\r\nServer: slipway-demo\r\nContent-Type: ";
    out += content_type;
    out += "\r\nContent-Length: ";
    out += std::to_string(body.size());
    out += p.keep_alive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n";
    out += extra_headers;
    out += "\r\n";
    if (!p.head) out += body;

    if (p.counted) metrics_.Record(p.method, p.route, p.status, Clock::now() - p.start);
    c->state = ConnState::kWriting;
    c->out_offset = 0;
    return Flush(c);
  }

  Alive Flush(Connection* c) {
    while (c->out_offset < c->out.size()) {
      ssize_t n = ::send(c->fd, c->out.data() + c->out_offset, c->out.size() - c->out_offset, MSG_NOSIGNAL);
      if (n > 0) {
        c->out_offset += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        SetInterest(c, EPOLLOUT);
        return Alive::kYes;
      }
      Close(c);
      return Alive::kClosed;
    }
    c->out.clear();
    c->out_offset = 0;
    if (!c->pending.keep_alive) {
      Close(c);
      return Alive::kClosed;
    }
    c->state = ConnState::kReading;
    SetInterest(c, EPOLLIN | EPOLLRDHUP);
    return Alive::kYes;
  }

  ServerShared& shared_;
  ThreadMetrics& metrics_;
  HttpLimits limits_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int listen_fd_ = -1;
  std::vector<std::unique_ptr<Connection>> conns_;  // indexed by fd
  std::size_t live_ = 0;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  bool draining_ = false;
  Clock::time_point drain_deadline_;
  bool listener_paused_ = false;
  Clock::time_point listener_resume_;
  std::time_t date_second_ = 0;
  std::string date_;
};

namespace {

double WallClockSeconds() {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(since_epoch).count();
}

void SetPort(sockaddr_storage& addr, int port) {
  if (addr.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6&>(addr).sin6_port = htons(static_cast<std::uint16_t>(port));
  } else {
    reinterpret_cast<sockaddr_in&>(addr).sin_port = htons(static_cast<std::uint16_t>(port));
  }
}

int GetPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6&>(addr).sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in&>(addr).sin_port);
}

}  // namespace

DemoServer::DemoServer(DemoOptions options)
    : shared_(std::make_unique<ServerShared>(std::move(options), WallClockSeconds())) {}

DemoServer::~DemoServer() { Stop(); }

std::string DemoServer::Address() const {
  const std::string& host = shared_->options.listen;
  return (ipv6_ ? "[" + host + "]" : host) + ":" + std::to_string(port_);
}

std::optional<std::string> DemoServer::Bind() {
  const DemoOptions& options = shared_->options;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(options.listen.c_str(), std::to_string(options.port).c_str(), &hints, &found);
  if (rc != 0) return "--listen '" + options.listen + "' is not a numeric address: " + ::gai_strerror(rc);
  sockaddr_storage addr{};
  std::memcpy(&addr, found->ai_addr, found->ai_addrlen);
  socklen_t len = found->ai_addrlen;
  ::freeaddrinfo(found);
  ipv6_ = addr.ss_family == AF_INET6;
  port_ = options.port;

  // SO_REUSEPORT would let us silently share a port with a stale demo service left running by
  // the same user. A plain bind first fails with EADDRINUSE in that case, and with port 0 it
  // picks the port the reuse-port group then takes.
  {
    int probe = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) return ErrnoMessage("socket");
    int one = 1;
    ::setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool bound = ::bind(probe, reinterpret_cast<sockaddr*>(&addr), len) == 0;
    std::string error = bound ? "" : ErrnoMessage("bind " + Address());
    if (bound) port_ = GetPort(probe);
    ::close(probe);
    if (!bound) return error;
    SetPort(addr, port_);
  }

  for (int i = 0; i < options.threads; ++i) {
    auto worker = std::make_unique<Worker>(*shared_, static_cast<std::size_t>(i));
    if (auto error = worker->Open(reinterpret_cast<sockaddr*>(&addr), len, Address())) return error;
    workers_.push_back(std::move(worker));
  }
  return std::nullopt;
}

void DemoServer::Start() {
  for (auto& worker : workers_) {
    threads_.emplace_back([w = worker.get()] { w->Run(); });
  }
}

void DemoServer::Stop() {
  if (threads_.empty()) return;
  shared_->stopping.store(true);
  for (auto& worker : workers_) worker->Wake();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace slipway::demo
