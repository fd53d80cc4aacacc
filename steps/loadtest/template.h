#pragma once
// Templated values in a loadtest request's url/path, header values and body, pre-parsed once so
// rendering on the hot path is a few appends into a reused buffer.
//
// Supported: {{ request.index }}  the request's number in the whole test (unique across threads and
//                                 workers; for arrival-rate executors it is the arrival's index),
//            {{ worker.index }}   this worker process's index (0 without scale-out),
//            {{ random.int }}     a uniform integer in [0, 2^31 - 1],
//            {{ random.int(A, B) }} a uniform integer in [A, B].
// Anything else inside {{ }} is an error at parse time.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/error.h"

namespace slipway::steps::loadtest {

/// xorshift64*: fast, per-thread, good enough for picking requests and random.int.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed ? seed : 0x9E3779B97F4A7C15ull) {}
  std::uint64_t Next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  /// Uniform in [0, n) for n > 0 (multiply-shift; bias is negligible for our n).
  std::uint64_t Below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

 private:
  std::uint64_t state_;
};

/// What a rendering may refer to.
struct TemplateContext {
  std::uint64_t request_index = 0;
  int worker_index = 0;
  Rng* rng = nullptr;
};

/// A string with {{ ... }} placeholders.
class Template {
 public:
  Template() = default;
  /// Parses `text`; fails with e.g. "unknown template variable 'foo' (supported: request.index,
  /// worker.index, random.int, random.int(A, B))" or "unclosed '{{'".
  static Expected<Template> Parse(std::string_view text);

  /// True when there is nothing to substitute; then Text() is the value.
  bool IsStatic() const { return static_; }
  /// The source text (for static templates, the value).
  const std::string& Text() const { return text_; }
  /// Clears `out` and writes the rendered value (no allocation once `out` has the capacity).
  void Render(const TemplateContext& ctx, std::string& out) const;

 private:
  enum class Kind { kLiteral, kRequestIndex, kWorkerIndex, kRandomInt };
  struct Part {
    Kind kind = Kind::kLiteral;
    std::size_t offset = 0;  // literal: range in text_
    std::size_t length = 0;
    std::int64_t lo = 0;  // random.int bounds
    std::int64_t hi = 0;
  };
  std::string text_;
  std::vector<Part> parts_;
  bool static_ = true;
};

}  // namespace slipway::steps::loadtest
