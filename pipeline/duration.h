#pragma once
#include <chrono>
#include <string>
#include <string_view>

#include "pipeline/error.h"

namespace slipway::pipeline {

/// Parses "250ms", "30s", "5m", "1h", "1h30m", "1.5s" or a bare number of seconds into milliseconds.
/// Fails with a message naming the accepted units.
Expected<std::chrono::milliseconds> ParseDuration(std::string_view text);

/// Formats a duration for people: "850ms", "12.3s", "4m05s", "1h02m".
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace slipway::pipeline
