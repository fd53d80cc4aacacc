#include "steps/loadtest/engine.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace slipway::steps::loadtest::internal {

namespace {

constexpr std::int64_t kNever = INT64_MAX;
constexpr int kMaxEvents = 256;

// Finds a needle in a body that arrives in chunks, keeping only the last needle-1 bytes between them.
class ContainsMatcher {
 public:
  void Reset(const std::string* needle) {
    needle_ = needle;
    found_ = false;
    carry_.clear();
    if (needle_ && carry_.capacity() < 2 * needle_->size()) carry_.reserve(2 * needle_->size());
  }
  bool Found() const { return found_; }
  void Feed(const char* p, std::size_t n) {
    if (found_ || !needle_ || n == 0) return;
    const std::string& nd = *needle_;
    const std::size_t keep = nd.size() - 1;
    if (!carry_.empty()) {
      // Matches that straddle the previous chunk and this one.
      std::size_t old = carry_.size();
      carry_.append(p, std::min(n, keep));
      if (carry_.find(nd) != std::string::npos) {
        found_ = true;
        return;
      }
      carry_.resize(old);
    }
    if (std::string_view(p, n).find(nd) != std::string_view::npos) {
      found_ = true;
      return;
    }
    if (keep == 0) return;
    if (n >= keep) {
      carry_.assign(p + n - keep, keep);
    } else {
      carry_.append(p, n);
      if (carry_.size() > keep) carry_.erase(0, carry_.size() - keep);
    }
  }

 private:
  const std::string* needle_ = nullptr;
  bool found_ = false;
  std::string carry_;
};

size_t OnWrite(char* p, size_t size, size_t n, void* userp);

// The engine running on this thread, while its loop runs and the poll shim is enabled.
thread_local Engine* t_engine = nullptr;

bool PollShimEnabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("SLIPWAY_LOADTEST_POLL_SHIM");
    return !(v && std::string(v) == "0");
  }();
  return enabled;
}

}  // namespace

struct Engine::Slot {
  CURL* easy = nullptr;
  int configured = -1;  // the request whose method/url/headers/body the handle carries
  int request = 0;
  std::int64_t intended = 0;
  std::int64_t started = 0;  // when it was handed to libcurl (the timeout counts from here)
  bool capture = false;
  bool in_flight = false;
  ContainsMatcher matcher;
  std::string url;
  std::string body;
  std::vector<std::string> header_text;
  std::vector<curl_slist> header_nodes;
  ~Slot() {
    if (easy) curl_easy_cleanup(easy);
  }
};

namespace {
size_t OnWrite(char* p, size_t size, size_t n, void* userp) {
  auto* s = static_cast<Engine::Slot*>(userp);
  if (s->capture) s->matcher.Feed(p, size * n);
  return size * n;
}
}  // namespace

std::int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

namespace {
std::string Env(const char* lower, const char* upper) {
  const char* v = std::getenv(lower);
  if (!v || !*v) v = std::getenv(upper);
  return v ? v : "";
}
}  // namespace

Expected<Plan> CompilePlan(const Config& cfg, int threads) {
  Plan plan;
  // libcurl's own rules: <scheme>_proxy (http_proxy only in lower case), then ALL_PROXY; NO_PROXY.
  bool https = cfg.target.rfind("https://", 0) == 0;
  plan.proxy = https ? Env("https_proxy", "HTTPS_PROXY") : Env("http_proxy", "http_proxy");
  if (plan.proxy.empty()) plan.proxy = Env("all_proxy", "ALL_PROXY");
  plan.no_proxy = Env("no_proxy", "NO_PROXY");
  plan.cfg = &cfg;
  plan.threads = threads;
  plan.lanes = static_cast<std::uint64_t>(threads) * static_cast<std::uint64_t>(std::max(1, cfg.worker_count));
  plan.lane_base = static_cast<std::uint64_t>(cfg.worker_index) * static_cast<std::uint64_t>(threads);
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < cfg.requests.size(); ++i) {
    const RequestSpec& spec = cfg.requests[i];
    CompiledRequest cr;
    cr.spec = &spec;
    cr.body = spec.body;
    if (!spec.body_file.empty()) {
      std::ifstream in(spec.body_file, std::ios::binary);
      if (!in)
        return Fail("with.requests[" + std::to_string(i) + "].body_file: cannot read '" + spec.body_file + "'");
      std::ostringstream ss;
      ss << in.rdbuf();
      auto t = Template::Parse(ss.str());
      if (!t) return Fail("with.requests[" + std::to_string(i) + "].body_file: " + t.error().message);
      cr.body = std::move(*t);
    }
    cr.dynamic_url = !spec.url.IsStatic();
    cr.dynamic_body = spec.has_body && !cr.body.IsStatic();
    for (const auto& h : spec.headers) cr.dynamic_headers = cr.dynamic_headers || !h.second.IsStatic();
    plan.max_headers = std::max(plan.max_headers, spec.headers.size());
    sum += spec.weight;
    plan.cumulative_weight.push_back(sum);
    plan.requests.push_back(std::move(cr));
  }
  return plan;
}

Engine::Engine(const Plan& plan, int thread_index, Shared& shared, DeltaQueue& queue)
    : plan_(plan),
      cfg_(*plan.cfg),
      thread_index_(thread_index),
      lane_(plan.lane_base + static_cast<std::uint64_t>(thread_index)),
      shared_(shared),
      queue_(queue),
      curl_deadline_(kNever),
      next_start_(kNever),
      rng_((cfg_.seed ? cfg_.seed : static_cast<std::uint64_t>(MonotonicNanos())) * 0x9E3779B97F4A7C15ull + lane_ + 1) {
  sec_.resize(plan.requests.size());
}

Engine::~Engine() {
  for (auto& s : slots_) {
    if (s->in_flight && multi_) curl_multi_remove_handle(multi_, s->easy);
  }
  slots_.clear();  // easy handles go before the multi handle and the URL handles they point to
  if (multi_) curl_multi_cleanup(multi_);
  for (CURLU* u : parsed_urls_) curl_url_cleanup(u);
  if (epfd_ >= 0) close(epfd_);
}

Expected<void> Engine::Init() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return Fail(std::string("epoll_create1: ") + std::strerror(errno));
  multi_ = curl_multi_init();
  if (!multi_) return Fail("curl_multi_init failed");
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Engine::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Engine::OnTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  fds_.resize(1024);
  for (const CompiledRequest& cr : plan_.requests) {
    CURLU* u = nullptr;
    if (!cr.dynamic_url) {
      u = curl_url();
      // Parsed the way libcurl parses CURLOPT_URL, so a URL it would take is taken here too; one it would
      // refuse (config validation lets few through) stays a string and fails per request as before.
      if (u && curl_url_set(u, CURLUPART_URL, cr.spec->url.Text().c_str(), CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) !=
                   CURLUE_OK) {
        curl_url_cleanup(u);
        u = nullptr;
      }
    }
    parsed_urls_.push_back(u);
  }

  const std::uint64_t lanes = plan_.lanes;
  arrival_ = IsArrivalRate(cfg_.executor);
  if (arrival_) {
    double scale = static_cast<double>(kNanosPerSecond) / static_cast<double>(cfg_.time_unit);
    RateProfile profile = cfg_.executor == Executor::kConstantArrivalRate
                              ? RateProfile::Constant(cfg_.rate * scale, cfg_.duration)
                              : RateProfile::FromStages(cfg_.start_rate * scale, cfg_.stages, scale);
    arrivals_.emplace(std::move(profile), lane_, lanes);
    max_slots_ = std::max<std::uint64_t>(1, ShareOf(static_cast<std::uint64_t>(cfg_.max_in_flight), lane_, lanes));
  } else {
    vus_.emplace(cfg_, lane_, lanes);
    max_slots_ = static_cast<std::size_t>(std::max(1, vus_->Peak()));
  }
  quota_ = cfg_.max_requests ? ShareOf(cfg_.max_requests, lane_, lanes) : 0;
  if (cfg_.max_requests && quota_ == 0) draining_ = true;  // more lanes than requests: this one idles
  end_ = cfg_.PlannedDuration();
  hard_stop_ = end_ ? end_ + cfg_.graceful_stop : kNever;
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(max_slots_ + 8));
  sweep_interval_ = std::clamp<std::int64_t>(cfg_.timeout / 20, kNanosPerMilli, 50 * kNanosPerMilli);
  next_sweep_ = sweep_interval_;
  slots_.reserve(max_slots_);
  free_.reserve(max_slots_);
  return {};
}

bool Engine::AnswerPoll(struct pollfd& p, int& answer) {
  if (p.fd < 0 || static_cast<std::size_t>(p.fd) >= fds_.size()) return false;
  const FdState& st = fds_[static_cast<std::size_t>(p.fd)];
  if (!st.owned || !st.established) return false;
  if (st.dead) {
    p.revents = static_cast<short>(POLLIN | (p.events & POLLRDNORM));
    answer = 1;
  } else {
    p.revents = 0;
    answer = 0;
  }
  return true;
}

Engine::FdState& Engine::Fd(int fd) {
  if (static_cast<std::size_t>(fd) >= fds_.size()) fds_.resize(static_cast<std::size_t>(fd) * 2 + 1);
  return fds_[static_cast<std::size_t>(fd)];
}

// libcurl says which events it wants on a socket. Sockets we opened stay registered after libcurl
// drops interest (a kept-alive connection is usually wanted again by the next request), which saves
// two epoll_ctl calls per request; an event on such an idle socket unregisters it then.
void Engine::SetInterest(int fd, int what) {
  FdState& st = Fd(fd);
  std::uint32_t want = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) want |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) want |= EPOLLOUT;
  if (what == CURL_POLL_REMOVE || want == 0) {
    st.wanted = false;
    // Our own sockets stay registered (lazily) on REMOVE; anything else, and an explicit "no events",
    // leaves the epoll set now.
    if (st.registered && (!st.owned || what != CURL_POLL_REMOVE)) {
      epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
      st.registered = 0;
    }
    return;
  }
  st.wanted = true;
  if (st.owned && st.registered == want) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.fd = fd;
  if (st.registered || !st.owned) {
    if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) != 0) epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
  } else {
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
  }
  st.registered = want;
}

int Engine::OnSocket(CURL*, curl_socket_t fd, int what, void* userp, void*) {
  static_cast<Engine*>(userp)->SetInterest(fd, what);
  return 0;
}

int Engine::OnTimer(CURLM*, long timeout_ms, void* userp) {
  auto* e = static_cast<Engine*>(userp);
  if (timeout_ms < 0) {
    e->curl_deadline_ = kNever;
  } else if (timeout_ms == 0) {
    e->curl_deadline_ = INT64_MIN;  // "now": the loop runs the timers before it waits again
  } else {
    // From a fresh clock: a deadline computed from a stale one is already due when the loop looks at
    // it, and the loop would spin through libcurl's timer path instead of waiting for socket events.
    e->curl_deadline_ = MonotonicNanos() - e->shared_.start_ns + static_cast<std::int64_t>(timeout_ms) * kNanosPerMilli;
  }
  return 0;
}

curl_socket_t Engine::OnOpenSocket(void* clientp, curlsocktype, struct curl_sockaddr* address) {
  int fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd < 0) return CURL_SOCKET_BAD;
  FdState& st = static_cast<Engine*>(clientp)->Fd(fd);
  st = FdState{};
  st.owned = true;
  return fd;
}

int Engine::OnCloseSocket(void* clientp, curl_socket_t fd) {
  // Closing drops the fd from the epoll set by itself.
  static_cast<Engine*>(clientp)->Fd(fd) = FdState{};
  return close(fd);
}

Engine::Slot* Engine::NewSlot() {
  auto s = std::make_unique<Slot>();
  CURL* e = curl_easy_init();
  if (!e) return nullptr;
  s->easy = e;
  curl_easy_setopt(e, CURLOPT_PRIVATE, s.get());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &OnWrite);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, s.get());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  // No CURLOPT_TIMEOUT: the loop enforces `timeout` itself (SweepTimeouts), which spares libcurl a timer
  // insert and removal and us a timer callback per request. The connect timeout stays as a backstop.
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(cfg_.timeout / kNanosPerMilli));
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, cfg_.insecure ? 0L : 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, cfg_.insecure ? 0L : 2L);
  if (!cfg_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, cfg_.ca_file.c_str());
  switch (cfg_.http2) {
    case Http2::kAllow:
      curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
      // Wait for a connection that may multiplex rather than opening one per request (h2 only).
      if (cfg_.target.rfind("https://", 0) == 0) curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
      break;
    case Http2::kOff:
      curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
      break;
    case Http2::kPriorKnowledge:
      curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE));
      curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
      break;
  }
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &Engine::OnOpenSocket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &Engine::OnCloseSocket);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "slipway-loadtest/0.1");
  // The proxy settings are read from the environment once (CompilePlan), not by libcurl per request.
  curl_easy_setopt(e, CURLOPT_PROXY, plan_.proxy.c_str());
  curl_easy_setopt(e, CURLOPT_NOPROXY, plan_.no_proxy.c_str());
  s->header_text.resize(plan_.max_headers);
  s->header_nodes.resize(plan_.max_headers + 1);
  s->url.reserve(256);
  slots_.push_back(std::move(s));
  return slots_.back().get();
}

Engine::Slot* Engine::Acquire() {
  if (!free_.empty()) {
    Slot* s = free_.back();
    free_.pop_back();
    return s;
  }
  if (slots_.size() < max_slots_) return NewSlot();
  return nullptr;
}

void Engine::Release(Slot* s) { free_.push_back(s); }

int Engine::PickRequest() {
  const auto& cw = plan_.cumulative_weight;
  if (cw.size() == 1) return 0;
  std::uint64_t x = rng_.Below(cw.back());
  int i = 0;
  while (cw[static_cast<std::size_t>(i)] <= x) ++i;
  return i;
}

void Engine::Configure(Slot* s, int request, std::uint64_t index) {
  const CompiledRequest& cr = plan_.requests[static_cast<std::size_t>(request)];
  const RequestSpec& spec = *cr.spec;
  CURL* e = s->easy;
  TemplateContext ctx{index, cfg_.worker_index, &rng_};
  if (s->configured != request) {
    // NOBODY first: clearing it turns a HEAD back into GET before the method is set again.
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    if (spec.method == "HEAD") {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, static_cast<const char*>(nullptr));
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (spec.has_body) {
      if (!cr.dynamic_body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, cr.body.Text().data());
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(cr.body.Text().size()));
      }
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, spec.method == "POST" ? nullptr : spec.method.c_str());
    } else {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, spec.method == "GET" ? nullptr : spec.method.c_str());
    }
    // The string as well as the parsed handle: libcurl keeps the string as "the URL" for what it reports.
    if (!cr.dynamic_url) curl_easy_setopt(e, CURLOPT_URL, spec.url.Text().c_str());
    curl_easy_setopt(e, CURLOPT_CURLU, parsed_urls_[static_cast<std::size_t>(request)]);
    s->capture = !spec.expect.body_contains.empty();
    s->configured = request;
  }
  if (cr.dynamic_url) {
    spec.url.Render(ctx, s->url);
    curl_easy_setopt(e, CURLOPT_URL, s->url.c_str());
  }
  if (cr.dynamic_body) {
    cr.body.Render(ctx, s->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(s->body.size()));
  }
  // Header list: nodes owned by the slot pointing at the spec's strings (or the slot's rendered copies),
  // so no curl_slist is allocated per request.
  std::size_t n = 0;
  for (std::size_t i = 0; i < spec.headers.size(); ++i) {
    const Template& t = spec.headers[i].second;
    const char* text;
    if (t.IsStatic()) {
      text = t.Text().c_str();
    } else {
      t.Render(ctx, s->header_text[i]);
      text = s->header_text[i].c_str();
    }
    s->header_nodes[n].data = const_cast<char*>(text);
    ++n;
  }
  if (spec.has_body) {
    // No "Expect: 100-continue" round trip for large bodies.
    s->header_nodes[n].data = const_cast<char*>("Expect:");
    ++n;
  }
  for (std::size_t i = 0; i < n; ++i) s->header_nodes[i].next = i + 1 < n ? &s->header_nodes[i + 1] : nullptr;
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, n ? &s->header_nodes[0] : nullptr);
  if (s->capture) s->matcher.Reset(&spec.expect.body_contains);
}

void Engine::Start(Slot* s, std::int64_t intended, std::uint64_t index) {
  int request = PickRequest();
  Configure(s, request, index);
  s->request = request;
  s->intended = intended;
  s->started = now_;
  s->in_flight = true;
  ++in_flight_;
  ++started_;
  if (curl_multi_add_handle(multi_, s->easy) != CURLM_OK) {
    // Cannot happen with a valid handle; count it rather than lose track of the slot.
    s->in_flight = false;
    --in_flight_;
    Record(s, CURLE_FAILED_INIT, now_);
    Release(s);
  }
}

void Engine::StartDue(std::int64_t now) {
  if (arrival_) {
    while (arrivals_->Time() <= now) {
      if (!QuotaLeft()) {
        draining_ = true;
        break;
      }
      Slot* s = Acquire();
      if (s) {
        Start(s, arrivals_->Time(), arrivals_->Index());
      } else {
        ++dropped_sec_;
        sec_dirty_ = true;
      }
      arrivals_->Advance();
    }
    if (arrivals_->Time() == ArrivalSchedule::kNever) draining_ = true;
    next_start_ = arrivals_->Time();
    return;
  }
  vu_target_ = vus_->TargetAt(now);
  while (active_vus_ < vu_target_ && QuotaLeft()) {
    Slot* s = Acquire();
    if (!s) break;
    ++active_vus_;
    Start(s, now, started_ * plan_.lanes + lane_);
  }
  if (!QuotaLeft()) draining_ = true;
  // A ramp changes the target continuously; look again soon.
  next_start_ = vus_->Ramping() ? now + 10 * kNanosPerMilli : kNever;
}

void Engine::Record(Slot* s, int curl_code, std::int64_t now) {
  const RequestSpec& spec = *plan_.requests[static_cast<std::size_t>(s->request)].spec;
  RequestSecond& rs = sec_[static_cast<std::size_t>(s->request)];
  std::int64_t latency = now - s->intended;
  long status = 0;
  int cause = -1;
  if (curl_code == CURLE_OK) {
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    bool status_ok;
    if (spec.expect.statuses.empty()) {
      status_ok = status >= 200 && status < 400;
    } else {
      status_ok = false;
      for (int code : spec.expect.statuses) status_ok = status_ok || code == status;
    }
    if (!status_ok) cause = static_cast<int>(Cause::kStatus);
    else if (s->capture && !s->matcher.Found()) cause = static_cast<int>(Cause::kExpectation);
    else if (spec.expect.max_latency && latency > spec.expect.max_latency) cause = static_cast<int>(Cause::kExpectation);
    long version = 0;
    curl_easy_getinfo(s->easy, CURLINFO_HTTP_VERSION, &version);
    // Only a transfer that opened its connection needs to mark it: a reused one was marked before. (The
    // socket lookup walks libcurl's connection cache, NUM_CONNECTS is a field read.)
    long connects = 0;
    curl_socket_t sock = CURL_SOCKET_BAD;
    if (curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0 &&
        curl_easy_getinfo(s->easy, CURLINFO_ACTIVESOCKET, &sock) == CURLE_OK && sock != CURL_SOCKET_BAD) {
      FdState& st = Fd(sock);
      st.established = st.owned;
    }
    ++protocols_sec_[version == CURL_HTTP_VERSION_2_0 ? 1 : version == CURL_HTTP_VERSION_3 ? 2 : 0];
  } else if (curl_code == CURLE_OPERATION_TIMEDOUT) {
    cause = static_cast<int>(Cause::kTimeout);
  } else {
    cause = static_cast<int>(Cause::kConnect);
  }
  ++rs.requests;
  if (cause >= 0) {
    ++rs.errors;
    ++rs.causes[static_cast<std::size_t>(cause)];
  }
  ++rs.status[status > 0 && status < 600 ? static_cast<std::size_t>(status) : 0];
  if (cause != static_cast<int>(Cause::kConnect)) rs.latency.Record(latency);
  sec_dirty_ = true;
}

void Engine::Complete(Slot* s, int code, std::int64_t now) {
  Record(s, code, now);
  curl_multi_remove_handle(multi_, s->easy);
  s->in_flight = false;
  --in_flight_;
  if (!arrival_) {
    // A VU starts its next request at once (closed model) unless the ramp, the quota or the end says stop.
    if (!draining_ && active_vus_ <= vu_target_ && QuotaLeft() &&
        shared_.stop.load(std::memory_order_relaxed) == kRunning) {
      Start(s, now, started_ * plan_.lanes + lane_);
      return;
    }
    --active_vus_;
  }
  Release(s);
}

void Engine::ProcessDone(std::int64_t now) {
  if (now >= next_second_) Rollover(now);
  int queued = 0;
  CURLMsg* msg;
  while ((msg = curl_multi_info_read(multi_, &queued)) != nullptr) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURLcode code = msg->data.result;
    Slot* s = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&s));
    Complete(s, code, now);
  }
  if (now >= next_sweep_) SweepTimeouts(now);
}

void Engine::SweepTimeouts(std::int64_t now) {
  next_sweep_ = now + sweep_interval_;
  for (auto& slot : slots_) {
    Slot* s = slot.get();
    if (s->in_flight && now - s->started > cfg_.timeout) Complete(s, CURLE_OPERATION_TIMEDOUT, now);
  }
}

void Engine::Rollover(std::int64_t now) {
  Flush();
  cur_second_ = now / kNanosPerSecond;
  next_second_ = (cur_second_ + 1) * kNanosPerSecond;
}

void Engine::Flush() {
  if (!sec_dirty_) return;
  Delta d;
  d.second = cur_second_;
  d.dropped = dropped_sec_;
  d.protocols = protocols_sec_;
  d.per_request.resize(sec_.size());
  for (std::size_t r = 0; r < sec_.size(); ++r) {
    RequestSecond& rs = sec_[r];
    if (rs.requests == 0) continue;
    RequestDelta& out = d.per_request[r];
    out.requests = rs.requests;
    out.errors = rs.errors;
    out.causes = rs.causes;
    for (std::size_t code = 0; code < rs.status.size(); ++code)
      if (rs.status[code]) out.status.emplace_back(static_cast<int>(code), rs.status[code]);
    out.latency = rs.latency.ToSparse();
    rs.latency.Reset();
    rs.requests = rs.errors = 0;
    rs.causes.fill(0);
    rs.status.fill(0);
  }
  dropped_sec_ = 0;
  protocols_sec_.fill(0);
  sec_dirty_ = false;
  queue_.Push(std::move(d));
}

void Engine::InterruptAll() {
  for (auto& s : slots_) {
    if (!s->in_flight) continue;
    curl_multi_remove_handle(multi_, s->easy);
    s->in_flight = false;
    --in_flight_;
    ++interrupted_;
    Release(s.get());
  }
  active_vus_ = 0;
}

// epoll_pwait2 waits to the nanosecond, which pacing needs; where it is missing (kernels before 5.11,
// seccomp profiles that predate it, valgrind) epoll_wait's milliseconds, rounded up, have to do.
int Engine::Wait(epoll_event* events, std::int64_t wait_ns) {
  if (pwait2_) {
    timespec ts{static_cast<time_t>(wait_ns / kNanosPerSecond), static_cast<long>(wait_ns % kNanosPerSecond)};
    int n = epoll_pwait2(epfd_, events, kMaxEvents, &ts, nullptr);
    if (n >= 0 || (errno != ENOSYS && errno != EPERM)) return n;
    pwait2_ = false;
  }
  return epoll_wait(epfd_, events, kMaxEvents, static_cast<int>((wait_ns + kNanosPerMilli - 1) / kNanosPerMilli));
}

void Engine::Loop() {
  const std::int64_t start = shared_.start_ns;
  // Everyone starts together at t = 0.
  for (std::int64_t wait = start - MonotonicNanos(); wait > 0; wait = start - MonotonicNanos()) {
    timespec ts{static_cast<time_t>(wait / kNanosPerSecond), static_cast<long>(wait % kNanosPerSecond)};
    nanosleep(&ts, nullptr);
  }
  epoll_event events[kMaxEvents];
  int running = 0;
  if (PollShimEnabled()) t_engine = this;
  for (;;) {
    now_ = MonotonicNanos() - start;
    if (now_ >= next_second_) Rollover(now_);
    int stop = shared_.stop.load(std::memory_order_relaxed);
    if (stop == kInterrupt || now_ >= hard_stop_) {
      InterruptAll();
      break;
    }
    if (!draining_ && (stop == kGraceful || (end_ > 0 && now_ >= end_))) draining_ = true;
    if (!draining_) StartDue(now_);
    in_flight_atomic_.store(in_flight_, std::memory_order_relaxed);
    if (draining_ && in_flight_ == 0) break;
    if (curl_deadline_ <= now_) {
      curl_deadline_ = kNever;
      curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
      ProcessDone(MonotonicNanos() - start);
      continue;
    }
    std::int64_t wake = std::min({curl_deadline_, draining_ ? kNever : next_start_, next_second_, next_sweep_,
                                  draining_ ? hard_stop_ : (end_ > 0 ? end_ : kNever), now_ + 100 * kNanosPerMilli});
    std::int64_t wait = std::max<std::int64_t>(0, wake - now_);
    int n = Wait(events, wait);
    now_ = MonotonicNanos() - start;
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      FdState& st = Fd(fd);
      if (!st.wanted) {
        // An idle kept-alive socket became readable (the server closed it) or errored: stop watching;
        // libcurl notices the dead connection when it next looks at it (through the poll shim).
        epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
        st.registered = 0;
        st.dead = true;
        continue;
      }
      int bits = 0;
      if (events[i].events & EPOLLIN) bits |= CURL_CSELECT_IN;
      if (events[i].events & EPOLLOUT) bits |= CURL_CSELECT_OUT;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) bits |= CURL_CSELECT_ERR;
      curl_multi_socket_action(multi_, fd, bits, &running);
    }
    ProcessDone(now_);
  }
  t_engine = nullptr;
  now_ = MonotonicNanos() - start;
  Flush();
  in_flight_atomic_.store(0, std::memory_order_relaxed);
  finished_.store(true, std::memory_order_release);
}

}  // namespace slipway::steps::loadtest::internal

// The poll shim. libcurl 7.88, driven by curl_multi_socket_action, still calls poll(fd, 1, 0) twice per
// request on a kept-alive HTTP/1.1 connection: once to see whether an idle connection is still alive
// before reusing it, and once right after sending to see whether the response is already readable.
// Under virtualisation those two syscalls cost as much as the send and the recv together. This binary
// defines poll() (libcurl binds to it through the executable's dynamic symbol table), and on an engine
// thread answers zero-timeout single-fd polls on connections the engine opened and has completed a
// request on from what the event loop knows:
//   - "not ready": libcurl then waits for the socket event it registered for, which epoll (level-
//     triggered) delivers at once if the data is there: a correct answer is never lost, only delayed
//     to the next loop turn;
//   - "readable" for a connection that epoll saw hang up or receive data while idle, so libcurl
//     discards it as it would have. A connection that died since the last epoll_wait is reused once,
//     fails before any byte arrives, and libcurl retries the request on a fresh connection (its
//     documented behaviour for reused connections).
// Connects, TLS handshakes and every other thread go to the real poll. SLIPWAY_LOADTEST_POLL_SHIM=0
// turns the shim off.
extern "C" int __poll(struct pollfd* fds, nfds_t nfds, int timeout);

// glibc declares poll() with access(write_only) on fds, so at -O3 GCC takes our read of fds[0].fd (poll does read
// fd and events) for a read of uninitialised memory.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
extern "C" int poll(struct pollfd* fds, nfds_t nfds, int timeout) {
  using slipway::steps::loadtest::internal::t_engine;
  if (nfds == 1 && timeout == 0 && t_engine != nullptr) {
    int answer = 0;
    if (t_engine->AnswerPoll(fds[0], answer)) return answer;
  }
  return __poll(fds, nfds, timeout);
}
#pragma GCC diagnostic pop
