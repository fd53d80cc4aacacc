#pragma once
// The report's data model: the documented JSON of steps/report.h, built from a run's step snapshots,
// and the number/time formatting every renderer (Markdown, HTML, JUnit, SVG) shares so they agree.

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/secrets.h"
#include "pipeline/step.h"

namespace slipway::steps::report {

/// What a report is made from.
struct ReportInput {
  std::string title;
  std::string plan;
  std::string plan_file;
  std::string run_id;
  std::chrono::system_clock::time_point started{};   // the run's start (epoch: unknown)
  std::chrono::system_clock::time_point finished{};  // when the report is written
  std::vector<pipeline::StepSnapshot> steps;         // plan order; the report step itself left out
  const pipeline::Masker* masker = nullptr;          // applied to every string taken from the run
};

/// The report as JSON (schema "slipway.report/v1", documented in steps/report.h). Never throws on
/// missing or malformed producer data: a summary_json/report_json that does not parse gives an entry
/// with an "error" string, an absent field gives null.
nlohmann::json BuildReport(const ReportInput& in);

/// "2024-05-01T12:00:00.123Z" (UTC); "" for the epoch (a step that never started).
std::string IsoTime(std::chrono::system_clock::time_point t);
/// Whether a step status makes the run failed: failed, rollback-failed, interrupted.
bool IsFailure(const std::string& status);
/// A number from a JSON value: numbers, and strings holding one ("12.5"); nullopt otherwise.
std::optional<double> NumberOf(const nlohmann::json& j);
/// The number at j[key] (see NumberOf); nullopt when j is not an object or the key is absent.
std::optional<double> NumberAt(const nlohmann::json& j, const char* key);
/// The string at j[key]; scalars other than strings as their text; "" when absent or null.
std::string TextAt(const nlohmann::json& j, const char* key);

/// `v` with at most `decimals` decimals and no trailing zeros: 12.50 -> "12.5", 3.0 -> "3".
std::string FormatNumber(double v, int decimals);
/// A latency in milliseconds for people, three significant digits: "0.84 ms", "12.3 ms", "1.24 s".
std::string FormatMs(double ms);
/// A ratio (0.0008) as a percentage: "0.08%".
std::string FormatRate(double ratio);
/// A step or run duration from milliseconds: "850ms", "12.3s", "4m05s".
std::string FormatMillis(double ms);
/// `s` escaped for XML/HTML text and attribute values (& < > " '); control characters XML 1.0 forbids
/// are dropped (a reason can hold a command's raw output).
std::string EscapeXml(const std::string& s);
/// A JSON scalar for a table cell: numbers via FormatNumber(…, 3), strings as they are, null as "".
std::string CellText(const nlohmann::json& v);

}  // namespace slipway::steps::report
