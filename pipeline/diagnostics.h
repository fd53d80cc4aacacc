#pragma once
// Collects every problem found in a user's input so all of them are reported at once,
// each as "file:line:col: error: message", the source line and a caret.

#include <string>
#include <string_view>
#include <vector>

#include "pipeline/error.h"

namespace slipway::pipeline {

/// One problem in a user's file.
struct Diagnostic {
  SourceLoc loc;
  std::string message;
  std::string hint;  // optional "did you mean ..." or how to fix it
};

/// The problems found so far, plus the source text needed to show them with a caret.
class Diagnostics {
 public:
  /// Registers the text of a file so errors in it can quote the offending line.
  void AddSource(const std::string& file, std::string text);
  void Error(SourceLoc loc, std::string message, std::string hint = {});
  bool HasErrors() const { return !items_.empty(); }
  const std::vector<Diagnostic>& Items() const { return items_; }
  /// All problems, in the order found, formatted for a terminal; ends with "N error(s)".
  std::string Format() const;
  /// One problem without the quoted source line (for logs and annotations).
  static std::string FormatShort(const Diagnostic& d);

 private:
  std::vector<Diagnostic> items_;
  std::vector<std::pair<std::string, std::string>> sources_;
};

/// The candidate closest to `word` by edit distance, or "" when none is close enough to suggest.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace slipway::pipeline
