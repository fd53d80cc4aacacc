#include "steps/slo_prometheus.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "steps/http_client.h"

namespace slipway::steps::slo {

namespace {

using nlohmann::json;

QueryResult<json> Failure(QueryFailure::Kind kind, std::string message) {
  return tl::unexpected<QueryFailure>(QueryFailure{kind, std::move(message)});
}

// obj[key] when it is a string, else "" (json::value() would throw on a wrong type).
std::string StringMember(const json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string BaseUrl(const std::string& url) {
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

std::string FormatTime(double t) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f", t);
  return buf;
}

// A value pair [ts, "1.5"] as Prometheus sends it; "NaN", "+Inf" and "-Inf" included.
std::optional<std::pair<double, double>> ParsePoint(const json& pair) {
  if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number() || !pair[1].is_string()) return std::nullopt;
  const std::string& text = pair[1].get_ref<const std::string&>();
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || *end != '\0') return std::nullopt;
  return std::make_pair(pair[0].get<double>(), v);
}

std::map<std::string, std::string> ParseLabels(const json& metric) {
  std::map<std::string, std::string> labels;
  if (!metric.is_object()) return labels;
  for (auto it = metric.begin(); it != metric.end(); ++it)
    if (it.value().is_string()) labels[it.key()] = it.value().get<std::string>();
  return labels;
}

// What went wrong, from an error answer: "bad_data: parse error ..." or the start of the body.
std::string ErrorText(const json& answer, const std::string& body) {
  if (answer.is_object() && answer.contains("error") && answer["error"].is_string()) {
    std::string type = StringMember(answer, "errorType");
    return (type.empty() ? "" : type + ": ") + answer["error"].get<std::string>();
  }
  std::string snippet = body.substr(0, 200);
  std::replace(snippet.begin(), snippet.end(), '\n', ' ');
  return snippet.empty() ? "empty body" : snippet;
}

// Sleeps in short slices so a cancelled run does not wait out a long backoff.
bool SleepUnlessCancelled(std::chrono::milliseconds d, const std::atomic<bool>* cancel) {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (cancel && cancel->load()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds(50),
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()) +
            std::chrono::milliseconds(1)));
  }
  return !(cancel && cancel->load());
}

}  // namespace

std::string LabelsText(const std::map<std::string, std::string>& labels) {
  std::string s = "{";
  for (const auto& [k, v] : labels) s += (s.size() > 1 ? ", " : "") + k + "=\"" + v + "\"";
  return s + "}";
}

std::string FormEncode(const std::string& value) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

QueryResult<json> PrometheusClient::Call(const std::string& api_path,
                                         const std::vector<std::pair<std::string, std::string>>& form) const {
  HttpRequest req;
  req.method = "POST";
  req.url = BaseUrl(config_.url) + api_path;
  req.headers = config_.headers;
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  req.headers.emplace_back("Accept", "application/json");
  for (const auto& [k, v] : form) req.body += (req.body.empty() ? "" : "&") + FormEncode(k) + "=" + FormEncode(v);
  req.timeout = config_.timeout;
  req.ca_file = config_.ca_file;
  req.insecure = config_.insecure;
  req.bearer_token = config_.bearer_token;

  const int attempts = 1 + std::max(0, config_.retries);
  auto backoff = config_.backoff;
  std::string last;
  bool transport = false;
  int made = 0;
  for (int a = 0; a < attempts; ++a) {
    if (a > 0) {
      if (!SleepUnlessCancelled(backoff, config_.cancel)) break;
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
    }
    ++made;
    auto r = HttpDo(req);
    if (!r) {
      transport = true;
      last = r.error().message;
      continue;
    }
    transport = false;
    json answer = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    const long status = r->status;
    if (status == 401 || status == 403)
      return Failure(QueryFailure::Kind::kDenied, "Prometheus at " + config_.url + " answered HTTP " +
                                                      std::to_string(status) + " (check bearer_token and headers): " +
                                                      ErrorText(answer, r->body));
    if (status >= 200 && status < 300) {
      if (answer.is_discarded() || !answer.is_object() || StringMember(answer, "status") != "success" ||
          !answer.contains("data"))
        return Failure(QueryFailure::Kind::kQuery,
                       "unexpected answer from " + req.url + " (not a Prometheus API response): " +
                           ErrorText(answer, r->body));
      return answer["data"];
    }
    if (status >= 500 || status == 429) {
      last = "HTTP " + std::to_string(status) + ": " + ErrorText(answer, r->body);
      continue;
    }
    if (status == 400 || status == 422)
      return Failure(QueryFailure::Kind::kQuery, "Prometheus rejected the query: " + ErrorText(answer, r->body));
    return Failure(QueryFailure::Kind::kQuery, "HTTP " + std::to_string(status) + " from " + req.url +
                                                   " (is url the Prometheus base URL?): " + ErrorText(answer, r->body));
  }
  std::string tries = std::to_string(made) + (made == 1 ? " attempt" : " attempts");
  if (transport)
    return Failure(QueryFailure::Kind::kUnreachable,
                   "cannot reach Prometheus at " + config_.url + " after " + tries + ": " + last);
  return Failure(QueryFailure::Kind::kQuery, "Prometheus at " + config_.url + " failed after " + tries + ": " + last);
}

QueryResult<std::vector<Sample>> PrometheusClient::Query(const std::string& promql, double time) const {
  auto data = Call("/api/v1/query", {{"query", promql}, {"time", FormatTime(time)}});
  if (!data) return tl::unexpected<QueryFailure>(data.error());
  auto bad = [](std::string message) {
    return tl::unexpected<QueryFailure>(QueryFailure{QueryFailure::Kind::kQuery, std::move(message)});
  };
  const std::string type = StringMember(*data, "resultType");
  const json result = data->is_object() && data->contains("result") ? (*data)["result"] : json();
  std::vector<Sample> samples;
  if (type == "vector" && result.is_array()) {
    for (const auto& item : result) {
      auto point = item.is_object() && item.contains("value") ? ParsePoint(item["value"]) : std::nullopt;
      if (!point) return bad("malformed sample in the answer to " + promql);
      samples.push_back({ParseLabels(item.value("metric", json::object())), point->second});
    }
    return samples;
  }
  if (type == "scalar") {
    auto point = ParsePoint(result);
    if (!point) return bad("malformed scalar in the answer to " + promql);
    samples.push_back({{}, point->second});
    return samples;
  }
  if (type == "matrix")
    return bad("the query returned a range vector; an objective needs a single value per series "
               "(wrap it in rate(), increase() or avg_over_time())");
  return bad("the query returned a " + (type.empty() ? std::string("malformed result") : type + " result") +
             ", not a number");
}

QueryResult<std::vector<Series>> PrometheusClient::QueryRange(const std::string& promql, double start, double end,
                                                              double step_seconds) const {
  auto data = Call("/api/v1/query_range", {{"query", promql},
                                           {"start", FormatTime(start)},
                                           {"end", FormatTime(end)},
                                           {"step", FormatTime(step_seconds)}});
  if (!data) return tl::unexpected<QueryFailure>(data.error());
  auto bad = [](std::string message) {
    return tl::unexpected<QueryFailure>(QueryFailure{QueryFailure::Kind::kQuery, std::move(message)});
  };
  if (!data->is_object() || StringMember(*data, "resultType") != "matrix" || !(*data)["result"].is_array())
    return bad("a range query did not return a matrix for " + promql);
  std::vector<Series> out;
  for (const auto& item : (*data)["result"]) {
    if (!item.is_object() || !item.contains("values") || !item["values"].is_array())
      return bad("malformed series in the answer to " + promql);
    Series s;
    s.labels = ParseLabels(item.value("metric", json::object()));
    for (const auto& p : item["values"]) {
      auto point = ParsePoint(p);
      if (!point) return bad("malformed point in the answer to " + promql);
      s.points.push_back(*point);
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace slipway::steps::slo
