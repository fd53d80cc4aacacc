#include "pipeline/state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "pipeline/events.h"

namespace slipway::pipeline {

using nlohmann::json;

uint64_t State::MaxSeq() const {
  uint64_t m = 0;
  for (const auto& [_, s] : steps) m = std::max(m, s.seq);
  return m;
}

std::vector<OwnedChange> StepState::Owned() const {
  std::vector<OwnedChange> owned = history;
  if (status == "succeeded" && !rollback.is_null()) owned.push_back({run_id, seq, rollback, rendered, masked});
  if (owned.size() > kMaxOwnedChanges)  // keep the first and the latest ones
    owned.erase(owned.begin() + 1, owned.end() - static_cast<std::ptrdiff_t>(kMaxOwnedChanges - 1));
  return owned;
}

static json ToJson(const OwnedChange& c) {
  return json{{"run_id", c.run_id}, {"seq", c.seq}, {"rollback", c.rollback}, {"rendered", c.rendered}, {"masked", c.masked}};
}

json ToJson(const StepState& s) {
  json history = json::array();
  for (const auto& c : s.history) history.push_back(ToJson(c));
  return json{{"history", history},
              {"status", s.status},     {"kind", s.kind},         {"started", s.started},
              {"finished", s.finished}, {"attempts", s.attempts}, {"fingerprint", s.fingerprint},
              {"outputs", s.outputs},   {"rollback", s.rollback}, {"rendered", s.rendered},
              {"reason", s.reason},     {"seq", s.seq},           {"run_id", s.run_id},
              {"masked", s.masked}};
}

json ToJson(const RunInfo& r) {
  return json{{"id", r.id},           {"status", r.status},   {"started", r.started}, {"finished", r.finished},
              {"command", r.command}, {"host", r.host},       {"pid", r.pid}};
}

json ToJson(const State& s) {
  json steps = json::object();
  for (const auto& [id, st] : s.steps) steps[id] = ToJson(st);
  return json{{"version", s.version}, {"plan", s.plan}, {"revision", s.revision}, {"run", ToJson(s.run)},
              {"steps", steps}};
}

static StepState StepFromJson(const json& j) {
  StepState s;
  s.status = j.value("status", "pending");
  s.kind = j.value("kind", "");
  s.started = j.value("started", "");
  s.finished = j.value("finished", "");
  s.attempts = j.value("attempts", 0);
  s.fingerprint = j.value("fingerprint", "");
  if (j.contains("outputs") && j["outputs"].is_object())
    for (auto& [k, v] : j["outputs"].items()) s.outputs[k] = v.is_string() ? v.get<std::string>() : v.dump();
  s.rollback = j.value("rollback", json());
  s.rendered = j.value("rendered", json());
  s.reason = j.value("reason", "");
  s.seq = j.value("seq", uint64_t{0});
  s.run_id = j.value("run_id", "");
  s.masked = j.value("masked", false);
  if (j.contains("history") && j["history"].is_array())
    for (const auto& c : j["history"]) {
      if (!c.is_object()) continue;
      s.history.push_back({c.value("run_id", ""), c.value("seq", uint64_t{0}), c.value("rollback", json()),
                           c.value("rendered", json()), c.value("masked", false)});
    }
  return s;
}

static RunInfo RunFromJson(const json& j) {
  RunInfo r;
  r.id = j.value("id", "");
  r.status = j.value("status", "");
  r.started = j.value("started", "");
  r.finished = j.value("finished", "");
  r.command = j.value("command", "");
  r.host = j.value("host", "");
  r.pid = j.value("pid", 0);
  return r;
}

static Expected<std::string> ReadFile(const std::filesystem::path& p, bool& exists) {
  std::ifstream in(p, std::ios::binary);
  exists = static_cast<bool>(in);
  if (!in) return std::string();
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

static std::string CorruptHint(const std::filesystem::path& file) {
  std::filesystem::path bak = file;
  bak += ".bak";
  std::string hint = "; nothing was changed.";
  if (std::filesystem::exists(bak)) hint += " The previous good copy is " + bak.string() + " (move it back to resume).";
  hint += " Or pass --fresh to start over (the damaged file is kept aside).";
  return hint;
}

static Expected<State> Parse(const std::filesystem::path& dir, const std::string& plan) {
  std::filesystem::path snapshot = dir / (plan + ".json"), journal = dir / (plan + ".journal");
  State state;
  state.plan = plan;
  bool exists = false;
  auto text = ReadFile(snapshot, exists);
  if (exists) {
    json j = json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("version"))
      return Fail("state file " + snapshot.string() + " is corrupt or truncated (not a complete JSON document)" +
                  CorruptHint(snapshot));
    if (!j["version"].is_number_integer())
      return Fail("state file " + snapshot.string() + " has no valid version" + CorruptHint(snapshot));
    int version = j["version"].get<int>();
    if (version > kStateVersion)
      return Fail("state file " + snapshot.string() + " was written by a newer slipway (format version " +
                  std::to_string(version) + ", this one reads up to " + std::to_string(kStateVersion) +
                  "); upgrade slipway, or use another --state directory. Nothing was changed.");
    try {
      state.revision = j.value("revision", uint64_t{0});
      if (j.contains("run")) state.run = RunFromJson(j["run"]);
      if (j.contains("steps"))
        for (auto& [id, s] : j["steps"].items()) state.steps[id] = StepFromJson(s);
    } catch (const json::exception& e) {
      return Fail("state file " + snapshot.string() + " is corrupt: " + e.what() + CorruptHint(snapshot));
    }
  }
  auto jtext = ReadFile(journal, exists);
  if (exists && !jtext->empty()) {
    std::istringstream in(*jtext);
    std::string line;
    int n = 0;
    bool complete_last = jtext->back() == '\n';
    std::vector<std::string> lines;
    while (std::getline(in, line)) lines.push_back(line);
    for (size_t i = 0; i < lines.size(); ++i) {
      ++n;
      bool last = i + 1 == lines.size();
      json j = json::parse(lines[i], nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        if (last && !complete_last) break;  // torn final append: the crash happened mid-write
        return Fail("state journal " + journal.string() + " is corrupt at line " + std::to_string(n) +
                    "; nothing was changed. Pass --fresh to start over (the damaged files are kept aside).");
      }
      if (last && !complete_last) break;
      try {
        uint64_t rev = j.value("rev", uint64_t{0});
        if (rev <= state.revision) continue;  // already in the snapshot
        state.revision = rev;
        if (j.contains("run")) state.run = RunFromJson(j["run"]);
        if (j.contains("step")) state.steps[j["step"].get<std::string>()] = StepFromJson(j["state"]);
      } catch (const json::exception& e) {
        return Fail("state journal " + journal.string() + " is corrupt at line " + std::to_string(n) + ": " +
                    e.what());
      }
    }
  }
  return state;
}

Expected<State> LoadState(const std::filesystem::path& dir, const std::string& plan) { return Parse(dir, plan); }

StateStore::StateStore(std::filesystem::path dir, std::string plan, const Masker& masker)
    : dir_(std::move(dir)), masker_(masker) {
  snapshot_ = dir_ / (plan + ".json");
  journal_ = dir_ / (plan + ".journal");
  state_.plan = std::move(plan);
}

Expected<std::unique_ptr<StateStore>> StateStore::Open(const std::filesystem::path& dir, const std::string& plan,
                                                       const Masker& masker, bool fresh) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail("cannot create state directory " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  std::unique_ptr<StateStore> store(new StateStore(dir, plan, masker));
  auto loaded = Parse(dir, plan);
  if (!loaded) {
    if (!fresh) return tl::unexpected(loaded.error());
    // --fresh over damaged state: keep the damaged files aside, never delete them.
    std::string stamp = std::to_string(::time(nullptr));
    for (const auto& p : {store->snapshot_, store->journal_}) {
      if (!std::filesystem::exists(p)) continue;
      std::filesystem::path aside = p;
      aside += ".corrupt." + stamp;
      std::filesystem::rename(p, aside, ec);
    }
  } else {
    // Kept with --fresh too: the records say what the plan owns (the session does not reuse them).
    store->state_ = std::move(*loaded);
  }
  store->state_.plan = plan;
  store->journal_fd_ = ::open(store->journal_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (store->journal_fd_ < 0) return Fail("cannot open " + store->journal_.string() + ": " + std::strerror(errno));
  if (fresh) {
    // Start the run from one compacted snapshot (and, over damaged state, a new one).
    if (auto c = store->Compact(); !c) return tl::unexpected(c.error());
  }
  store->syncer_ = std::thread([s = store.get()] { s->SyncLoop(); });
  return store;
}

StateStore::~StateStore() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
  if (journal_fd_ >= 0) {
    ::fdatasync(journal_fd_);
    ::close(journal_fd_);
  }
}

State StateStore::Snapshot() const {
  std::lock_guard lock(mu_);
  return state_;
}

uint64_t StateStore::Revision() const {
  std::lock_guard lock(mu_);
  return state_.revision;
}

uint64_t StateStore::NextSeq() {
  std::lock_guard lock(mu_);
  return state_.MaxSeq() + 1;
}

void StateStore::Append(const json& line) {
  // Called with mu_ held. One write() per line: O_APPEND keeps lines whole and ordered.
  std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(journal_fd_, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    done += static_cast<size_t>(n);
  }
  ++appended_;
  cv_.notify_all();
}

void StateStore::PutRun(const RunInfo& run) {
  std::lock_guard lock(mu_);
  state_.run = run;
  ++state_.revision;
  Append(json{{"rev", state_.revision}, {"run", ToJson(run)}});
}

StepState StateStore::PutStep(const std::string& id, StepState s) {
  // Mask secrets in everything that reaches the disk; remember that we did.
  json outputs = s.outputs;
  std::string before = outputs.dump() + s.rendered.dump() + s.rollback.dump();
  json masked_outputs = json::parse(masker_.Mask(outputs.dump()));
  json masked_rendered = json::parse(masker_.Mask(s.rendered.dump()));
  json masked_rollback = json::parse(masker_.Mask(s.rollback.dump()));
  std::string after = masked_outputs.dump() + masked_rendered.dump() + masked_rollback.dump();
  if (before != after) s.masked = true;
  s.outputs.clear();
  for (auto& [k, v] : masked_outputs.items()) s.outputs[k] = v.get<std::string>();
  s.rendered = masked_rendered;
  s.rollback = masked_rollback;
  s.reason = masker_.Mask(s.reason);
  for (auto& c : s.history) {
    std::string was = c.rendered.dump() + c.rollback.dump();
    c.rendered = json::parse(masker_.Mask(c.rendered.dump()));
    c.rollback = json::parse(masker_.Mask(c.rollback.dump()));
    if (was != c.rendered.dump() + c.rollback.dump()) c.masked = true;
  }
  std::lock_guard lock(mu_);
  state_.steps[id] = s;
  ++state_.revision;
  Append(json{{"rev", state_.revision}, {"step", id}, {"state", ToJson(s)}});
  return s;
}

void StateStore::SyncLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || appended_ > synced_; });
    if (appended_ == synced_ && stop_) return;
    uint64_t target = appended_;
    int fd = journal_fd_;
    lock.unlock();
    ::fdatasync(fd);  // everything appended before this call is now durable
    lock.lock();
    synced_ = std::max(synced_, target);
    cv_.notify_all();
  }
}

void StateStore::Sync() {
  std::unique_lock lock(mu_);
  uint64_t target = appended_;
  cv_.wait(lock, [&] { return synced_ >= target || stop_; });
}

Expected<void> StateStore::Compact(const FaultHook& fault) {
  std::lock_guard lock(mu_);
  std::string text = ToJson(state_).dump(2) + "\n";
  auto written = WriteFileAtomically(snapshot_, text, 0600, /*keep_backup=*/true, fault);
  if (!written) return written;
  // The snapshot now holds every journal line; start the journal afresh.
  if (::ftruncate(journal_fd_, 0) != 0) return Fail("truncate " + journal_.string() + ": " + std::strerror(errno));
  ::fdatasync(journal_fd_);
  synced_ = appended_;
  return {};
}

}  // namespace slipway::pipeline
