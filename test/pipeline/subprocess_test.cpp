// Child processes: argv passed verbatim, env, cwd, stdin, exit codes, line callbacks, timeouts and
// cancellation that take the whole process group (grandchildren included) down.

#include "pipeline/subprocess.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "test/pipeline/testing.h"

namespace slipway::pipeline {
namespace {

using namespace std::chrono_literals;
using slipway::testing::ReadFile;
using slipway::testing::TempDir;
using slipway::testing::WriteFile;

/// True while `pid` exists and is not a zombie (an orphan may stay a zombie when PID 1 does not reap).
bool Alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = content.rfind(')');
  if (paren == std::string::npos || paren + 2 >= content.size()) return false;
  char state = content[paren + 2];
  return state != 'Z' && state != 'X';
}

/// Waits up to `limit` for `pid` to be gone.
bool GoneWithin(pid_t pid, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (!Alive(pid)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return !Alive(pid);
}

/// Reads a pid a child wrote, waiting for the file to be complete.
pid_t ReadPid(const std::string& path) {
  std::string text = ReadFile(path);
  return text.empty() ? -1 : static_cast<pid_t>(std::stol(text));
}

class SubprocessTest : public ::testing::Test {
 protected:
  ProcessResult Run(ProcessSpec spec) {
    auto r = RunProcess(spec);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r ? *r : ProcessResult{};
  }
  TempDir tmp_;
};

TEST_F(SubprocessTest, ArgvIsPassedVerbatimWithoutAShell) {
  ProcessSpec p;
  p.argv = {"printf", "%s\\n", "two words", "\"double\"", "'single'", "$HOME", "*", "a;b|c&&d", "", "back\\slash"};
  ProcessResult r = Run(p);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "two words\n\"double\"\n'single'\n$HOME\n*\na;b|c&&d\n\nback\\slash\n");
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(r.Ok());
}

TEST_F(SubprocessTest, EnvIsAddedToTheInheritedEnvironment) {
  ::setenv("SLIPWAY_TEST_INHERITED", "parent", 1);
  ProcessSpec p;
  p.argv = {"sh", "-c", "echo \"$SLIPWAY_TEST_ADDED/$SLIPWAY_TEST_INHERITED/$HOME_OVERRIDE\""};
  p.env = {{"SLIPWAY_TEST_ADDED", "child value"}, {"HOME_OVERRIDE", "x"}};
  EXPECT_EQ(Run(p).out, "child value/parent/x\n");
  ::unsetenv("SLIPWAY_TEST_INHERITED");
}

TEST_F(SubprocessTest, EnvReplacesAnInheritedValue) {
  ::setenv("SLIPWAY_TEST_REPLACED", "old", 1);
  ProcessSpec p;
  p.argv = {"sh", "-c", "env | grep '^SLIPWAY_TEST_REPLACED='"};
  p.env = {{"SLIPWAY_TEST_REPLACED", "new"}};
  EXPECT_EQ(Run(p).out, "SLIPWAY_TEST_REPLACED=new\n");  // exactly once
  ::unsetenv("SLIPWAY_TEST_REPLACED");
}

TEST_F(SubprocessTest, CwdIsTheChildsWorkingDirectory) {
  ProcessSpec p;
  p.argv = {"pwd"};
  p.cwd = tmp_.Path().string();
  EXPECT_EQ(Run(p).out, std::filesystem::canonical(tmp_.Path()).string() + "\n");
}

TEST_F(SubprocessTest, RelativeProgramResolvesAgainstCwd) {
  WriteFile(tmp_.File("hello.sh"), "#!/bin/sh\necho hello from script\n");
  std::filesystem::permissions(tmp_.File("hello.sh"), std::filesystem::perms::owner_all);
  ProcessSpec p;
  p.argv = {"./hello.sh"};
  p.cwd = tmp_.Path().string();
  EXPECT_EQ(Run(p).out, "hello from script\n");
}

TEST_F(SubprocessTest, StdinDataIsFedThenClosed) {
  ProcessSpec p;
  p.argv = {"cat"};
  p.stdin_data = std::string("line 1\nline 2 without newline");
  ProcessResult r = Run(p);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "line 1\nline 2 without newline");
}

TEST_F(SubprocessTest, LargeStdinIsFedCompletely) {
  ProcessSpec p;
  p.argv = {"wc", "-c"};
  p.stdin_data = std::string(1 << 20, 'x');  // larger than a pipe buffer
  EXPECT_EQ(Run(p).out, "1048576\n");
}

TEST_F(SubprocessTest, StdinIsDevNullByDefault) {
  ProcessSpec p;
  p.argv = {"cat"};
  p.timeout = 5s;
  ProcessResult r = Run(p);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.out, "");
}

TEST_F(SubprocessTest, ExitCodesAreReported) {
  ProcessSpec p;
  p.argv = {"sh", "-c", "echo out; echo err >&2; exit 7"};
  ProcessResult r = Run(p);
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_FALSE(r.Ok());
  EXPECT_EQ(r.Describe(), "exit 7");
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST_F(SubprocessTest, DeathBySignalIsReportedAs128PlusSignal) {
  ProcessSpec p;
  p.argv = {"sh", "-c", "kill -KILL $$"};
  ProcessResult r = Run(p);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  EXPECT_FALSE(r.Ok());
}

TEST_F(SubprocessTest, DescribeMatchesItsDocumentation) {
  ProcessResult killed;
  killed.term_signal = SIGKILL;
  killed.exit_code = 137;
  EXPECT_EQ(killed.Describe(), "killed by SIGKILL");
  ProcessResult timed_out;
  timed_out.timed_out = true;
  timed_out.timeout = 2s;
  EXPECT_EQ(timed_out.Describe(), "timed out after 2.0s");
}

TEST_F(SubprocessTest, OnLineReceivesCompleteLinesPerStream) {
  ProcessSpec p;
  p.argv = {"sh", "-c", "printf 'a\\nb\\r\\n'; printf 'e1\\n' >&2; printf 'tail-without-newline'"};
  std::vector<std::string> lines;
  p.on_line = [&](Stream s, std::string_view line) {
    lines.push_back(std::string(s == Stream::kStdout ? "out:" : "err:") + std::string(line));
  };
  ProcessResult r = Run(p);
  EXPECT_EQ(r.exit_code, 0);
  // Order between the two streams is not defined; within each it is.
  std::vector<std::string> out, err;
  for (const auto& l : lines) (l.rfind("out:", 0) == 0 ? out : err).push_back(l);
  EXPECT_EQ(out, (std::vector<std::string>{"out:a", "out:b", "out:tail-without-newline"}));
  EXPECT_EQ(err, std::vector<std::string>{"err:e1"});
  EXPECT_EQ(r.out, "a\nb\r\ntail-without-newline");  // the captured text is untouched
}

TEST_F(SubprocessTest, CaptureCanBeTurnedOffAndLimited) {
  ProcessSpec p;
  p.argv = {"sh", "-c", "printf 0123456789"};
  p.capture_limit = 4;
  EXPECT_EQ(Run(p).out, "0123");
  p.capture = false;
  EXPECT_EQ(Run(p).out, "");
}

TEST_F(SubprocessTest, TimeoutKillsTheProcessGroupIncludingGrandchildren) {
  const std::string pidfile = tmp_.File("grandchild.pid");
  ProcessSpec p;
  p.argv = {"bash", "-c", "sleep 30 & echo $! > \"$1\"; wait", "bash", pidfile};
  p.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  ProcessResult r = Run(p);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.cancelled);
  EXPECT_FALSE(r.Ok());
  EXPECT_EQ(r.term_signal, SIGTERM);
  EXPECT_LT(took, 3s);
  pid_t grandchild = ReadPid(pidfile);
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(GoneWithin(grandchild, 2s)) << "grandchild " << grandchild << " survived the timeout";
  if (Alive(grandchild)) ::kill(grandchild, SIGKILL);
}

TEST_F(SubprocessTest, TimeoutKillsGrandchildThatIgnoresSigterm) {
  const std::string pidfile = tmp_.File("stubborn.pid");
  ProcessSpec p;
  // The grandchild inherits SIGTERM ignored; only the final SIGKILL to the group ends it.
  p.argv = {"bash", "-c", "trap '' TERM; sleep 30 & echo $! > \"$1\"; trap - TERM; wait", "bash", pidfile};
  p.timeout = 300ms;
  p.grace = 300ms;
  ProcessResult r = Run(p);
  EXPECT_TRUE(r.timed_out);
  pid_t grandchild = ReadPid(pidfile);
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(GoneWithin(grandchild, 2s)) << "grandchild " << grandchild << " survived the timeout";
  if (Alive(grandchild)) ::kill(grandchild, SIGKILL);
}

TEST_F(SubprocessTest, LeaderIgnoringSigtermIsKilledAfterGrace) {
  ProcessSpec p;
  p.argv = {"bash", "-c", "trap '' TERM; while :; do sleep 0.05; done"};
  p.timeout = 200ms;
  p.grace = 300ms;
  auto start = std::chrono::steady_clock::now();
  ProcessResult r = Run(p);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 3s);
}

TEST_F(SubprocessTest, CancelFlagTerminatesTheGroup) {
  std::atomic<bool> cancel{false};
  ProcessSpec p;
  p.argv = {"sleep", "30"};
  p.cancel = &cancel;
  std::thread setter([&] {
    std::this_thread::sleep_for(200ms);
    cancel = true;
  });
  auto start = std::chrono::steady_clock::now();
  ProcessResult r = Run(p);
  auto took = std::chrono::steady_clock::now() - start;
  setter.join();
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.term_signal, SIGTERM);
  EXPECT_EQ(r.Describe(), "cancelled");
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 3s);
}

TEST_F(SubprocessTest, KillNowKillsTheGroupAtOnce) {
  std::atomic<bool> kill_now{true};
  ProcessSpec p;
  p.argv = {"bash", "-c", "trap '' TERM; sleep 30"};
  p.kill_now = &kill_now;
  ProcessResult r = Run(p);
  EXPECT_TRUE(r.cancelled);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_LT(r.elapsed, 3s);
}

TEST_F(SubprocessTest, CommandNotFoundIsAnError) {
  ProcessSpec p;
  p.argv = {"slipway-no-such-command-xyz", "arg"};
  auto r = RunProcess(p);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "slipway-no-such-command-xyz: command not found on PATH");
}

TEST_F(SubprocessTest, CommandLookupUsesTheChildsPath) {
  WriteFile(tmp_.File("only-here"), "#!/bin/sh\necho found via child PATH\n");
  std::filesystem::permissions(tmp_.File("only-here"), std::filesystem::perms::owner_all);
  ProcessSpec p;
  p.argv = {"only-here"};
  p.env = {{"PATH", tmp_.Path().string() + ":/usr/bin:/bin"}};
  EXPECT_EQ(Run(p).out, "found via child PATH\n");
}

TEST_F(SubprocessTest, MissingPathProgramIsAnError) {
  ProcessSpec p;
  p.argv = {"/nonexistent/tool"};
  auto r = RunProcess(p);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "/nonexistent/tool: not found or not executable");
}

TEST_F(SubprocessTest, EmptyArgvIsAnError) {
  auto r = RunProcess(ProcessSpec{});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "empty command");
}

TEST_F(SubprocessTest, FindOnPathSearchesTheGivenPath) {
  WriteFile(tmp_.File("tool"), "#!/bin/sh\n");
  std::filesystem::permissions(tmp_.File("tool"), std::filesystem::perms::owner_all);
  WriteFile(tmp_.File("not-executable"), "data");
  std::string path = "/nonexistent:" + tmp_.Path().string();
  EXPECT_EQ(FindOnPath("tool", path), tmp_.File("tool"));
  EXPECT_EQ(FindOnPath("not-executable", path), "");
  EXPECT_EQ(FindOnPath("missing", path), "");
  EXPECT_EQ(FindOnPath(""), "");
}

TEST_F(SubprocessTest, QuoteArgvQuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(QuoteArgv({"kubectl", "apply", "-f", "dir/app.yaml", "--selector=app=web,tier=1"}),
            "kubectl apply -f dir/app.yaml --selector=app=web,tier=1");
  EXPECT_EQ(QuoteArgv({"echo", "two words", "it's", "", "$HOME", "a*"}), "echo 'two words' 'it'\\''s' '' '$HOME' 'a*'");
}

}  // namespace
}  // namespace slipway::pipeline
