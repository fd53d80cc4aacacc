#include "pipeline/checkpoint.h"

namespace slipway::pipeline {

StepState ToStepState(const StepRecord& r, const std::string& kind) {
  StepState s;
  s.status = StatusName(r.status);
  s.kind = kind;
  if (r.started != std::chrono::system_clock::time_point{}) s.started = IsoTimestamp(r.started);
  if (r.finished != std::chrono::system_clock::time_point{} && r.Done()) s.finished = IsoTimestamp(r.finished);
  s.attempts = r.attempts;
  s.fingerprint = r.fingerprint;
  s.outputs = r.outputs;
  s.rollback = r.rollback;
  s.rendered = r.rendered;
  s.reason = r.reason;
  return s;
}

Checkpointer::Checkpointer(StateStore* store, State previous, const Plan& plan, const Dag& dag, std::string run_id,
                           bool reuse)
    : store_(store), previous_(std::move(previous)), plan_(plan), dag_(dag), run_id_(std::move(run_id)), reuse_(reuse) {}

std::optional<StepRecord> Checkpointer::Reuse(int index, const StepRecord& fresh) {
  if (!reuse_) return std::nullopt;
  const StepSpec& step = plan_.steps[static_cast<size_t>(index)];
  auto it = previous_.steps.find(step.id);
  if (it == previous_.steps.end()) return std::nullopt;
  const StepState& stored = it->second;
  if (stored.status != "succeeded" && stored.status != "unchanged") return std::nullopt;
  if (stored.fingerprint != fresh.fingerprint || stored.masked) return std::nullopt;
  {
    std::lock_guard lock(mu_);
    for (int d : dag_.WithDependencies({index}))
      if (d != index && ran_.count(d)) return std::nullopt;  // something upstream changed in this run
  }
  StepRecord r = fresh;
  r.status = StepStatus::kUnchanged;
  r.reason = "checkpoint";
  r.outputs = stored.outputs;
  r.rollback = stored.rollback;
  r.from_checkpoint = true;
  r.started = r.finished = std::chrono::system_clock::time_point{};
  return r;
}

std::optional<std::map<std::string, std::string>> Checkpointer::PreviousOutputs(int index) {
  if (!reuse_) return std::nullopt;
  auto it = previous_.steps.find(plan_.steps[static_cast<size_t>(index)].id);
  if (it == previous_.steps.end() || it->second.masked || it->second.outputs.empty()) return std::nullopt;
  if (it->second.status != "succeeded" && it->second.status != "unchanged") return std::nullopt;
  return it->second.outputs;
}

void Checkpointer::OnTransition(int index, const StepRecord& record) {
  const StepSpec& step = plan_.steps[static_cast<size_t>(index)];
  if (record.status == StepStatus::kSucceeded) {
    std::lock_guard lock(mu_);
    ran_.insert(index);
  }
  if (!store_ || record.from_checkpoint) return;  // the stored record stays as it is
  auto prev = previous_.steps.find(step.id);
  bool had_record = prev != previous_.steps.end();
  if (record.status == StepStatus::kSkipped && had_record) return;  // a skip says nothing new about the world
  StepState s = ToStepState(record, step.kind);
  s.run_id = run_id_;
  if (had_record) {
    s.history = prev->second.Owned();
    if (record.status == StepStatus::kUnchanged && prev->second.status == "succeeded" &&
        prev->second.fingerprint == record.fingerprint) {
      // The world is as the earlier change left it: keep the outputs that change published.
      s.outputs = prev->second.outputs;
    }
  }
  if (record.Done()) s.seq = store_->NextSeq();
  store_->PutStep(step.id, std::move(s));
}

}  // namespace slipway::pipeline
