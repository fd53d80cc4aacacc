#include "test/support/fakes/fake_tools.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#ifndef SLIPWAY_FAKE_TOOLS_BIN_DIR
#error "SLIPWAY_FAKE_TOOLS_BIN_DIR must name test/support/fakes/bin (set by test/support/fakes/CMakeLists.txt)"
#endif
#ifndef SLIPWAY_TEST_PYTHON3
#define SLIPWAY_TEST_PYTHON3 "python3"
#endif

namespace slipway::test {

FakeTools::FakeTools(std::filesystem::path dir) : dir_(std::filesystem::absolute(dir)) {
  std::error_code ec;
  std::filesystem::remove(LogPath(), ec);
  std::filesystem::remove(ScriptPath().string() + ".state", ec);
  WriteScript();
}

FakeTools& FakeTools::Expect(const std::string& tool, nlohmann::json entry) {
  if (!script_.contains(tool)) script_[tool] = nlohmann::json::array();
  script_[tool].push_back(std::move(entry));
  WriteScript();
  return *this;
}

FakeTools& FakeTools::ExpectCanned(const std::string& tool, const std::vector<std::string>& argv,
                                   const std::string& canned, nlohmann::json params) {
  return Expect(tool, {{"argv", argv}, {"canned", canned}, {"params", std::move(params)}});
}

void FakeTools::WriteScript() const {
  // Write then rename, so a fake running concurrently never reads half a script.
  std::filesystem::path tmp = ScriptPath().string() + ".tmp";
  std::ofstream(tmp, std::ios::trunc) << script_.dump(1);
  std::filesystem::rename(tmp, ScriptPath());
}

std::vector<std::string> FakeTools::Env() const {
  const char* path = std::getenv("PATH");
  return {"PATH=" + BinDir().string() + ":" + (path != nullptr ? path : "/usr/bin:/bin"),
          "FAKE_TOOLS_SCRIPT=" + ScriptPath().string(), "FAKE_TOOLS_LOG=" + LogPath().string(),
          std::string("FAKE_TOOLS_PYTHON=") + SLIPWAY_TEST_PYTHON3};
}

std::vector<nlohmann::json> FakeTools::Calls() const {
  std::vector<nlohmann::json> calls;
  std::ifstream in(LogPath());
  std::string line;
  while (std::getline(in, line)) {
    auto call = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    calls.push_back(call.is_discarded() ? nlohmann::json{{"unparsable_log_line", line}} : call);
  }
  return calls;
}

std::vector<std::vector<std::string>> FakeTools::Argvs(const std::string& tool) const {
  std::vector<std::vector<std::string>> out;
  for (const nlohmann::json& call : Calls()) {
    if (call.value("tool", "") == tool) out.push_back(call["argv"].get<std::vector<std::string>>());
  }
  return out;
}

std::vector<std::string> FakeTools::Missing() const {
  std::ifstream in(ScriptPath().string() + ".state");
  std::stringstream text;
  text << in.rdbuf();
  auto state = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!state.is_object()) state = nlohmann::json::object();
  std::vector<std::string> missing;
  for (const auto& [tool, entries] : script_.items()) {
    size_t position = state.value(tool, 0);
    for (size_t i = position; i < entries.size(); ++i) {
      const nlohmann::json& entry = entries[i];
      if (entry.value("repeat", false)) continue;
      missing.push_back(tool + " " + (entry.contains("argv") ? entry["argv"].dump() : entry["argv_prefix"].dump() + "..."));
    }
  }
  return missing;
}

std::filesystem::path FakeTools::BinDir() { return SLIPWAY_FAKE_TOOLS_BIN_DIR; }

}  // namespace slipway::test
