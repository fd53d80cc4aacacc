#pragma once
// Inline SVG charts for the HTML report: a Gantt timeline of the steps, a latency-percentile bar
// chart and line charts of a load test's per-second series. Plain SVG 1.1 strings (no script, no
// external references), sized by a viewBox so they scale with the page; every text is XML-escaped.

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace slipway::steps::report {

/// The fill colour of a step status (succeeded green, failed red, skipped grey, ...).
std::string StatusColor(const std::string& status);

/// A Gantt chart of report["steps"]: one row per step, its bar placed by start_offset_ms and
/// duration_ms on a shared time axis, coloured by status; steps that never started are named with
/// their status instead of a bar. "" when there are no steps.
std::string TimelineSvg(const nlohmann::json& report);

/// Bars of a load test's latency_ms p50, p90, p95, p99, p99.9 and max, with dashed lines at the limits of
/// its latency thresholds. "" when the load test has none of these numbers.
std::string PercentileSvg(const nlohmann::json& loadtest);

/// One line of a LineChartSvg.
struct ChartLine {
  std::string name;
  std::string color;
  std::vector<std::pair<double, double>> points;  // (x, y), x ascending
  bool emphasis = false;                          // drawn thicker (the p95 the thresholds are about)
};

/// A line chart with axes, ticks, axis titles and a legend.
struct LineChart {
  std::string x_title;
  std::string y_title;
  std::vector<ChartLine> lines;
  std::vector<std::pair<std::string, double>> limits;  // dashed horizontal lines: label, y
  std::function<std::string(double)> y_format;         // tick labels; FormatNumber when empty
};

/// The chart as SVG; "" when no line has a point.
std::string LineChartSvg(const LineChart& chart);

}  // namespace slipway::steps::report
