#pragma once
// A strict, allocation-free HTTP/1.x request parser for the demo service. It parses what
// load generators, curl and Prometheus send; anything else gets a clean 4xx/5xx and a close.
// Format: request line `METHOD SP TARGET SP HTTP/1.x CRLF`, header lines, CRLF, then a body of
// Content-Length bytes. Transfer-Encoding (chunked bodies) is answered 501.

#include <cstddef>
#include <string_view>

namespace slipway::demo {

/// Limits that protect the service from unbounded buffering.
struct HttpLimits {
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
};

/// Outcome of looking at the front of a connection's input buffer.
enum class ParseStatus { kIncomplete, kComplete, kError };

/// One parsed request; the views point into the parsed buffer.
struct HttpRequest {
  std::string_view method;
  std::string_view path;   ///< target without the query string
  int minor_version = 1;   ///< HTTP/1.<minor_version>
  bool keep_alive = true;  ///< HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with keep-alive
  std::size_t content_length = 0;
};

/// Result of ParseHttpRequest. `consumed` (header + body bytes) is set when kComplete;
/// `error_status` (400, 413, 431, 501 or 505) when kError, after which the connection must close.
struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  HttpRequest request;
  std::size_t consumed = 0;
  int error_status = 0;
};

/// Parses the first request in `input`; kIncomplete means "read more bytes and call again".
ParseResult ParseHttpRequest(std::string_view input, const HttpLimits& limits);

}  // namespace slipway::demo
