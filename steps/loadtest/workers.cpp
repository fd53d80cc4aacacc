// Scale-out on one machine: N `slipway loadtest --worker` processes, each running its share of the
// schedule (lanes are dealt round-robin over all workers' threads), whose JSON results merge exactly.
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <unistd.h>

#include "steps/loadtest/loadtest.h"
#include "steps/loadtest/process.h"

namespace slipway::steps::loadtest {

namespace {

std::string SelfExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "/proc/self/exe";
  return std::string(buf, static_cast<std::size_t>(n));
}

// A temporary file holding `text`; removed by the destructor.
class TempFile {
 public:
  static Expected<TempFile> Create(const std::string& text) {
    const char* dir = std::getenv("TMPDIR");
    std::string pattern = std::string(dir && *dir ? dir : "/tmp") + "/slipway-loadtest-XXXXXX.json";
    std::vector<char> path(pattern.begin(), pattern.end());
    path.push_back('\0');
    int fd = mkstemps(path.data(), 5);
    if (fd < 0) return Fail("cannot create a temporary file in " + std::string(dir && *dir ? dir : "/tmp"));
    std::size_t done = 0;
    while (done < text.size()) {
      ssize_t w = write(fd, text.data() + done, text.size() - done);
      if (w <= 0) {
        close(fd);
        unlink(path.data());
        return Fail("cannot write a temporary file");
      }
      done += static_cast<std::size_t>(w);
    }
    close(fd);
    TempFile t;
    t.path_ = path.data();
    return t;
  }
  TempFile() = default;
  TempFile(TempFile&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile() {
    if (!path_.empty()) unlink(path_.c_str());
  }
  const std::string& Path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

Expected<Result> ParseWorkerOutput(const std::string& out, const std::string& who) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos <= out.size()) {
    std::size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) nl = out.size();
    lines.push_back(out.substr(pos, nl - pos));
    pos = nl + 1;
  }
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->empty() || it->front() != '{') continue;
    auto j = nlohmann::json::parse(*it, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("schema")) continue;
    auto r = ResultFromJson(j);
    if (!r) return Fail(who + ": " + r.error().message);
    return r;
  }
  return Fail(who + " printed no result");
}

Expected<std::vector<Result>> RunLocalWorkers(const Config& cfg, const Hooks& hooks) {
  auto with = WorkerWith(cfg, BodyFiles::kKeep);
  if (!with) return tl::unexpected(with.error());
  auto file = TempFile::Create(with->dump());
  if (!file) return tl::unexpected(file.error());
  const std::string exe = hooks.worker_executable.empty() ? SelfExe() : hooks.worker_executable;
  const int n = cfg.workers;
  std::vector<std::vector<std::string>> argvs;
  for (int i = 0; i < n; ++i) {
    argvs.push_back({exe, "loadtest", "--config", file->Path(), "--worker", "--worker-index", std::to_string(i),
                     "--worker-count", std::to_string(n), "--progress-json"});
    if (cfg.threads > 0) {
      argvs.back().push_back("--threads");
      argvs.back().push_back(std::to_string(cfg.threads));
    }
  }
  internal::ProcessOptions options;
  options.cancel = hooks.cancel;
  Nanos planned = cfg.PlannedDuration();
  if (planned > 0) options.timeout = planned + cfg.graceful_stop + 60 * kNanosPerSecond;
  std::vector<Progress> latest(static_cast<std::size_t>(n));
  options.on_stderr_line = [&](std::size_t index, std::string_view line) {
    Progress p;
    if (!ParseProgressJsonLine(line, p)) return false;
    latest[index] = p;
    // Report once per round, when the first worker speaks; percentiles cannot be added, so p95 is the
    // slowest worker's (the exact merge comes at the end).
    if (index == 0 && hooks.on_progress) {
      Progress sum;
      for (const auto& w : latest) {
        sum.elapsed_s = std::max(sum.elapsed_s, w.elapsed_s);
        sum.planned_s = std::max(sum.planned_s, w.planned_s);
        sum.requests += w.requests;
        sum.errors += w.errors;
        sum.dropped += w.dropped;
        sum.rps += w.rps;
        sum.p95_ms = std::max(sum.p95_ms, w.p95_ms);
        sum.in_flight += w.in_flight;
      }
      hooks.on_progress(sum);
    }
    return true;
  };
  auto results = internal::RunProcesses(argvs, options);
  if (!results) return tl::unexpected(results.error());
  std::vector<Result> parts;
  for (int i = 0; i < n; ++i) {
    const internal::ProcessResult& pr = (*results)[static_cast<std::size_t>(i)];
    std::string who = "worker " + std::to_string(i);
    if (pr.cancelled) return Fail("load test cancelled");
    if (pr.timed_out) return Fail(who + " did not finish in time");
    if (pr.exit_code != 0) {
      std::string tail = pr.err.size() > 2000 ? pr.err.substr(pr.err.size() - 2000) : pr.err;
      while (!tail.empty() && tail.back() == '\n') tail.pop_back();
      return Fail(who + " (" + exe + ") " +
                  (pr.signal ? "was killed by signal " + std::to_string(pr.signal)
                             : "exited with code " + std::to_string(pr.exit_code)) +
                  (tail.empty() ? "" : ": " + tail));
    }
    auto r = ParseWorkerOutput(pr.out, who);
    if (!r) return tl::unexpected(r.error());
    parts.push_back(std::move(*r));
  }
  return parts;
}

}  // namespace slipway::steps::loadtest
