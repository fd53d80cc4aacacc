#include "pipeline/secrets.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace slipway::pipeline {

void Masker::Add(const std::string& secret) {
  if (secret.empty()) return;
  std::lock_guard lock(mu_);
  if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) return;
  secrets_.push_back(secret);
  std::sort(secrets_.begin(), secrets_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

bool Masker::Empty() const {
  std::lock_guard lock(mu_);
  return secrets_.empty();
}

std::string Masker::Mask(std::string text) const {
  std::lock_guard lock(mu_);
  for (const auto& s : secrets_) {
    for (size_t pos = 0; (pos = text.find(s, pos)) != std::string::npos;) {
      text.replace(pos, s.size(), "***");
      pos += 3;
    }
  }
  return text;
}

Expected<void> SecretStore::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Fail("--secrets-file: cannot read '" + path + "'");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0)
      return Fail("expected KEY=VALUE", SourceLoc{path, n, 1});
    std::string value = line.substr(eq + 1);
    from_files_[line.substr(0, eq)] = value;
    masker_.Add(value);
  }
  return {};
}

Expected<std::string> SecretStore::Get(const std::string& name) const {
  std::string value;
  if (auto it = from_files_.find(name); it != from_files_.end()) {
    value = it->second;
  } else if (const char* v = std::getenv(name.c_str()); v && *v) {
    value = v;
  } else if (const char* f = std::getenv((name + "_FILE").c_str()); f && *f) {
    std::ifstream in(f);
    if (!in) return Fail("secret '" + name + "': cannot read the file named by " + name + "_FILE");
    std::ostringstream buf;
    buf << in.rdbuf();
    value = buf.str();
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  } else {
    return Fail("secret '" + name + "' is not set; export " + name + ", set " + name +
                "_FILE to a file holding it, or pass --secrets-file");
  }
  masker_.Add(value);
  return value;
}

}  // namespace slipway::pipeline
