#include "steps/mesh_common.h"

#include <sys/stat.h>

#include <fstream>

#include "steps/kube.h"

namespace slipway::steps {

std::filesystem::path MeshStepDir(const pipeline::StepContext& ctx, const std::string& kind) {
  std::string id = ctx.spec ? ctx.spec->id : "step";
  std::filesystem::path base = ctx.state_dir.empty() ? std::filesystem::path(".slipway") : ctx.state_dir;
  std::error_code ec;
  auto abs = std::filesystem::absolute(base, ec);
  return (ec ? base : abs) / kind / id;
}

Expected<void> MakePrivateDir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail("cannot create " + dir.string() + ": " + ec.message());
  // Keys live here: nobody but the owner may list or read the directory.
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace, ec);
  if (ec) return Fail("cannot restrict " + dir.string() + " to its owner: " + ec.message());
  return {};
}

bool KindNotServed(const std::string& text) {
  return text.find("the server doesn't have a resource type") != std::string::npos ||
         text.find("no matches for kind") != std::string::npos ||
         text.find("ensure CRDs are installed first") != std::string::npos;
}

bool VersionMatches(const std::string& wanted, const std::string& actual) {
  auto strip = [](const std::string& v) { return !v.empty() && (v[0] == 'v' || v[0] == 'V') ? v.substr(1) : v; };
  std::string w = strip(wanted), a = strip(actual);
  if (w.empty() || a.empty()) return w == a;
  return a == w || (a.size() > w.size() && a.compare(0, w.size(), w) == 0 && a[w.size()] == '.');
}

bool JsonSubset(const nlohmann::json& want, const nlohmann::json& live) {
  if (want.is_object()) {
    if (!live.is_object()) return false;
    for (auto it = want.begin(); it != want.end(); ++it) {
      auto l = live.find(it.key());
      if (l == live.end()) {
        if (it.value().is_null()) continue;
        return false;
      }
      if (!JsonSubset(it.value(), *l)) return false;
    }
    return true;
  }
  if (want.is_array()) {
    if (!live.is_array() || live.size() != want.size()) return false;
    for (size_t i = 0; i < want.size(); ++i)
      if (!JsonSubset(want[i], live[i])) return false;
    return true;
  }
  return want == live;
}

Expected<pipeline::ProcessResult> RunTool(const pipeline::StepContext& ctx, const std::vector<std::string>& argv,
                                          std::optional<std::string> stdin_data, std::chrono::milliseconds timeout,
                                          Echo echo) {
  if (echo == Echo::kStream) {
    pipeline::ProcessSpec p;
    p.argv = argv;
    p.stdin_data = std::move(stdin_data);
    p.timeout = timeout;
    return ctx.Run(p);
  }
  if (!ctx.log_file.empty()) {
    std::ofstream log(ctx.log_file, std::ios::app);
    std::string line = "$ " + pipeline::QuoteArgv(argv) + "   (output captured, not logged)";
    log << (ctx.masker ? ctx.masker->Mask(line) : line) << "\n";
  }
  return RunQuiet(ctx, argv, std::move(stdin_data), timeout);
}

Expected<pipeline::ProcessResult> RunOk(const pipeline::StepContext& ctx, const std::vector<std::string>& argv,
                                        std::optional<std::string> stdin_data, std::chrono::milliseconds timeout,
                                        Echo echo) {
  auto r = RunTool(ctx, argv, std::move(stdin_data), timeout, echo);
  if (!r) return r;
  if (!r->Ok()) return tl::unexpected(CommandError(argv, *r));
  return r;
}

Expected<void> PipeIntoKubectl(const pipeline::StepContext& ctx, const std::vector<std::string>& producer,
                               const std::vector<std::string>& kubectl, std::chrono::milliseconds timeout,
                               EmptyOutput empty) {
  auto made = RunOk(ctx, producer, std::nullopt, timeout, Echo::kQuiet);
  if (!made) return tl::unexpected(made.error());
  if (made->out.find_first_not_of(" \t\r\n-") == std::string::npos) {
    if (empty == EmptyOutput::kNothing) return {};
    return Fail(pipeline::QuoteArgv(producer) + " printed no manifests");
  }
  auto applied = RunOk(ctx, kubectl, made->out, timeout, Echo::kStream);
  if (!applied) return tl::unexpected(applied.error());
  return {};
}

std::string QuotePipe(const std::vector<std::string>& producer, const std::vector<std::string>& consumer) {
  return pipeline::QuoteArgv(producer) + " | " + pipeline::QuoteArgv(consumer);
}

}  // namespace slipway::steps
