#include "demo/http_parser.h"

#include <string>

#include <gtest/gtest.h>

namespace slipway::demo {
namespace {

class HttpParserTest : public ::testing::Test {
 protected:
  ParseResult Parse(const std::string& input) { return ParseHttpRequest(input, limits_); }
  HttpLimits limits_;
};

TEST_F(HttpParserTest, ParsesGetAndReportsBytesConsumed) {
  std::string input = "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n";
  ParseResult r = Parse(input);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.request.method, "GET");
  EXPECT_EQ(r.request.path, "/health");
  EXPECT_EQ(r.request.minor_version, 1);
  EXPECT_TRUE(r.request.keep_alive);
  EXPECT_EQ(r.consumed, std::string("GET /health HTTP/1.1\r\nHost: x\r\n\r\n").size());
}

TEST_F(HttpParserTest, AsksForMoreUntilHeadersEnd) {
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost: x\r\n").status, ParseStatus::kIncomplete);
  EXPECT_EQ(Parse("").status, ParseStatus::kIncomplete);
}

TEST_F(HttpParserTest, WaitsForTheWholeBody) {
  std::string head = "POST /api/items HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
  EXPECT_EQ(Parse(head + "abc").status, ParseStatus::kIncomplete);
  ParseResult r = Parse(head + "abcde");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.request.content_length, 5u);
  EXPECT_EQ(r.consumed, head.size() + 5);
}

TEST_F(HttpParserTest, StripsQueryAndFragmentFromPath) {
  EXPECT_EQ(Parse("GET /api/items?limit=3 HTTP/1.1\r\n\r\n").request.path, "/api/items");
  EXPECT_EQ(Parse("GET /#top HTTP/1.1\r\n\r\n").request.path, "/");
}

TEST_F(HttpParserTest, KeepsOnlyPathOfAbsoluteFormTarget) {
  EXPECT_EQ(Parse("GET http://127.0.0.1:8080/health HTTP/1.1\r\n\r\n").request.path, "/health");
  EXPECT_EQ(Parse("GET http://127.0.0.1:8080 HTTP/1.1\r\n\r\n").request.path, "/");
}

TEST_F(HttpParserTest, ConnectionCloseEndsKeepAliveOnHttp11) {
  EXPECT_FALSE(Parse("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(Parse("GET / HTTP/1.1\r\nconnection: te, close\r\n\r\n").request.keep_alive);
}

TEST_F(HttpParserTest, Http10KeepsAliveOnlyWhenAsked) {
  ParseResult plain = Parse("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(plain.request.minor_version, 0);
  EXPECT_FALSE(plain.request.keep_alive);
  EXPECT_TRUE(Parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").request.keep_alive);
}

TEST_F(HttpParserTest, IgnoresEmptyLinesBeforeRequestLine) {
  ParseResult r = Parse("\r\n\r\nGET / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.consumed, 4 + std::string("GET / HTTP/1.1\r\n\r\n").size());
}

TEST_F(HttpParserTest, RejectsChunkedBodyWith501) {
  ParseResult r = Parse("POST /api/items HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error_status, 501);
}

TEST_F(HttpParserTest, RejectsOversizedHeadersWith431) {
  limits_.max_header_bytes = 64;
  ParseResult unfinished = Parse("GET / HTTP/1.1\r\nX-Long: " + std::string(100, 'a'));
  EXPECT_EQ(unfinished.status, ParseStatus::kError);
  EXPECT_EQ(unfinished.error_status, 431);
  ParseResult finished = Parse("GET / HTTP/1.1\r\nX-Long: " + std::string(100, 'a') + "\r\n\r\n");
  EXPECT_EQ(finished.error_status, 431);
}

TEST_F(HttpParserTest, RejectsOversizedBodyWith413BeforeReadingIt) {
  limits_.max_body_bytes = 10;
  ParseResult r = Parse("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n");
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error_status, 413);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n").error_status, 413);
}

TEST_F(HttpParserTest, RejectsConflictingContentLengthsWith400) {
  ParseResult r = Parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab");
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error_status, 400);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\nab").error_status, 400);
}

TEST_F(HttpParserTest, RejectsGarbageWith400) {
  EXPECT_EQ(Parse("hello\r\n\r\n").error_status, 400);
  EXPECT_EQ(Parse("GET /\r\n\r\n").error_status, 400);
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nno colon here\r\n\r\n").error_status, 400);
  EXPECT_EQ(Parse("GE(T / HTTP/1.1\r\n\r\n").error_status, 400);
  EXPECT_EQ(Parse("GET nopath HTTP/1.1\r\n\r\n").error_status, 400);
}

TEST_F(HttpParserTest, RejectsOtherHttpVersionsWith505) {
  EXPECT_EQ(Parse("GET / HTTP/2.0\r\n\r\n").error_status, 505);
}

}  // namespace
}  // namespace slipway::demo
