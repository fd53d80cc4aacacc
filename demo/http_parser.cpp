#include "demo/http_parser.h"

#include <charconv>
#include <cstdint>
#include <system_error>

namespace slipway::demo {
namespace {

ParseResult Error(int status) {
  ParseResult result;
  result.status = ParseStatus::kError;
  result.error_status = status;
  return result;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 token characters, the only ones allowed in a method and a header name.
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

struct ConnectionTokens {
  bool close = false;
  bool keep_alive = false;
};

ConnectionTokens ParseConnection(std::string_view value, ConnectionTokens tokens) {
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    std::string_view token = Trim(value.substr(0, comma));
    if (EqualsIgnoreCase(token, "close")) tokens.close = true;
    if (EqualsIgnoreCase(token, "keep-alive")) tokens.keep_alive = true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return tokens;
}

}  // namespace

ParseResult ParseHttpRequest(std::string_view input, const HttpLimits& limits) {
  // RFC 9112 §2.2: a server should ignore empty lines received before the request line.
  std::size_t skipped = 0;
  while (skipped + 1 < input.size() && input[skipped] == '\r' && input[skipped + 1] == '\n') skipped += 2;
  std::string_view rest = input.substr(skipped);

  std::size_t header_end = rest.find("\r\n\r\n");
  if (header_end == std::string_view::npos) {
    if (rest.size() > limits.max_header_bytes) return Error(431);
    return ParseResult{};
  }
  if (header_end + 4 > limits.max_header_bytes) return Error(431);

  std::string_view head = rest.substr(0, header_end + 2);  // every line ends in CRLF
  std::size_t line_end = head.find("\r\n");
  std::string_view request_line = head.substr(0, line_end);
  head.remove_prefix(line_end + 2);

  HttpRequest request;
  std::size_t sp1 = request_line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return Error(400);
  request.method = request_line.substr(0, sp1);
  std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = request_line.substr(sp2 + 1);
  if (!IsToken(request.method) || target.empty()) return Error(400);
  if (version == "HTTP/1.1") {
    request.minor_version = 1;
  } else if (version == "HTTP/1.0") {
    request.minor_version = 0;
  } else {
    return Error(version.starts_with("HTTP/") ? 505 : 400);
  }
  if (target.front() != '/') {
    // Absolute form ("http://host/path") is legal towards a server too; keep only its path.
    std::size_t scheme = target.find("://");
    if (scheme == std::string_view::npos) return Error(400);
    std::size_t slash = target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  request.path = target.substr(0, target.find_first_of("?#"));

  ConnectionTokens connection;
  bool have_length = false;
  while (!head.empty()) {
    line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    head.remove_prefix(line_end + 2);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) return Error(400);
    std::string_view name = line.substr(0, colon);
    std::string_view value = Trim(line.substr(colon + 1));
    if (EqualsIgnoreCase(name, "content-length")) {
      std::uint64_t length = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (value.empty() || ec == std::errc::result_out_of_range) return Error(value.empty() ? 400 : 413);
      if (ec != std::errc() || ptr != value.data() + value.size()) return Error(400);
      // Two different lengths is a request-smuggling pattern (RFC 9112 §6.3).
      if (have_length && length != request.content_length) return Error(400);
      have_length = true;
      if (length > limits.max_body_bytes) return Error(413);
      request.content_length = static_cast<std::size_t>(length);
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      return Error(501);
    } else if (EqualsIgnoreCase(name, "connection")) {
      connection = ParseConnection(value, connection);
    }
  }
  request.keep_alive = request.minor_version == 1 ? !connection.close : (connection.keep_alive && !connection.close);

  std::size_t total = skipped + header_end + 4 + request.content_length;
  if (input.size() < total) return ParseResult{};
  ParseResult result;
  result.status = ParseStatus::kComplete;
  result.request = request;
  result.consumed = total;
  return result;
}

}  // namespace slipway::demo
