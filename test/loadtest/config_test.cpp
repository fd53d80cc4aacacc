#include "steps/loadtest/config.h"

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

namespace slipway::steps::loadtest {
namespace {

using nlohmann::json;

std::string ErrorOf(const json& with) {
  auto c = ParseConfig(with);
  return c ? "(no error)" : c.error().message;
}

TEST(ConfigTest, ATargetAloneIsOneVuGettingIt) {
  auto c = ParseConfig({{"target", "http://127.0.0.1:8080"}, {"duration", "5s"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->executor, Executor::kConstantVus);
  EXPECT_EQ(c->vus, 1);
  EXPECT_EQ(c->duration, 5 * kNanosPerSecond);
  ASSERT_EQ(c->requests.size(), 1u);
  EXPECT_EQ(c->requests[0].name, "default");
  EXPECT_EQ(c->requests[0].method, "GET");
  EXPECT_EQ(c->requests[0].url.Text(), "http://127.0.0.1:8080");
  EXPECT_EQ(c->timeout, 60 * kNanosPerSecond);
  EXPECT_FALSE(c->insecure);
  EXPECT_EQ(c->http2, Http2::kAllow);
}

TEST(ConfigTest, TheDesignDocExampleParses) {
  json with = json::parse(R"({"target": "http://127.0.0.1:8080", "executor": "constant-arrival-rate", "rate": 200,
    "duration": "30s", "requests": [{"name": "home", "path": "/", "weight": 3},
    {"name": "api", "method": "POST", "path": "/api", "body": "{}", "expect": {"status": [200, 201]}}],
    "thresholds": {"http_req_duration": ["p(95)<200"], "http_req_failed": ["rate<0.01"]}})");
  auto c = ParseConfig(with);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->executor, Executor::kConstantArrivalRate);
  EXPECT_EQ(c->rate, 200);
  EXPECT_EQ(c->max_in_flight, 200);  // one second of stall at the rate, at least 100
  ASSERT_EQ(c->requests.size(), 2u);
  EXPECT_EQ(c->requests[0].url.Text(), "http://127.0.0.1:8080/");
  EXPECT_EQ(c->requests[0].weight, 3u);
  EXPECT_EQ(c->requests[1].method, "POST");
  EXPECT_EQ(c->requests[1].url.Text(), "http://127.0.0.1:8080/api");
  EXPECT_TRUE(c->requests[1].has_body);
  EXPECT_EQ(c->requests[1].body.Text(), "{}");
  EXPECT_EQ(c->requests[1].expect.statuses, (std::vector<int>{200, 201}));
  ASSERT_EQ(c->thresholds.size(), 2u);
  EXPECT_EQ(c->thresholds[0].key.text, "http_req_duration");
  EXPECT_EQ(c->thresholds[0].expr.text, "p(95)<200");
  EXPECT_EQ(c->thresholds[1].key.metric, Metric::kHttpReqFailed);
}

TEST(ConfigTest, ErrorsNameTheKeyPath) {
  json base = {{"target", "http://h"}, {"duration", "1s"}};
  json w = base;
  w["requests"] = {{{"path", "/a"}}, {{"path", "/b"}, {"weight", 0}}};
  EXPECT_EQ(ErrorOf(w), "with.requests[1].weight: expected a positive integer");
  w = base;
  w["requests"] = {{{"path", "/a"}, {"expect", {{"status", {200, "oops"}}}}}};
  EXPECT_EQ(ErrorOf(w), "with.requests[0].expect.status[1]: expected an HTTP status code (100-599)");
  w = base;
  w["duration"] = 30;
  EXPECT_EQ(ErrorOf(w), "with.duration: expected a duration with a unit, like \"30s\", \"5m\" or \"200ms\", got a number");
  w = base;
  w["duration"] = "30 seconds";
  EXPECT_EQ(ErrorOf(w), "with.duration: invalid duration '30 seconds' (expected e.g. 30s, 5m, 200ms, 1h)");
  w = base;
  w["thresholds"] = {{"http_req_duration", {"p(95)<200", "rate<1"}}};
  EXPECT_EQ(ErrorOf(w),
            "with.thresholds.http_req_duration[1]: invalid threshold 'rate<1': not an aggregation of http_req_duration "
            "(use p(N), avg, min, max or med)");
  w = base;
  w["requests"] = {{{"path", "/{{ vars.x }}"}}};
  EXPECT_EQ(ErrorOf(w),
            "with.requests[0].path: unknown template variable 'vars.x' (supported: request.index, worker.index, "
            "random.int, random.int(A, B))");
}

TEST(ConfigTest, UnknownKeysAreErrorsThatListTheKnownOnes) {
  std::string e = ErrorOf({{"target", "http://h"}, {"duration", "1s"}, {"rps", 5}});
  EXPECT_EQ(e.rfind("with.rps: unknown key (known: target, executor, rate,", 0), 0u) << e;
  e = ErrorOf({{"target", "http://h"}, {"duration", "1s"}, {"requests", {{{"path", "/"}, {"verb", "GET"}}}}});
  EXPECT_EQ(e, "with.requests[0].verb: unknown key (known: name, method, url, path, headers, body, body_file, weight, expect)");
}

TEST(ConfigTest, ExecutorsRequireTheirKeys) {
  EXPECT_EQ(ErrorOf({{"target", "http://h"}, {"executor", "constant-arrival-rate"}, {"duration", "1s"}}),
            "with.rate: required by executor constant-arrival-rate");
  EXPECT_EQ(ErrorOf({{"target", "http://h"}, {"executor", "ramping-vus"}}), "with.stages: required by executor ramping-vus");
  EXPECT_EQ(ErrorOf({{"target", "http://h"}, {"vus", 3}}), "with.duration: required by executor constant-vus (or set max_requests)");
  EXPECT_EQ(ErrorOf({{"target", "http://h"}, {"rate", 5}, {"vus", 3}, {"duration", "1s"}}),
            "with.vus: not used by executor constant-arrival-rate");
  EXPECT_EQ(ErrorOf({{"target", "http://h"}, {"executor", "ramping-vus"}, {"stages", {{{"duration", "1s"}, {"target", 2}}}},
                     {"duration", "5s"}}),
            "with.duration: not used by executor ramping-vus (the stages set the length)");
  EXPECT_EQ(ErrorOf({{"target", "http://h"}, {"executor", "warp"}, {"duration", "1s"}}),
            "with.executor: unknown executor 'warp' (constant-arrival-rate, ramping-arrival-rate, constant-vus, ramping-vus)");
}

TEST(ConfigTest, RampingStagesAndAliasesParse) {
  auto c = ParseConfig({{"target", "http://h"},
                        {"executor", "ramping-arrival-rate"},
                        {"start_rate", 10},
                        {"stages", {{{"duration", "10s"}, {"target", 100}}, {{"duration", "5s"}, {"target", 0}}}},
                        {"preallocated_vus", 50},
                        {"max_vus", 80},
                        {"max_requests", 1000}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->PlannedDuration(), 15 * kNanosPerSecond);
  EXPECT_EQ(c->max_in_flight, 80);
  EXPECT_EQ(c->max_requests, 1000u);
  EXPECT_EQ(c->PeakRatePerSecond(), 100);
  auto v = ParseConfig({{"target", "http://h"}, {"stages", {{{"duration", "2s"}, {"target", 7}}}}});
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->executor, Executor::kRampingVus);
  EXPECT_EQ(v->PeakVus(), 7);
}

TEST(ConfigTest, RequestsCarryHeadersBodiesAndExpectations) {
  auto c = ParseConfig(json::parse(R"({"target": "https://example.test/base", "duration": "1s", "insecure": true,
    "http2": false, "timeout": "2s",
    "requests": [{"name": "create", "method": "put", "path": "items/{{ request.index }}",
                  "headers": {"X-Trace": "t-{{ random.int }}", "Authorization": "Bearer x"},
                  "body": {"n": 1}, "expect": {"status": 201, "body_contains": "ok", "max_latency": "250ms"}},
                 {"url": "http://other.test/health"}]})"));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->insecure);
  EXPECT_EQ(c->http2, Http2::kOff);
  EXPECT_EQ(c->timeout, 2 * kNanosPerSecond);
  const RequestSpec& r = c->requests[0];
  EXPECT_EQ(r.method, "PUT");
  EXPECT_EQ(r.url.Text(), "https://example.test/base/items/{{ request.index }}");
  EXPECT_FALSE(r.url.IsStatic());
  ASSERT_EQ(r.headers.size(), 3u);  // + Content-Type for the JSON body
  EXPECT_EQ(r.headers[0].second.Text(), "Authorization: Bearer x");
  EXPECT_EQ(r.headers[1].second.Text(), "X-Trace: t-{{ random.int }}");
  EXPECT_EQ(r.headers[2].second.Text(), "Content-Type: application/json");
  EXPECT_EQ(r.body.Text(), "{\"n\":1}");
  EXPECT_EQ(r.expect.statuses, std::vector<int>{201});
  EXPECT_EQ(r.expect.body_contains, "ok");
  EXPECT_EQ(r.expect.max_latency, 250 * kNanosPerMilli);
  EXPECT_EQ(c->requests[1].name, "http://other.test/health");
}

TEST(ConfigTest, ThresholdObjectsCarryAbortSettings) {
  auto c = ParseConfig(json::parse(R"({"target": "http://h", "duration": "1m", "requests": [{"name": "home", "path": "/"}],
    "thresholds": {"http_req_duration{name:home}": [{"threshold": "p(99)<500", "abort_on_fail": true,
                                                      "delay_abort_eval": "10s"}],
                   "http_reqs": "rate>100"}})"));
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->thresholds.size(), 2u);
  const ThresholdSpec& t = c->thresholds[0];
  EXPECT_EQ(t.key.request_name, "home");
  EXPECT_TRUE(t.abort_on_fail);
  EXPECT_EQ(t.delay_abort_eval, 10 * kNanosPerSecond);
  EXPECT_EQ(c->thresholds[1].expr.text, "rate>100");
  EXPECT_EQ(ErrorOf(json::parse(R"({"target": "http://h", "duration": "1m",
                                   "thresholds": {"http_req_duration{name:nope}": ["p(95)<1"]}})")),
            "with.thresholds.http_req_duration{name:nope}: no request is named 'nope'");
}

TEST(ConfigTest, DuplicateRequestNamesAreRejected) {
  EXPECT_EQ(ErrorOf({{"target", "http://h"}, {"duration", "1s"}, {"requests", {{{"path", "/a"}}, {{"path", "/a"}}}}}),
            "with.requests[1].name: duplicate request name '/a' (give each request a distinct name)");
}

TEST(ConfigTest, KubernetesAndWorkersParseAndExcludeEachOther) {
  auto c = ParseConfig({{"target", "http://h"}, {"duration", "1s"},
                        {"kubernetes", {{"replicas", 4}, {"image", "reg/slipway:1"}, {"namespace", "load"}}}});
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_TRUE(c->kubernetes);
  EXPECT_EQ(c->kubernetes->replicas, 4);
  EXPECT_EQ(c->kubernetes->image, "reg/slipway:1");
  EXPECT_EQ(c->kubernetes->namespace_name, "load");
  EXPECT_EQ(ErrorOf({{"target", "http://h"}, {"duration", "1s"}, {"workers", 2}, {"kubernetes", {{"replicas", 2}}}}),
            "with.kubernetes: give either workers or kubernetes, not both");
  EXPECT_EQ(ErrorOf({{"target", "http://h"}, {"duration", "1s"}, {"kubernetes", {{"name", "Load_Test"}}}}),
            "with.kubernetes.name: expected a lowercase DNS label of at most 52 characters");
}

TEST(ConfigTest, WorkerWithDropsScaleOutAndInlinesBodyFiles) {
  std::string path = ::testing::TempDir() + "/loadtest_body.txt";
  std::ofstream(path) << "payload-1";
  auto c = ParseConfig({{"target", "http://h"}, {"duration", "1s"}, {"workers", 3},
                        {"requests", {{{"path", "/p"}, {"body_file", path}}}}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->requests[0].method, "POST");  // a body without a method is a POST
  auto inlined = WorkerWith(*c, BodyFiles::kInline);
  ASSERT_TRUE(inlined);
  EXPECT_FALSE(inlined->contains("workers"));
  EXPECT_EQ((*inlined)["requests"][0]["body"], "payload-1");
  EXPECT_FALSE((*inlined)["requests"][0].contains("body_file"));
  auto kept = WorkerWith(*c, BodyFiles::kKeep);
  EXPECT_EQ((*kept)["requests"][0]["body_file"], path);
  std::remove(path.c_str());
  auto missing = WorkerWith(*c, BodyFiles::kInline);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "with.requests[0].body_file: cannot read '" + path + "'");
}

}  // namespace
}  // namespace slipway::steps::loadtest
