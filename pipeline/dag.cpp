#include "pipeline/dag.h"

#include <algorithm>
#include <functional>
#include <map>
#include <queue>

namespace slipway::pipeline {

Dag Dag::Build(const Plan& plan, Diagnostics& diag) {
  Dag dag;
  const size_t n = plan.steps.size();
  dag.deps_.resize(n);
  dag.dependents_.resize(n);
  std::map<std::string, int> index;
  std::vector<std::string> ids;
  for (size_t i = 0; i < n; ++i) {
    index[plan.steps[i].id] = static_cast<int>(i);
    ids.push_back(plan.steps[i].id);
  }
  for (size_t i = 0; i < n; ++i) {
    const StepSpec& s = plan.steps[i];
    for (size_t k = 0; k < s.needs.size(); ++k) {
      auto it = index.find(s.needs[k]);
      SourceLoc loc = k < s.needs_locs.size() ? s.needs_locs[k] : s.loc;
      if (it == index.end()) {
        std::string near = ClosestMatch(s.needs[k], ids);
        diag.Error(loc, "step '" + s.id + "' needs unknown step '" + s.needs[k] + "'",
                   near.empty() ? "" : "did you mean '" + near + "'?");
        continue;
      }
      if (it->second == static_cast<int>(i)) {
        diag.Error(loc, "step '" + s.id + "' needs itself");
        dag.has_cycle_ = true;
        continue;
      }
      auto& d = dag.deps_[i];
      if (std::find(d.begin(), d.end(), it->second) == d.end()) {
        d.push_back(it->second);
        dag.dependents_[static_cast<size_t>(it->second)].push_back(static_cast<int>(i));
      }
    }
  }
  // Depth-first search for back edges; each distinct cycle is reported once.
  std::vector<int> color(n, 0);  // 0 white, 1 on stack, 2 done
  std::vector<int> stack;
  std::set<std::set<int>> reported;
  std::function<void(int)> visit = [&](int u) {
    color[static_cast<size_t>(u)] = 1;
    stack.push_back(u);
    for (int v : dag.deps_[static_cast<size_t>(u)]) {
      if (color[static_cast<size_t>(v)] == 0) {
        visit(v);
      } else if (color[static_cast<size_t>(v)] == 1) {
        dag.has_cycle_ = true;
        auto from = std::find(stack.begin(), stack.end(), v);
        std::vector<int> cycle(from, stack.end());
        std::set<int> members(cycle.begin(), cycle.end());
        if (!reported.insert(members).second) continue;
        // Print in the direction of "needs": a needs b needs c needs a.
        std::string path;
        for (int c : cycle) path += plan.steps[static_cast<size_t>(c)].id + "→";
        path += plan.steps[static_cast<size_t>(v)].id;
        const StepSpec& closer = plan.steps[static_cast<size_t>(u)];
        SourceLoc loc = closer.loc;
        for (size_t k = 0; k < closer.needs.size() && k < closer.needs_locs.size(); ++k)
          if (closer.needs[k] == plan.steps[static_cast<size_t>(v)].id) loc = closer.needs_locs[k];
        diag.Error(loc, "dependency cycle: " + path, "remove one of these 'needs' to break it");
      }
    }
    stack.pop_back();
    color[static_cast<size_t>(u)] = 2;
  };
  for (size_t i = 0; i < n; ++i)
    if (color[i] == 0) visit(static_cast<int>(i));
  return dag;
}

std::vector<std::vector<int>> Dag::Waves() const {
  std::vector<int> depth(deps_.size(), 0);
  std::vector<std::vector<int>> waves;
  for (int i : TopoOrder()) {
    int d = 0;
    for (int dep : deps_[static_cast<size_t>(i)]) d = std::max(d, depth[static_cast<size_t>(dep)] + 1);
    depth[static_cast<size_t>(i)] = d;
    if (waves.size() <= static_cast<size_t>(d)) waves.resize(static_cast<size_t>(d) + 1);
    waves[static_cast<size_t>(d)].push_back(i);
  }
  for (auto& w : waves) std::sort(w.begin(), w.end());
  return waves;
}

std::vector<int> Dag::TopoOrder() const {
  std::vector<int> pending(deps_.size());
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (size_t i = 0; i < deps_.size(); ++i) {
    pending[i] = static_cast<int>(deps_[i].size());
    if (pending[i] == 0) ready.push(static_cast<int>(i));
  }
  std::vector<int> order;
  while (!ready.empty()) {
    int u = ready.top();
    ready.pop();
    order.push_back(u);
    for (int v : dependents_[static_cast<size_t>(u)])
      if (--pending[static_cast<size_t>(v)] == 0) ready.push(v);
  }
  return order;
}

std::set<int> Dag::WithDependencies(const std::set<int>& roots) const {
  std::set<int> out;
  std::vector<int> todo(roots.begin(), roots.end());
  while (!todo.empty()) {
    int u = todo.back();
    todo.pop_back();
    if (!out.insert(u).second) continue;
    for (int d : deps_[static_cast<size_t>(u)]) todo.push_back(d);
  }
  return out;
}

std::set<int> Dag::WithDependents(const std::set<int>& roots) const {
  std::set<int> out;
  std::vector<int> todo(roots.begin(), roots.end());
  while (!todo.empty()) {
    int u = todo.back();
    todo.pop_back();
    if (!out.insert(u).second) continue;
    for (int d : dependents_[static_cast<size_t>(u)]) todo.push_back(d);
  }
  return out;
}

bool Dag::Reaches(int from, int to) const {
  auto all = WithDependencies({from});
  return from != to && all.count(to) > 0;
}

}  // namespace slipway::pipeline
