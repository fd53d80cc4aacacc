#pragma once
// Helpers for the slo tests: background processes in their own process group (killed with the
// group, so a failing test leaves nothing running), temp dirs, free ports, and a StepContext for
// running the kind by hand.

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/plan.h"
#include "pipeline/step.h"

namespace slipway::slo_testing {

/// A directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& Path() const { return path_; }
  /// `name` inside the directory.
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// A child in a process group of its own; SIGKILLs the group and reaps it on Kill() or destruction.
class Background {
 public:
  Background() = default;
  ~Background() { Kill(); }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  /// Starts argv (argv[0] a path), stdin /dev/null, stdout and stderr appended to `log`. False on failure.
  bool Start(const std::vector<std::string>& argv, const std::string& log);
  /// True while the child has not exited.
  bool Running();
  /// SIGKILLs the whole group and reaps the child; a no-op when it is not running.
  void Kill();

 private:
  pid_t pid_ = -1;
};

/// A port on 127.0.0.1 that was free a moment ago.
int FreePort();

/// A whole file; "" when it cannot be read.
std::string ReadFile(const std::string& path);
/// Replaces a file's content; false on error.
bool WriteFile(const std::string& path, const std::string& text);

/// Keeps every event a step emits (ctx.Log lands here as "step_log").
class RecordingSink : public pipeline::EventSink {
 public:
  void Emit(const pipeline::Event& e) override { events.push_back(e); }
  void Output(const std::string&, pipeline::Stream, std::string_view) override {}
  /// The messages logged at `level`, in order.
  std::vector<std::string> Messages(pipeline::Level level) const;
  std::vector<pipeline::Event> events;
};

/// A one-step plan and a context to run the `slo` kind with, by hand (no executor).
struct Harness {
  pipeline::Plan plan;
  pipeline::StepSpec spec;
  pipeline::RunView run;
  std::vector<pipeline::StepSnapshot> snapshots;  // what run.steps() returns
  RecordingSink sink;
  pipeline::StepContext ctx;

  /// `with` is the step's rendered with: block.
  explicit Harness(const pipeline::Json& with);
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  /// Adds a finished step with these outputs to what the run shows.
  void AddStep(const std::string& id, const std::map<std::string, std::string>& outputs,
               const std::string& status = "succeeded");
};

}  // namespace slipway::slo_testing
