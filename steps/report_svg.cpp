#include "steps/report_svg.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "steps/report_model.h"

namespace slipway::steps::report {

using nlohmann::json;

namespace {

constexpr const char* kFont = "font-family=\"-apple-system,'Segoe UI',Helvetica,Arial,sans-serif\"";
constexpr const char* kAxis = "#8c959f";
constexpr const char* kGrid = "#eaeef2";
constexpr const char* kText = "#1f2328";
constexpr const char* kMuted = "#656d76";
constexpr const char* kLimit = "#cf222e";
// A white outline under a label, so it stays readable where it crosses bars and lines.
constexpr const char* kHalo = "stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\"";

std::string N(double v) { return FormatNumber(v, 1); }

/// Tick values 0, step, 2*step, ... covering [0, max] with about `target` steps of 1, 2, 2.5 or 5 x 10^k.
std::vector<double> NiceTicks(double max, int target) {
  if (!(max > 0)) max = 1;
  double raw = max / target;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double norm = raw / mag;
  double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  std::vector<double> ticks;
  int n = static_cast<int>(std::ceil(max / step - 1e-9));
  for (int i = 0; i <= std::max(n, 1); ++i) ticks.push_back(i * step);
  return ticks;
}

std::string Text(double x, double y, const std::string& text, const std::string& attrs = "") {
  return "<text x=\"" + N(x) + "\" y=\"" + N(y) + "\"" + (attrs.empty() ? "" : " " + attrs) + ">" + EscapeXml(text) +
         "</text>";
}

std::string Line(double x1, double y1, double x2, double y2, const std::string& stroke, const std::string& extra = "") {
  return "<line x1=\"" + N(x1) + "\" y1=\"" + N(y1) + "\" x2=\"" + N(x2) + "\" y2=\"" + N(y2) + "\" stroke=\"" +
         stroke + "\"" + (extra.empty() ? "" : " " + extra) + "/>";
}

std::string Open(double w, double h, const std::string& label) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + N(w) + " " + N(h) +
         "\" role=\"img\" aria-label=\"" + EscapeXml(label) + "\" " + kFont + " font-size=\"12\">";
}

/// `s` cut to `max` characters (UTF-8 aware enough: never splits a multi-byte sequence).
std::string Shorten(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t cut = max - 1;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "\xE2\x80\xA6";
}

/// Moves the limits far above the data (more than 1.6x its maximum) to `off_scale` as labels: drawing
/// them would squash the data into the bottom of the chart; the thresholds table shows them anyway.
void SplitLimits(std::vector<std::pair<std::string, double>>& limits, double data_max,
                 std::vector<std::string>& off_scale) {
  std::vector<std::pair<std::string, double>> kept;
  for (auto& l : limits) {
    if (data_max > 0 && l.second > data_max * 1.6)
      off_scale.push_back(l.first);
    else
      kept.push_back(std::move(l));
  }
  limits = std::move(kept);
}

/// "limit p(95)<200 above the chart", right-aligned at (x, y); "" when there is none.
std::string OffScaleNote(const std::vector<std::string>& off_scale, double x, double y) {
  if (off_scale.empty()) return "";
  std::string labels;
  for (const auto& l : off_scale) labels += (labels.empty() ? "" : ", ") + l;
  return Text(x, y, (off_scale.size() == 1 ? "limit " : "limits ") + labels + " above the chart",
              std::string("text-anchor=\"end\" fill=\"") + kLimit + "\" font-size=\"11\" " + kHalo);
}

std::string OneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  return s;
}

}  // namespace

std::string StatusColor(const std::string& status) {
  static const std::map<std::string, std::string> kColors = {
      {"succeeded", "#2da44e"},   {"unchanged", "#8fd19e"},      {"failed", "#cf222e"},    {"skipped", "#afb8c1"},
      {"running", "#0969da"},     {"pending", "#d0d7de"},        {"would-run", "#54aeff"}, {"interrupted", "#bc4c00"},
      {"rolled-back", "#8250df"}, {"rollback-failed", "#82071e"}};
  auto it = kColors.find(status);
  return it == kColors.end() ? "#8c959f" : it->second;
}

std::string TimelineSvg(const json& report) {
  const json& steps = report.value("steps", json::array());
  if (!steps.is_array() || steps.empty()) return "";
  double total = NumberAt(report, "duration_ms").value_or(0);
  size_t longest_id = 4;
  for (const auto& s : steps) {
    longest_id = std::max(longest_id, TextAt(s, "id").size());
    auto off = NumberAt(s, "start_offset_ms"), dur = NumberAt(s, "duration_ms");
    if (off && dur) total = std::max(total, *off + *dur);
  }
  const double width = 960;
  const double label_w = std::clamp(static_cast<double>(std::min<size_t>(longest_id, 28)) * 7.0 + 24, 110.0, 230.0);
  const double right = 80;  // room for the duration after the longest bar
  const double plot_x = label_w, plot_w = width - label_w - right;
  const double top = 30, row_h = 24, bar_h = 14;
  const double rows_h = static_cast<double>(steps.size()) * row_h;
  const double legend_y = top + rows_h + 22;
  const double height = legend_y + 14;
  std::vector<double> ticks = NiceTicks(total, 8);
  const double scale_max = ticks.back();
  auto X = [&](double ms) { return plot_x + std::clamp(ms / scale_max, 0.0, 1.0) * plot_w; };

  std::ostringstream o;
  o << Open(width, height, "Timeline of the steps");
  for (size_t i = 0; i < steps.size(); ++i)
    if (i % 2 == 0)
      o << "<rect x=\"0\" y=\"" << N(top + static_cast<double>(i) * row_h) << "\" width=\"" << N(width)
        << "\" height=\"" << N(row_h) << "\" fill=\"#f6f8fa\"/>";
  for (double t : ticks) {
    double x = X(t);
    o << Line(x, top - 4, x, top + rows_h, kGrid);
    o << Text(x, top - 10, FormatMillis(t),
              std::string("text-anchor=\"middle\" fill=\"") + kMuted + "\" font-size=\"11\"");
  }
  o << Line(plot_x, top, plot_x, top + rows_h, kAxis);
  std::set<std::string> seen;
  std::vector<std::string> legend;
  for (size_t i = 0; i < steps.size(); ++i) {
    const json& s = steps[i];
    const double y = top + static_cast<double>(i) * row_h;
    const std::string id = TextAt(s, "id"), status = TextAt(s, "status");
    if (seen.insert(status).second) legend.push_back(status);
    o << "<g>";
    o << Text(label_w - 10, y + row_h / 2 + 4, Shorten(id, 28),
              std::string("text-anchor=\"end\" fill=\"") + kText + "\"");
    auto off = NumberAt(s, "start_offset_ms"), dur = NumberAt(s, "duration_ms");
    std::string reason = OneLine(TextAt(s, "reason"));
    if (off && dur) {
      double x1 = X(*off), x2 = std::max(X(*off + *dur), x1 + 3);
      std::string tip = id + " (" + TextAt(s, "kind") + "): " + status + ", started +" + FormatMillis(*off) +
                        ", took " + FormatMillis(*dur) + (reason.empty() ? "" : "\n" + reason);
      o << "<rect x=\"" << N(x1) << "\" y=\"" << N(y + (row_h - bar_h) / 2) << "\" width=\"" << N(x2 - x1)
        << "\" height=\"" << N(bar_h) << "\" rx=\"3\" fill=\"" << StatusColor(status) << "\""
        << (status == "running" ? " fill-opacity=\"0.6\" stroke=\"#0969da\" stroke-dasharray=\"3 2\"" : "")
        << "><title>" << EscapeXml(tip) << "</title></rect>";
      o << Text(x2 + 6, y + row_h / 2 + 4, FormatMillis(*dur), std::string("fill=\"") + kMuted + "\" font-size=\"11\"");
    } else {
      std::string note = status.empty() ? "not run" : status;
      if (!reason.empty()) note += ": " + reason;
      o << "<rect x=\"" << N(plot_x + 4) << "\" y=\"" << N(y + row_h / 2 - 4)
        << "\" width=\"8\" height=\"8\" rx=\"2\" fill=\"" << StatusColor(status) << "\"/>";
      o << Text(plot_x + 18, y + row_h / 2 + 4, Shorten(note, 90),
                std::string("fill=\"") + kMuted + "\" font-style=\"italic\" font-size=\"11\"");
    }
    o << "</g>";
  }
  double lx = plot_x;
  for (const auto& st : legend) {
    o << "<rect x=\"" << N(lx) << "\" y=\"" << N(legend_y - 9) << "\" width=\"10\" height=\"10\" rx=\"2\" fill=\""
      << StatusColor(st) << "\"/>";
    o << Text(lx + 14, legend_y, st, std::string("fill=\"") + kMuted + "\" font-size=\"11\"");
    lx += 14 + 7.0 * static_cast<double>(st.size()) + 18;
  }
  o << "</svg>";
  return o.str();
}

std::string PercentileSvg(const json& loadtest) {
  static const std::pair<const char*, const char*> kBars[] = {{"p50", "p50"}, {"p90", "p90"},    {"p95", "p95"},
                                                              {"p99", "p99"}, {"p999", "p99.9"}, {"max", "max"}};
  static const char* kShades[] = {"#9ecbff", "#54aeff", "#0969da", "#0550ae", "#033d8b", "#8c959f"};
  const json lat = loadtest.value("latency_ms", json::object());
  struct Bar {
    std::string label, color;
    double v;
  };
  std::vector<Bar> bars;
  for (size_t i = 0; i < std::size(kBars); ++i)
    if (auto v = NumberAt(lat, kBars[i].first)) bars.push_back({kBars[i].second, kShades[i], *v});
  if (bars.empty()) return "";
  std::vector<std::pair<std::string, double>> limits;
  for (const auto& t : loadtest.value("thresholds", json::array())) {
    auto limit = NumberAt(t, "limit");
    if (limit && TextAt(t, "metric").find("duration") != std::string::npos)
      limits.emplace_back(TextAt(t, "expr"), *limit);
  }
  double max = 0;
  for (const auto& b : bars) max = std::max(max, b.v);
  std::vector<std::string> off_scale;
  SplitLimits(limits, max, off_scale);
  for (const auto& l : limits) max = std::max(max, l.second);
  std::vector<double> ticks = NiceTicks(max * 1.08, 5);
  const double width = 540, height = 260, left = 58, right = 14, top = 22, bottom = 30;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  auto Y = [&](double v) { return top + plot_h - std::clamp(v / ticks.back(), 0.0, 1.0) * plot_h; };

  std::ostringstream o;
  o << Open(width, height, "Latency percentiles");
  for (double t : ticks) {
    o << Line(left, Y(t), width - right, Y(t), kGrid);
    o << Text(left - 6, Y(t) + 4, FormatNumber(t, 2),
              std::string("text-anchor=\"end\" fill=\"") + kMuted + "\" font-size=\"11\"");
  }
  o << Text(14, top + plot_h / 2, "latency (ms)",
            "transform=\"rotate(-90 14 " + N(top + plot_h / 2) + ")\" text-anchor=\"middle\" fill=\"" + kMuted +
                "\" font-size=\"11\"");
  const double band = plot_w / static_cast<double>(bars.size());
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    double cx = left + band * (static_cast<double>(i) + 0.5), bw = std::min(band * 0.6, 64.0);
    double y = Y(b.v), h = std::max(top + plot_h - y, 1.0);
    o << "<rect x=\"" << N(cx - bw / 2) << "\" y=\"" << N(top + plot_h - h) << "\" width=\"" << N(bw) << "\" height=\""
      << N(h) << "\" rx=\"2\" fill=\"" << b.color << "\"><title>" << EscapeXml(b.label + ": " + FormatMs(b.v))
      << "</title></rect>";
    o << Text(cx, top + plot_h - h - 5, FormatMs(b.v),
              std::string("text-anchor=\"middle\" fill=\"") + kText + "\" font-size=\"11\"");
    o << Text(cx, height - bottom + 16, b.label, std::string("text-anchor=\"middle\" fill=\"") + kText + "\"");
  }
  o << Line(left, top + plot_h, width - right, top + plot_h, kAxis);
  for (const auto& [label, v] : limits) {
    o << Line(left, Y(v), width - right, Y(v), kLimit, "stroke-dasharray=\"6 4\" stroke-width=\"1.5\"");
    o << Text(width - right - 2, Y(v) - 4, label,
              std::string("text-anchor=\"end\" fill=\"") + kLimit + "\" font-size=\"11\" " + kHalo);
  }
  o << OffScaleNote(off_scale, width - right - 2, 12);
  o << "</svg>";
  return o.str();
}

std::string LineChartSvg(const LineChart& chart) {
  double x_min = 0, x_max = 0, y_max = 0;
  bool any = false;
  for (const auto& l : chart.lines)
    for (const auto& [x, y] : l.points) {
      x_min = any ? std::min(x_min, x) : x;
      x_max = any ? std::max(x_max, x) : x;
      y_max = std::max(y_max, y);
      any = true;
    }
  if (!any) return "";
  std::vector<std::pair<std::string, double>> limits = chart.limits;
  std::vector<std::string> off_scale;
  SplitLimits(limits, y_max, off_scale);
  for (const auto& lim : limits) y_max = std::max(y_max, lim.second);
  x_min = std::min(x_min, 0.0);
  std::vector<double> xt = NiceTicks(std::max(x_max - x_min, 1.0), 8);
  std::vector<double> yt = NiceTicks(y_max * 1.05, 5);
  auto fmt = chart.y_format ? chart.y_format : [](double v) { return FormatNumber(v, 2); };
  const double width = 540, height = 260, left = 58, right = 14, top = 30, bottom = 40;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  auto X = [&](double x) { return left + (x - x_min) / xt.back() * plot_w; };
  auto Y = [&](double y) { return top + plot_h - std::clamp(y / yt.back(), 0.0, 1.0) * plot_h; };

  std::ostringstream o;
  o << Open(width, height, chart.y_title + " over " + chart.x_title);
  for (double t : yt) {
    o << Line(left, Y(t), width - right, Y(t), kGrid);
    o << Text(left - 6, Y(t) + 4, fmt(t), std::string("text-anchor=\"end\" fill=\"") + kMuted + "\" font-size=\"11\"");
  }
  for (double t : xt) {
    o << Line(X(x_min + t), top, X(x_min + t), top + plot_h, kGrid);
    o << Text(X(x_min + t), top + plot_h + 15, FormatNumber(x_min + t, 2),
              std::string("text-anchor=\"middle\" fill=\"") + kMuted + "\" font-size=\"11\"");
  }
  o << Line(left, top, left, top + plot_h, kAxis) << Line(left, top + plot_h, width - right, top + plot_h, kAxis);
  o << Text(left + plot_w / 2, height - 6, chart.x_title,
            std::string("text-anchor=\"middle\" fill=\"") + kMuted + "\" font-size=\"11\"");
  o << Text(14, top + plot_h / 2, chart.y_title,
            "transform=\"rotate(-90 14 " + N(top + plot_h / 2) + ")\" text-anchor=\"middle\" fill=\"" + kMuted +
                "\" font-size=\"11\"");
  o << OffScaleNote(off_scale, width - right - 2, top - 4);
  for (const auto& [label, v] : limits) {
    o << Line(left, Y(v), width - right, Y(v), kLimit, "stroke-dasharray=\"6 4\" stroke-width=\"1.2\"");
    o << Text(width - right - 2, Y(v) - 4, label,
              std::string("text-anchor=\"end\" fill=\"") + kLimit + "\" font-size=\"11\" " + kHalo);
  }
  for (const auto& l : chart.lines) {
    if (l.points.empty()) continue;
    std::string pts;
    for (const auto& [x, y] : l.points) pts += N(X(x)) + "," + N(Y(y)) + " ";
    o << "<polyline fill=\"none\" stroke=\"" << l.color << "\" stroke-width=\"" << (l.emphasis ? "2.5" : "1.5")
      << "\" stroke-linejoin=\"round\" points=\"" << pts << "\"><title>" << EscapeXml(l.name) << "</title></polyline>";
    if (l.points.size() <= 40)
      for (const auto& [x, y] : l.points)
        o << "<circle cx=\"" << N(X(x)) << "\" cy=\"" << N(Y(y)) << "\" r=\"2.2\" fill=\"" << l.color << "\"><title>"
          << EscapeXml(l.name + " at " + FormatNumber(x, 2) + ": " + fmt(y)) << "</title></circle>";
  }
  double lx = left + 4;
  for (const auto& l : chart.lines) {
    o << Line(lx, 14, lx + 16, 14, l.color, std::string("stroke-width=\"") + (l.emphasis ? "3" : "2") + "\"");
    o << Text(lx + 20, 18, l.name, std::string("fill=\"") + kText + "\" font-size=\"11\"");
    lx += 20 + 6.5 * static_cast<double>(l.name.size()) + 18;
  }
  o << "</svg>";
  return o.str();
}

}  // namespace slipway::steps::report
