#pragma once
// A client of the Prometheus HTTP API (instant queries /api/v1/query and range queries
// /api/v1/query_range) for the `slo` kind, on the blocking HttpDo helper. Queries are POSTed as
// form data so long PromQL never hits URL length limits. Transport failures, HTTP 5xx and 429
// are retried; a rejected query (HTTP 400/422) is not, since asking again gives the same answer.

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

namespace slipway::steps::slo {

/// Where and how to reach Prometheus (the `with.prometheus` block).
struct PrometheusConfig {
  std::string url;                                          // base URL; may carry a path prefix
  std::string bearer_token;
  std::vector<std::pair<std::string, std::string>> headers; // e.g. X-Scope-OrgID for Mimir/Thanos
  std::string ca_file;
  bool insecure = false;
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};  // per request
  int retries = 2;                                          // further attempts after the first
  std::chrono::milliseconds backoff{500};                   // before the 2nd attempt; doubles, max 5s
  const std::atomic<bool>* cancel = nullptr;                // stops retrying when set
};

/// Why a query produced no result set.
struct QueryFailure {
  enum class Kind {
    kUnreachable,  // no HTTP answer after every attempt: connect, DNS, TLS, timeout
    kDenied,       // 401/403: the credentials are wrong for every query, not just this one
    kQuery,        // the server answered but the query failed: bad PromQL, 5xx, garbage
  };
  Kind kind = Kind::kQuery;
  std::string message;
};

template <typename T>
using QueryResult = tl::expected<T, QueryFailure>;

/// One series of an instant query (a scalar result is one sample without labels).
struct Sample {
  std::map<std::string, std::string> labels;
  double value = 0;  // may be NaN or ±Inf, as Prometheus sent it
};

/// One series of a range query.
struct Series {
  std::map<std::string, std::string> labels;
  std::vector<std::pair<double, double>> points;  // (unix seconds, value)
};

/// "{job="api", path="/"}" for messages; "{}" when there are no labels.
std::string LabelsText(const std::map<std::string, std::string>& labels);

/// Talks to one Prometheus server. Stateless apart from its configuration; safe to share.
class PrometheusClient {
 public:
  explicit PrometheusClient(PrometheusConfig config) : config_(std::move(config)) {}

  /// Evaluates `promql` at `time` (unix seconds). Range vectors and strings are query failures.
  QueryResult<std::vector<Sample>> Query(const std::string& promql, double time) const;

  /// Evaluates `promql` over [start, end] every `step_seconds`.
  QueryResult<std::vector<Series>> QueryRange(const std::string& promql, double start, double end,
                                              double step_seconds) const;

  /// The settings this client was made with.
  const PrometheusConfig& Config() const { return config_; }

 private:
  /// POSTs the form to `api_path` with retries and returns the answer's "data" member.
  QueryResult<nlohmann::json> Call(const std::string& api_path,
                                const std::vector<std::pair<std::string, std::string>>& form) const;

  PrometheusConfig config_;
};

/// Percent-encodes a form value (RFC 3986 unreserved characters stay as they are).
std::string FormEncode(const std::string& value);

}  // namespace slipway::steps::slo
