#include "pipeline/events.h"

#include <ctime>

namespace slipway::pipeline {

std::string IsoTimestamp(std::chrono::system_clock::time_point t) {
  auto secs = std::chrono::system_clock::to_time_t(t);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

static const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string GithubEscape(std::string_view s, bool property) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '%')
      out += "%25";
    else if (c == '\r')
      out += "%0D";
    else if (c == '\n')
      out += "%0A";
    else if (property && c == ':')
      out += "%3A";
    else if (property && c == ',')
      out += "%2C";
    else
      out += c;
  }
  return out;
}

std::string GithubErrorCommand(const SourceLoc& loc, std::string_view message) {
  std::string where;
  if (loc.Known())
    where = " file=" + GithubEscape(loc.file, true) + ",line=" + std::to_string(loc.line) +
            ",col=" + std::to_string(loc.column);
  return "::error" + where + "::" + GithubEscape(message, false);
}

Reporter::Reporter(std::shared_ptr<spdlog::logger> logger, const Masker& masker, ReporterOptions options)
    : logger_(std::move(logger)), masker_(masker), options_(options) {
  if (options_.format == LogFormat::kJson || options_.github) options_.live = false;
}

Reporter::~Reporter() { Finish(); }

std::string Reporter::Paint(const std::string& text, const char* color) const {
  if (!options_.color) return text;
  return std::string("\x1b[") + color + "m" + text + "\x1b[0m";
}

void Reporter::Write(const std::string& line) {
  if (status_shown_) {
    std::fputs("\r\x1b[K", stderr);
    status_shown_ = false;
  }
  logger_->info(line);
  logger_->flush();
  if (options_.live && !finished_) DrawStatus();
}

void Reporter::DrawStatus() {
  if (running_.empty()) return;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count();
  std::string names;
  for (const auto& r : running_) {
    if (names.size() > 60) {
      names += ", …";
      break;
    }
    names += (names.empty() ? "" : ", ") + r;
  }
  std::fprintf(stderr, "\r\x1b[K\x1b[2m[%zu/%zu] %llds running: %s\x1b[0m", done_, total_,
               static_cast<long long>(secs), names.c_str());
  std::fflush(stderr);
  status_shown_ = true;
}

void Reporter::Print(const std::string& text) {
  std::lock_guard lock(mu_);
  std::string masked = masker_.Mask(text);
  if (!masked.empty() && masked.back() == '\n') masked.pop_back();
  Write(masked);
}

void Reporter::Finish() {
  std::lock_guard lock(mu_);
  if (status_shown_) {
    std::fputs("\r\x1b[K", stderr);
    std::fflush(stderr);
    status_shown_ = false;
  }
  finished_ = true;
}

void Reporter::Output(const std::string& step, Stream stream, std::string_view line) {
  std::lock_guard lock(mu_);
  std::string text = masker_.Mask(std::string(line));
  if (options_.format == LogFormat::kJson) {
    nlohmann::json j{{"ts", IsoTimestamp()}, {"level", "info"}, {"step", step}, {"event", "output"},
                     {"fields", {{"stream", stream == Stream::kStdout ? "stdout" : "stderr"}, {"line", text}}}};
    Write(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  if (options_.verbosity < 0) return;
  if (options_.github) {
    group_buffer_[step].push_back(text);
    return;
  }
  Write(Paint("[" + step + "]", "36") + " " + text);
}

void Reporter::Emit(const Event& e) {
  std::lock_guard lock(mu_);
  if (e.name == "run_started") total_ = e.fields.value("steps", size_t{0});
  if (e.name == "step_started") running_.insert(e.step);
  bool step_end = e.name == "step_finished";
  if (step_end) {
    running_.erase(e.step);
    ++done_;
  }
  std::string message = masker_.Mask(e.message);
  if (options_.format == LogFormat::kJson) {
    nlohmann::json fields = nlohmann::json::parse(masker_.Mask(e.fields.dump()), nullptr, false);
    nlohmann::json j{{"ts", IsoTimestamp()}, {"level", LevelName(e.level)}, {"step", e.step},
                     {"event", e.name},      {"message", message},        {"fields", fields}};
    if (e.loc.Known()) j["loc"] = e.loc.ToString();
    Write(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  if (e.level == Level::kDebug && options_.verbosity < 1) return;
  if (options_.verbosity < 0 && e.level < Level::kWarn && !step_end) return;
  if (options_.github && step_end) {
    // Each step's output is printed as one collapsible group when it ends, so parallel steps
    // do not interleave inside a group.
    Write("::group::" + e.step + " " + message);
    for (const auto& l : group_buffer_[e.step]) Write(l);
    group_buffer_.erase(e.step);
    Write("::endgroup::");
    if (e.level == Level::kError) Write(GithubErrorCommand(e.loc, e.step + " " + message));
    return;
  }
  if (options_.github && e.level == Level::kError) {
    Write(GithubErrorCommand(e.loc, message));
    return;
  }
  if (e.name == "step_started" && options_.verbosity < 1 && options_.live) {
    DrawStatus();
    return;
  }
  const char* color = e.level == Level::kError ? "31" : e.level == Level::kWarn ? "33" : "0";
  if (e.name == "step_finished" && e.level == Level::kInfo) color = "32";
  std::string prefix = e.step.empty() ? "" : Paint("[" + e.step + "]", "36") + " ";
  Write(prefix + Paint(message, color));
}

}  // namespace slipway::pipeline
