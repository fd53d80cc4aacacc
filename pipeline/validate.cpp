#include "pipeline/validate.h"

#include <cstdlib>

#include "pipeline/condition.h"
#include "pipeline/template.h"
#include "pipeline/vars.h"

namespace slipway::pipeline {

SourceLoc RefLoc(const SourceLoc& value_loc, const std::string& text, size_t offset, bool quoted) {
  SourceLoc loc = value_loc;
  if (!loc.Known() || text.find('\n') != std::string::npos) return loc;
  loc.column += static_cast<int>(offset) + (quoted ? 1 : 0);
  return loc;
}

namespace {

// Offsets of the start of each line of the plan's text, so positions resolve in O(1).
std::vector<size_t> LineStarts(const std::string& text) {
  std::vector<size_t> starts{0};
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') starts.push_back(i + 1);
  return starts;
}

// Is the value at `loc` in the source written with a quote? Then the text starts one column later.
bool QuotedAt(const Plan& plan, const std::vector<size_t>& line_starts, const SourceLoc& loc) {
  if (!loc.Known() || static_cast<size_t>(loc.line) > line_starts.size()) return false;
  size_t pos = line_starts[static_cast<size_t>(loc.line - 1)] + static_cast<size_t>(loc.column - 1);
  return pos < plan.source.size() && (plan.source[pos] == '"' || plan.source[pos] == '\'');
}

void CheckReference(const Plan& plan, const Dag& dag, const KindRegistry& kinds, const Json& vars, int step_index,
                    const Reference& ref, const SourceLoc& loc, Diagnostics& diag) {
  const StepSpec& step = plan.steps[static_cast<size_t>(step_index)];
  switch (ref.kind) {
    case Reference::Kind::kVar: {
      if (FindVar(vars, ref.path)) return;
      std::vector<std::string> names;
      for (auto it = vars.begin(); it != vars.end(); ++it) names.push_back(it.key());
      std::string near = ref.path.size() == 1 ? ClosestMatch(ref.path[0], names) : "";
      std::string dotted;
      for (const auto& p : ref.path) dotted += (dotted.empty() ? "" : ".") + p;
      diag.Error(loc, "unknown variable '" + ref.text + "'",
                 near.empty() ? "define it under 'vars:' or pass --set " + dotted + "=VALUE"
                              : "did you mean 'vars." + near + "'?");
      return;
    }
    case Reference::Kind::kEnv:
      if (!std::getenv(ref.path[0].c_str()))
        diag.Error(loc, "environment variable '" + ref.path[0] + "' is not set (referenced as '" + ref.text + "')",
                   "export it, or use a var with a default instead");
      return;
    case Reference::Kind::kSecret:
      return;  // resolved at run time; a dry-run without the secret shows ***
    case Reference::Kind::kStepOutput: {
      int target = plan.IndexOf(ref.path[0]);
      if (target < 0) {
        std::vector<std::string> ids;
        for (const auto& s : plan.steps) ids.push_back(s.id);
        std::string near = ClosestMatch(ref.path[0], ids);
        diag.Error(loc, "'" + ref.text + "' refers to unknown step '" + ref.path[0] + "'",
                   near.empty() ? "" : "did you mean '" + near + "'?");
        return;
      }
      if (!dag.HasCycle() && !dag.Reaches(step_index, target)) {
        diag.Error(loc, "step '" + step.id + "' reads '" + ref.text + "' but does not need '" + ref.path[0] + "'",
                   "add '" + ref.path[0] + "' to its needs so the output exists when it runs");
        return;
      }
      const StepSpec& producer = plan.steps[static_cast<size_t>(target)];
      const StepKind* kind = kinds.Find(producer.kind);
      if (!kind) return;
      auto outputs = kind->Outputs(producer);
      if (!outputs) return;  // only known at run time
      for (const auto& o : *outputs)
        if (o == ref.path[1]) return;
      std::string near = ClosestMatch(ref.path[1], *outputs);
      std::string known;
      for (const auto& o : *outputs) known += (known.empty() ? "" : ", ") + o;
      diag.Error(loc, "step '" + producer.id + "' (" + producer.kind + ") has no output '" + ref.path[1] + "'",
                 !near.empty() ? "did you mean '" + near + "'?"
                               : (known.empty() ? "it publishes no outputs" : "its outputs: " + known));
      return;
    }
  }
}

}  // namespace

void ValidatePlan(const Plan& plan, const Dag& dag, const KindRegistry& kinds, const Json& vars, Diagnostics& diag) {
  const std::vector<size_t> line_starts = LineStarts(plan.source);
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const StepSpec& step = plan.steps[i];
    if (!step.kind.empty()) {
      const StepKind* kind = kinds.Find(step.kind);
      if (!kind) {
        std::string near = ClosestMatch(step.kind, kinds.Names());
        std::string known;
        for (const auto& n : kinds.Names()) known += " " + n;
        diag.Error(step.kind_loc, "unknown step kind '" + step.kind + "'",
                   near.empty() ? "known kinds:" + known : "did you mean '" + near + "'?");
      } else {
        kind->Validate(step, diag);
      }
    }
    if (!step.if_expr.empty()) {
      int column = 0;
      auto cond = Condition::Parse(step.if_expr, &column);
      if (!cond) {
        SourceLoc loc = step.if_loc;
        if (loc.Known() && step.if_expr.find('\n') == std::string::npos) loc.column += column - 1;
        diag.Error(loc, cond.error().message);
      } else {
        for (const auto& ref : cond->References())
          CheckReference(plan, dag, kinds, vars, static_cast<int>(i),
                         ref, RefLoc(step.if_loc, step.if_expr, ref.offset, false), diag);
      }
    }
    if (step.body.contains("shell") && HasTemplate(step.body["shell"].get<std::string>())) {
      diag.Error(step.LocOf("/shell"), "templates are not expanded inside a shell script",
                 "hand values in through env (env: {NAME: \"{{ vars.x }}\"}) and use \"$NAME\" in the script");
    }
    ForEachReference(
        step.body, "",
        [&](const Reference& ref, const std::string& pointer) {
          if (pointer == "/shell") return;
          SourceLoc loc = step.LocOf(pointer);
          const Json& value = step.body.at(Json::json_pointer(pointer));
          CheckReference(plan, dag, kinds, vars, static_cast<int>(i), ref,
                         RefLoc(loc, value.get<std::string>(), ref.offset, QuotedAt(plan, line_starts, loc)), diag);
        },
        [&](const Error& e, const std::string& pointer) { diag.Error(step.LocOf(pointer), e.message); });
  }
  // Vars may hold templates too; check those references resolve, and that none loops back.
  Masker no_masker;
  SecretStore no_secrets(no_masker);
  OutputStore no_outputs;
  RunScope scope(vars, no_secrets, no_outputs);
  for (auto it = vars.begin(); it != vars.end(); ++it) {
    if (it.value().is_string() && HasTemplate(it.value().get_ref<const std::string&>())) {
      Reference self;
      self.kind = Reference::Kind::kVar;
      self.path = {it.key()};
      self.text = "vars." + it.key();
      auto value = scope.Lookup(self);
      if (!value && value.error().message.find("refers to itself") != std::string::npos) {
        auto loc_it = plan.var_locs.find(it.key());
        diag.Error(loc_it == plan.var_locs.end() ? SourceLoc{} : loc_it->second,
                   "var '" + it.key() + "' refers to itself through other vars", "break the loop");
      }
    }
  }
  for (auto it = vars.begin(); it != vars.end(); ++it) {
    if (!it.value().is_string()) continue;
    const auto& text = it.value().get_ref<const std::string&>();
    if (!HasTemplate(text)) continue;
    auto loc_it = plan.var_locs.find(it.key());
    SourceLoc loc = loc_it == plan.var_locs.end() ? SourceLoc{} : loc_it->second;
    auto segments = ParseTemplate(text);
    if (!segments) {
      diag.Error(loc, "var '" + it.key() + "': " + segments.error().message);
      continue;
    }
    for (const auto& seg : *segments) {
      if (!seg.ref) continue;
      if (seg.ref->kind == Reference::Kind::kStepOutput || seg.ref->kind == Reference::Kind::kSecret) {
        diag.Error(loc, "var '" + it.key() + "' refers to '" + seg.ref->text + "'",
                   "vars may refer only to other vars and env");
      } else if (seg.ref->kind == Reference::Kind::kVar && !FindVar(vars, seg.ref->path)) {
        diag.Error(loc, "var '" + it.key() + "' refers to unknown variable '" + seg.ref->text + "'");
      } else if (seg.ref->kind == Reference::Kind::kEnv && !std::getenv(seg.ref->path[0].c_str())) {
        diag.Error(loc, "var '" + it.key() + "' refers to environment variable '" + seg.ref->path[0] +
                            "', which is not set");
      }
    }
  }
}

}  // namespace slipway::pipeline
