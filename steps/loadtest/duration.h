#pragma once
// Durations as users write them in a loadtest step: "30s", "5m", "200ms", "1h", "1m30s", "1.5s", "250us".

#include <cstdint>
#include <string>
#include <string_view>

#include "pipeline/error.h"

namespace slipway::steps::loadtest {

/// Nanoseconds; every duration in the engine is an integer count of these.
using Nanos = std::int64_t;

inline constexpr Nanos kNanosPerMicro = 1'000;
inline constexpr Nanos kNanosPerMilli = 1'000'000;
inline constexpr Nanos kNanosPerSecond = 1'000'000'000;

/// Parses one or more <number><unit> terms (units h, m, s, ms, us, µs, ns; decimals allowed) and "0".
/// Fails with a message naming the text, e.g. "invalid duration 'abc' (expected e.g. 30s, 5m, 200ms)".
Expected<Nanos> ParseDuration(std::string_view text);

/// The shortest readable form: "1h30m", "5m", "30s", "1.5s", "200ms", "250us".
std::string FormatDuration(Nanos d);

}  // namespace slipway::steps::loadtest
