#pragma once
// Runs the built slipway binary in a temp directory, for end-to-end tests.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "pipeline/subprocess.h"

namespace slipway::test {

struct CliResult {
  int exit_code = -1;
  std::string out, err;
  std::string all() const { return out + err; }
};

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/slipway-e2e-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override {
    std::error_code ec;
    if (!HasFailure()) std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path Path(const std::string& name) const { return dir_ / name; }
  void Write(const std::string& name, const std::string& text) const {
    std::filesystem::create_directories((dir_ / name).parent_path());
    std::ofstream(dir_ / name) << text;
  }
  std::string Read(const std::string& name) const {
    std::ifstream in(dir_ / name);
    std::ostringstream b;
    b << in.rdbuf();
    return b.str();
  }
  std::vector<std::string> Lines(const std::string& name) const {
    std::vector<std::string> out;
    std::istringstream in(Read(name));
    for (std::string l; std::getline(in, l);)
      if (!l.empty()) out.push_back(l);
    return out;
  }
  CliResult Slipway(std::vector<std::string> args, std::map<std::string, std::string> env = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(60)) const {
    pipeline::ProcessSpec spec;
    spec.argv = {SLIPWAY_BINARY};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.cwd = dir_.string();
    env.emplace("NO_COLOR", "1");
    env.emplace("GITHUB_ACTIONS", "");
    spec.env = env;
    spec.timeout = timeout;
    auto r = pipeline::RunProcess(spec);
    CliResult out;
    if (!r) {
      out.err = r.error().message;
      return out;
    }
    out.exit_code = r->exit_code;
    out.out = r->out;
    out.err = r->err;
    return out;
  }
  std::filesystem::path dir_;
};

}  // namespace slipway::test
