// Executor over 1,000 independent `run: [true]` steps at parallel 2, with and without the
// checkpoint state store. bench/run.sh prints the ratio of the medians.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "pipeline/checkpoint.h"
#include "pipeline/executor.h"
#include "pipeline/loader.h"
#include "pipeline/state.h"
#include "steps/registry.h"

namespace {

using namespace slipway;

struct Fixture {
  pipeline::Plan plan;
  pipeline::Dag dag;
  pipeline::KindRegistry kinds = steps::BuiltinKinds();
  pipeline::Json vars = pipeline::Json::object();
  pipeline::Masker masker;
  pipeline::SecretStore secrets{masker};
  Fixture() {
    std::string text = "apiVersion: slipway/v1\nkind: Plan\nmetadata: {name: bench}\nsteps:\n";
    for (int i = 0; i < 1000; ++i) text += "  - {id: s" + std::to_string(i) + ", run: [\"true\"]}\n";
    pipeline::Diagnostics diag;
    plan = *pipeline::LoadPlanText("bench.yaml", text, diag);
    dag = pipeline::Dag::Build(plan, diag);
  }
};

void Run(benchmark::State& st, bool with_state) {
  Fixture f;
  auto dir = std::filesystem::temp_directory_path() / ("slipway-bench-" + std::to_string(::getpid()));
  for (auto _ : st) {
    std::filesystem::remove_all(dir);
    pipeline::RecordingSink events;
    pipeline::ApplyRunner runner;
    pipeline::ExecOptions opts;
    opts.parallel = 2;
    opts.state_dir = dir;
    pipeline::Executor ex(f.plan, f.dag, f.kinds, f.vars, f.secrets, f.masker, events, runner, opts);
    std::unique_ptr<pipeline::StateStore> store;
    std::unique_ptr<pipeline::Checkpointer> checkpoint;
    if (with_state) {
      store = std::move(*pipeline::StateStore::Open(dir, "bench", f.masker, false));
      checkpoint = std::make_unique<pipeline::Checkpointer>(store.get(), pipeline::State{}, f.plan, f.dag, "run");
      ex.SetObserver(checkpoint.get());
    }
    auto result = ex.Run();
    if (store) {
      store->Sync();
      (void)store->Compact();
    }
    if (result.failed) st.SkipWithError("a step failed");
  }
  std::filesystem::remove_all(dir);
}

void BM_ExecutorWithoutState(benchmark::State& st) { Run(st, false); }
void BM_ExecutorWithState(benchmark::State& st) { Run(st, true); }
BENCHMARK(BM_ExecutorWithoutState)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(3);
BENCHMARK(BM_ExecutorWithState)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(3);

}  // namespace

BENCHMARK_MAIN();
