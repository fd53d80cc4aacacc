#include "steps/loadtest/duration.h"

#include <cmath>
#include <cstdio>

namespace slipway::steps::loadtest {

namespace {

Expected<Nanos> Invalid(std::string_view text) {
  return Fail("invalid duration '" + std::string(text) + "' (expected e.g. 30s, 5m, 200ms, 1h)");
}

}  // namespace

Expected<Nanos> ParseDuration(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty()) return Invalid(text);
  if (s == "0") return 0;
  long double total = 0;
  while (!s.empty()) {
    std::size_t i = 0;
    bool digits = false;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) {
      digits = digits || s[i] != '.';
      ++i;
    }
    if (!digits || i == s.size()) return Invalid(text);
    std::string number(s.substr(0, i));
    if (number.find('.') != number.rfind('.')) return Invalid(text);
    long double value = std::strtold(number.c_str(), nullptr);
    s.remove_prefix(i);
    long double unit = 0;
    // Longest unit first so "ms" is not read as "m" followed by garbage.
    if (s.substr(0, 2) == "ms") unit = kNanosPerMilli, s.remove_prefix(2);
    else if (s.substr(0, 2) == "us") unit = kNanosPerMicro, s.remove_prefix(2);
    else if (s.substr(0, 3) == "\xC2\xB5s") unit = kNanosPerMicro, s.remove_prefix(3);
    else if (s.substr(0, 2) == "ns") unit = 1, s.remove_prefix(2);
    else if (s.substr(0, 1) == "h") unit = 3600.0L * kNanosPerSecond, s.remove_prefix(1);
    else if (s.substr(0, 1) == "m") unit = 60.0L * kNanosPerSecond, s.remove_prefix(1);
    else if (s.substr(0, 1) == "s") unit = kNanosPerSecond, s.remove_prefix(1);
    else return Invalid(text);
    total += value * unit;
  }
  if (total > 1e18L) return Fail("duration '" + std::string(text) + "' is too long");
  return static_cast<Nanos>(std::llround(static_cast<double>(total)));
}

std::string FormatDuration(Nanos d) {
  if (d == 0) return "0s";
  std::string out;
  if (d < 0) {
    out = "-";
    d = -d;
  }
  char buf[64];
  auto trim = [](std::string s) {
    if (s.find('.') != std::string::npos) {
      while (s.back() == '0') s.pop_back();
      if (s.back() == '.') s.pop_back();
    }
    return s;
  };
  if (d < kNanosPerMicro) return out + std::to_string(d) + "ns";
  if (d < kNanosPerMilli) {
    std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(d) / kNanosPerMicro);
    return out + trim(buf) + "us";
  }
  if (d < kNanosPerSecond) {
    std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(d) / kNanosPerMilli);
    return out + trim(buf) + "ms";
  }
  if (d % kNanosPerSecond != 0 || d < 60 * kNanosPerSecond) {
    if (d < 60 * kNanosPerSecond) {
      std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(d) / kNanosPerSecond);
      return out + trim(buf) + "s";
    }
  }
  Nanos secs = d / kNanosPerSecond;
  Nanos rem_ns = d % kNanosPerSecond;
  Nanos h = secs / 3600, m = (secs % 3600) / 60, s = secs % 60;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (s || rem_ns) {
    if (rem_ns) {
      std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(s) + static_cast<double>(rem_ns) / kNanosPerSecond);
      out += trim(buf) + "s";
    } else {
      out += std::to_string(s) + "s";
    }
  }
  return out;
}

}  // namespace slipway::steps::loadtest
