#include "pipeline/diagnostics.h"

#include <algorithm>
#include <sstream>
#include <tuple>

namespace slipway::pipeline {

void Diagnostics::AddSource(const std::string& file, std::string text) {
  sources_.emplace_back(file, std::move(text));
}

void Diagnostics::Error(SourceLoc loc, std::string message, std::string hint) {
  items_.push_back({std::move(loc), std::move(message), std::move(hint)});
}

std::string Diagnostics::FormatShort(const Diagnostic& d) {
  std::string out = d.loc.file.empty() ? "" : d.loc.ToString() + ": ";
  out += "error: " + d.message;
  if (!d.hint.empty()) out += "; " + d.hint;
  return out;
}

static std::string LineOf(const std::string& text, int line) {
  int current = 1;
  size_t start = 0;
  while (current < line) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) return {};
    start = nl + 1;
    ++current;
  }
  size_t end = text.find('\n', start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string Diagnostics::Format() const {
  std::ostringstream out;
  // In file order, so the list reads top to bottom; problems without a position come first.
  std::vector<Diagnostic> sorted = items_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.loc.file, a.loc.line, a.loc.column) < std::tie(b.loc.file, b.loc.line, b.loc.column);
  });
  for (const auto& d : sorted) {
    out << FormatShort(d) << "\n";
    if (!d.loc.Known()) continue;
    for (const auto& [file, text] : sources_) {
      if (file != d.loc.file) continue;
      std::string line = LineOf(text, d.loc.line);
      if (line.empty()) break;
      out << "  " << line << "\n  " << std::string(static_cast<size_t>(std::max(0, d.loc.column - 1)), ' ')
          << "^\n";
      break;
    }
  }
  out << items_.size() << (items_.size() == 1 ? " error" : " errors") << "\n";
  return out.str();
}

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// adjacent letters each count one ("biuld" is one edit from "build").
static size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::string::npos;
  for (const auto& c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  // Suggest only plausible typos: up to a third of the word's length, at least 1, at most 3 edits.
  size_t limit = std::clamp<size_t>(word.size() / 3, 1, 3);
  return best_distance <= limit ? best : std::string();
}

}  // namespace slipway::pipeline
