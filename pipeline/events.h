#pragma once
// Run events and how they reach people and machines. The executor and the steps emit events;
// a Reporter turns them into console text (plain or a live TTY view), JSON lines, or GitHub
// Actions workflow commands. Every line passes through the Masker first.

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "pipeline/secrets.h"
#include "pipeline/subprocess.h"

namespace slipway::pipeline {

enum class Level { kDebug, kInfo, kWarn, kError };

/// One thing that happened. `name` is a stable event name (step_started, step_finished, ...).
struct Event {
  Level level = Level::kInfo;
  std::string name;
  std::string step;      // empty for run-level events
  std::string message;   // for people
  nlohmann::json fields = nlohmann::json::object();
  SourceLoc loc;         // where in the plan, for annotations
};

/// Receives events from any thread.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Emit(const Event& e) = 0;
  /// A line a step's process printed.
  virtual void Output(const std::string& step, Stream stream, std::string_view line) = 0;
};

enum class LogFormat { kText, kJson };

struct ReporterOptions {
  LogFormat format = LogFormat::kText;
  bool github = false;     // GITHUB_ACTIONS=true: ::group:: per step, ::error:: annotations
  bool live = false;       // a TTY: keep a live status line at the bottom
  bool color = false;
  int verbosity = 0;       // -1 quiet, 0 normal, 1 verbose (debug events)
};

/// The console reporter: writes through a spdlog logger whose pattern is "%v".
class Reporter : public EventSink {
 public:
  Reporter(std::shared_ptr<spdlog::logger> logger, const Masker& masker, ReporterOptions options);
  ~Reporter() override;
  void Emit(const Event& e) override;
  void Output(const std::string& step, Stream stream, std::string_view line) override;
  /// Prints a block of text as is (masked), e.g. a dry-run listing. Not an event in JSON mode.
  void Print(const std::string& text);
  /// Stops the live view so final output is not overwritten.
  void Finish();

 private:
  void Write(const std::string& line);    // clears/redraws the live status line around it
  void DrawStatus();
  std::string Paint(const std::string& text, const char* color) const;

  std::shared_ptr<spdlog::logger> logger_;
  const Masker& masker_;
  ReporterOptions options_;
  std::mutex mu_;
  std::set<std::string> running_;
  std::map<std::string, std::vector<std::string>> group_buffer_;  // github: output per step until it ends
  size_t done_ = 0, total_ = 0;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  bool status_shown_ = false;
  bool finished_ = false;
};

/// Fans events out to several sinks (console, JSON file, report collector).
class MultiSink : public EventSink {
 public:
  void Add(EventSink* sink) { sinks_.push_back(sink); }
  void Emit(const Event& e) override {
    for (auto* s : sinks_) s->Emit(e);
  }
  void Output(const std::string& step, Stream stream, std::string_view line) override {
    for (auto* s : sinks_) s->Output(step, stream, line);
  }

 private:
  std::vector<EventSink*> sinks_;
};

/// Keeps every event in memory (tests, reports).
class RecordingSink : public EventSink {
 public:
  void Emit(const Event& e) override {
    std::lock_guard lock(mu_);
    events_.push_back(e);
  }
  void Output(const std::string& step, Stream, std::string_view line) override {
    std::lock_guard lock(mu_);
    lines_.emplace_back(step, std::string(line));
  }
  std::vector<Event> Events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::vector<std::pair<std::string, std::string>> Lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Event> events_;
  std::vector<std::pair<std::string, std::string>> lines_;
};

/// "2026-11-23T13:45:12.123Z"
std::string IsoTimestamp(std::chrono::system_clock::time_point t = std::chrono::system_clock::now());

/// Escapes text for a GitHub workflow command: a message escapes %, CR and LF; a property value
/// (`file=...`) also ':' and ','.
std::string GithubEscape(std::string_view s, bool property);
/// "::error file=F,line=L,col=C::message" (no location part when `loc` is unknown), escaped.
std::string GithubErrorCommand(const SourceLoc& loc, std::string_view message);

}  // namespace slipway::pipeline
