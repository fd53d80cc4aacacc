#pragma once
// Scripts the recording fakes of istioctl, linkerd and velero (test/support/fakes/bin/, fake_tool.py) for
// one test and reads back how they were called. Format of the script entries: see fake_tool.py.
//
//   slipway::test::FakeTools fakes(temp_dir);
//   fakes.Expect("istioctl", {{"argv", {"version", "-o", "json"}},
//                             {"canned", "istioctl.version_json"}, {"params", {{"mesh", false}}}});
//   ... run the code under test with fakes.Env() in its environment ...
//   EXPECT_EQ(fakes.Missing(), std::vector<std::string>{});

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace slipway::test {

/// One test's script for the fake tools, kept in a directory the test owns.
class FakeTools {
 public:
  /// Uses dir (which must exist) for the script, its state and the call log; starts with an empty script.
  explicit FakeTools(std::filesystem::path dir);

  /// Appends entry to tool's script (keys as in fake_tool.py) and rewrites the script file; throws
  /// std::filesystem::filesystem_error when the directory is not writable (a test failure in GoogleTest).
  FakeTools& Expect(const std::string& tool, nlohmann::json entry);
  /// Shorthand for an exact argv answered by a canned output of canned.py.
  FakeTools& ExpectCanned(const std::string& tool, const std::vector<std::string>& argv, const std::string& canned,
                          nlohmann::json params = nlohmann::json::object());

  /// "NAME=value" entries that make a child process find the fakes: PATH with the fakes' bin/ first,
  /// FAKE_TOOLS_SCRIPT, FAKE_TOOLS_LOG and FAKE_TOOLS_PYTHON (a real interpreter, not a pyenv shim).
  std::vector<std::string> Env() const;

  /// Every call so far, in order, as fake_tool.py logged it ({tool, argv, stdin, cwd, env, entry, exit}).
  std::vector<nlohmann::json> Calls() const;
  /// The argv of every call of tool, in order.
  std::vector<std::vector<std::string>> Argvs(const std::string& tool) const;
  /// The scripted (non-repeat) entries no call has consumed yet, described as "tool [argv...]".
  std::vector<std::string> Missing() const;

  /// The directory holding the istioctl, linkerd and velero launchers.
  static std::filesystem::path BinDir();
  /// Path of the script file.
  std::filesystem::path ScriptPath() const { return dir_ / "fake-tools-script.json"; }
  /// Path of the call log (JSON lines).
  std::filesystem::path LogPath() const { return dir_ / "fake-tools-calls.jsonl"; }

 private:
  void WriteScript() const;

  std::filesystem::path dir_;
  nlohmann::json script_ = nlohmann::json::object();
};

}  // namespace slipway::test
