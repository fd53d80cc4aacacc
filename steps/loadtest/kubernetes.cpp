// Scale-out on Kubernetes: the test as an Indexed Job whose pods each run `slipway loadtest --worker`
// on their share of the schedule and print their result JSON as the last line of their log.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "steps/loadtest/engine.h"
#include "steps/loadtest/loadtest.h"
#include "steps/loadtest/process.h"

namespace slipway::steps::loadtest {

namespace {

using nlohmann::json;

constexpr const char* kConfigDir = "/etc/slipway";
constexpr const char* kConfigFile = "loadtest.json";

std::string Q(const std::string& s) { return json(s).dump(); }

std::string Labels(const std::string& indent) {
  return indent + "app.kubernetes.io/name: slipway-loadtest\n" + indent + "app.kubernetes.io/managed-by: slipway\n";
}

std::string FlowList(const std::vector<std::string>& items) {
  std::string s = "[";
  for (std::size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + Q(items[i]);
  return s + "]";
}

std::vector<std::string> WorkerArgs(int replicas) {
  return {"loadtest", "--config", std::string(kConfigDir) + "/" + kConfigFile, "--worker", "--worker-count",
          std::to_string(replicas)};
}

}  // namespace

std::string RenderKubernetesJob(const Config& cfg) {
  KubernetesSpec k = cfg.kubernetes.value_or(KubernetesSpec{});
  std::string warning;
  auto with = WorkerWith(cfg, BodyFiles::kInline);
  if (!with) {
    warning = "# warning: " + with.error().message + "; the pods must have the file at that path\n";
    with = WorkerWith(cfg, BodyFiles::kKeep);
  }
  std::string config_json;
  {
    std::istringstream lines(with->dump(2));
    std::string line;
    while (std::getline(lines, line)) config_json += "    " + line + "\n";
  }
  std::string y;
  y += "# slipway loadtest: " + std::to_string(k.replicas) + " pods of an Indexed Job, each running its share of the\n";
  y += "# schedule (index from JOB_COMPLETION_INDEX) and printing its result JSON as the last log line.\n";
  y += warning;
  y += "apiVersion: v1\n";
  y += "kind: ConfigMap\n";
  y += "metadata:\n";
  y += "  name: " + Q(k.job_name) + "\n";
  y += "  namespace: " + Q(k.namespace_name) + "\n";
  y += "  labels:\n" + Labels("    ");
  y += "data:\n";
  y += "  " + std::string(kConfigFile) + ": |\n" + config_json;
  y += "---\n";
  y += "apiVersion: batch/v1\n";
  y += "kind: Job\n";
  y += "metadata:\n";
  y += "  name: " + Q(k.job_name) + "\n";
  y += "  namespace: " + Q(k.namespace_name) + "\n";
  y += "  labels:\n" + Labels("    ");
  y += "spec:\n";
  y += "  completionMode: Indexed\n";
  y += "  completions: " + std::to_string(k.replicas) + "\n";
  y += "  parallelism: " + std::to_string(k.replicas) + "\n";
  y += "  backoffLimit: 0\n";
  y += "  ttlSecondsAfterFinished: 3600\n";
  Nanos planned = cfg.PlannedDuration();
  if (planned > 0) {
    Nanos deadline = planned + cfg.graceful_stop + 600 * kNanosPerSecond;
    y += "  activeDeadlineSeconds: " + std::to_string(deadline / kNanosPerSecond) + "\n";
  }
  y += "  template:\n";
  y += "    metadata:\n";
  y += "      labels:\n" + Labels("        ");
  y += "    spec:\n";
  y += "      restartPolicy: Never\n";
  if (!k.service_account.empty()) y += "      serviceAccountName: " + Q(k.service_account) + "\n";
  y += "      containers:\n";
  y += "        - name: loadtest\n";
  y += "          image: " + Q(k.image) + "\n";
  y += "          command: " + FlowList(k.command) + "\n";
  y += "          args: " + FlowList(WorkerArgs(k.replicas)) + "\n";
  if (!k.cpu.empty() || !k.memory.empty()) {
    std::string res;
    if (!k.cpu.empty()) res += "cpu: " + Q(k.cpu);
    if (!k.memory.empty()) res += std::string(res.empty() ? "" : ", ") + "memory: " + Q(k.memory);
    y += "          resources:\n";
    y += "            requests: {" + res + "}\n";
    y += "            limits: {" + res + "}\n";
  }
  y += "          volumeMounts:\n";
  y += "            - name: config\n";
  y += "              mountPath: " + std::string(kConfigDir) + "\n";
  y += "              readOnly: true\n";
  y += "      volumes:\n";
  y += "        - name: config\n";
  y += "          configMap:\n";
  y += "            name: " + Q(k.job_name) + "\n";
  return y;
}

Expected<std::vector<Result>> RunKubernetesJob(const Config& cfg, const Hooks& hooks) {
  if (!cfg.kubernetes) return Fail("with.kubernetes: not set");
  const KubernetesSpec& k = *cfg.kubernetes;
  std::vector<std::string> base = {hooks.kubectl.empty() ? "kubectl" : hooks.kubectl};
  if (!k.kubeconfig.empty()) base.insert(base.end(), {"--kubeconfig", k.kubeconfig});
  if (!k.context.empty()) base.insert(base.end(), {"--context", k.context});
  base.insert(base.end(), {"--namespace", k.namespace_name});
  auto kubectl = [&](std::vector<std::string> args, const std::string& stdin_data = "") -> Expected<std::string> {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), args.begin(), args.end());
    internal::ProcessOptions o;
    o.timeout = 120 * kNanosPerSecond;
    o.stdin_data = stdin_data;
    auto r = internal::RunProcess(argv, o);
    if (!r) return tl::unexpected(r.error());
    if (r->exit_code != 0) {
      std::string err = r->err;
      while (!err.empty() && err.back() == '\n') err.pop_back();
      std::string cmd;
      for (const auto& a : args) cmd += (cmd.empty() ? "" : " ") + a;
      return Fail("kubectl " + cmd + " failed" + (r->timed_out ? " (timed out)" : "") + (err.empty() ? "" : ": " + err));
    }
    return r->out;
  };
  auto cleanup = [&] { (void)kubectl({"delete", "job", k.job_name, "--ignore-not-found", "--wait=false"}); };

  // A Job's pod template is immutable: remove the previous run's Job before applying this one.
  if (auto r = kubectl({"delete", "job", k.job_name, "--ignore-not-found", "--wait=true"}); !r)
    return tl::unexpected(r.error());
  if (auto r = kubectl({"apply", "-f", "-"}, RenderKubernetesJob(cfg)); !r) return tl::unexpected(r.error());

  Nanos planned = cfg.PlannedDuration();
  const std::int64_t started = internal::MonotonicNanos();
  const Nanos deadline = (planned > 0 ? planned + cfg.graceful_stop : 3600 * kNanosPerSecond) + 600 * kNanosPerSecond;
  for (;;) {
    auto out = kubectl({"get", "job", k.job_name, "-o", "json"});
    if (!out) return tl::unexpected(out.error());
    auto job = json::parse(*out, nullptr, false);
    if (job.is_discarded()) return Fail("kubectl get job: output is not JSON");
    const json status = job.value("status", json::object());
    bool complete = status.value("succeeded", 0) >= k.replicas;
    for (const auto& c : status.value("conditions", json::array())) {
      if (c.value("status", "") != "True") continue;
      if (c.value("type", "") == "Complete") complete = true;
      if (c.value("type", "") == "Failed")
        return Fail("Job " + k.job_name + " failed: " + c.value("reason", "") + " " + c.value("message", ""));
    }
    if (complete) break;
    if (hooks.cancel && hooks.cancel->load()) {
      cleanup();
      return Fail("load test cancelled");
    }
    std::int64_t elapsed = internal::MonotonicNanos() - started;
    if (elapsed > deadline) {
      cleanup();
      return Fail("Job " + k.job_name + " did not complete within " + FormatDuration(deadline));
    }
    if (hooks.on_progress) {
      Progress p;
      p.elapsed_s = static_cast<double>(elapsed) / kNanosPerSecond;
      p.planned_s = static_cast<double>(planned) / kNanosPerSecond;
      hooks.on_progress(p);
    }
    for (int i = 0; i < 20 && !(hooks.cancel && hooks.cancel->load()); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  auto pods_out = kubectl({"get", "pods", "-l", "job-name=" + k.job_name, "-o", "json"});
  if (!pods_out) return tl::unexpected(pods_out.error());
  auto pods = json::parse(*pods_out, nullptr, false);
  if (pods.is_discarded() || !pods.contains("items")) return Fail("kubectl get pods: output is not a pod list");
  std::map<int, std::string> by_index;  // one succeeded pod per completion index
  for (const auto& pod : pods["items"]) {
    const json meta = pod.value("metadata", json::object());
    if (pod.value("status", json::object()).value("phase", "") != "Succeeded") continue;
    std::string index = meta.value("annotations", json::object()).value("batch.kubernetes.io/job-completion-index", "");
    if (index.empty()) continue;
    by_index.emplace(std::atoi(index.c_str()), meta.value("name", ""));
  }
  if (static_cast<int>(by_index.size()) < k.replicas)
    return Fail("Job " + k.job_name + ": found " + std::to_string(by_index.size()) + " succeeded pods of " +
                std::to_string(k.replicas));
  std::vector<Result> parts;
  for (const auto& [index, pod] : by_index) {
    auto log = kubectl({"logs", pod});
    if (!log) return tl::unexpected(log.error());
    auto r = ParseWorkerOutput(*log, "pod " + pod);
    if (!r) return tl::unexpected(r.error());
    parts.push_back(std::move(*r));
  }
  return parts;
}

}  // namespace slipway::steps::loadtest
