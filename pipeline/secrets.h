#pragma once
// Secrets and their masking. A secret's value is registered with the Masker the moment it is
// resolved; every log line, dry-run line, report and state file passes through Mask().

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "pipeline/error.h"

namespace slipway::pipeline {

/// Replaces every known secret value with "***". Thread-safe.
class Masker {
 public:
  void Add(const std::string& secret);
  std::string Mask(std::string text) const;
  bool Empty() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> secrets_;  // longest first, so a secret containing another is masked whole
};

/// Where `{{ secrets.X }}` comes from: files given with --secrets-file (KEY=VALUE lines), then the
/// environment variable X, then the file named by X_FILE.
class SecretStore {
 public:
  explicit SecretStore(Masker& masker) : masker_(masker) {}
  /// Loads KEY=VALUE lines ('#' comments, blank lines allowed).
  Expected<void> LoadFile(const std::string& path);
  /// The secret's value (registered for masking), or an error saying how to provide it.
  Expected<std::string> Get(const std::string& name) const;

 private:
  Masker& masker_;
  std::map<std::string, std::string> from_files_;
};

}  // namespace slipway::pipeline
