#pragma once
// A small blocking HTTP client on libcurl's easy interface, for kinds that talk HTTP once in a
// while (http.check, notify, prereq URLs, Prometheus). The load-test engine has its own.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "pipeline/error.h"

namespace slipway::steps {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  std::string ca_file;        // extra CA bundle for TLS verification
  bool insecure = false;      // skip TLS verification (only when a plan says so)
  std::string bearer_token;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::chrono::milliseconds elapsed{0};
};

/// Performs one request. Transport failures (connect, DNS, TLS, timeout) are Errors with curl's
/// message; any HTTP status is a response.
Expected<HttpResponse> HttpDo(const HttpRequest& request);

}  // namespace slipway::steps
