#include "steps/http_check.h"

#include <thread>

#include "pipeline/duration.h"
#include "steps/http_client.h"
#include "steps/with.h"

namespace slipway::steps {

namespace {

std::vector<long> ExpectedStatuses(const Json& expect) {
  std::vector<long> out;
  auto it = expect.find("status");
  if (it == expect.end()) return {200};
  if (it->is_array()) {
    for (const auto& v : *it) out.push_back(v.is_number() ? v.get<long>() : std::stol(pipeline::ValueText(v)));
  } else {
    out.push_back(it->is_number() ? it->get<long>() : std::stol(pipeline::ValueText(*it)));
  }
  return out;
}

std::string Join(const std::vector<long>& v) {
  std::string s;
  for (long x : v) s += (s.empty() ? "" : "|") + std::to_string(x);
  return s;
}

}  // namespace

void HttpCheckStep::Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const {
  CheckWithKeys(step, diag, {"url", "method", "headers", "body", "expect", "timeout", "interval", "insecure", "ca_file"},
                {"url"});
  CheckWithDuration(step, diag, "timeout");
  CheckWithDuration(step, diag, "interval");
  auto with = step.body.value("with", Json::object());
  if (with.contains("expect")) {
    if (!with["expect"].is_object()) {
      diag.Error(step.LocOf("/with/expect"), "expected 'with.expect' to be a mapping {status, body_contains, max_latency}");
    } else {
      for (auto& [k, v] : with["expect"].items()) {
        (void)v;
        if (k != "status" && k != "body_contains" && k != "max_latency")
          diag.Error(step.LocOf("/with/expect/" + k), "unknown key '" + k + "' in 'with.expect'",
                     "expected status, body_contains or max_latency");
      }
    }
  }
}

std::vector<std::string> HttpCheckStep::Describe(const pipeline::StepContext& ctx) const {
  const Json& w = ctx.With();
  Json expect = w.value("expect", Json::object());
  std::string line = GetString(w, "method", "GET") + " " + GetString(w, "url") + " every " +
                     pipeline::FormatDuration(GetDuration(w, "interval", std::chrono::seconds(1))) + " until status " +
                     Join(ExpectedStatuses(expect));
  if (expect.contains("body_contains")) line += ", body contains '" + GetString(expect, "body_contains") + "'";
  if (expect.contains("max_latency"))
    line += ", latency <= " + pipeline::FormatDuration(GetDuration(expect, "max_latency", std::chrono::seconds(0)));
  line += " (timeout " + pipeline::FormatDuration(GetDuration(w, "timeout", std::chrono::seconds(60))) + ")";
  return {line};
}

Expected<pipeline::ApplyResult> HttpCheckStep::Apply(const pipeline::StepContext& ctx) const {
  const Json& w = ctx.With();
  Json expect = w.value("expect", Json::object());
  std::vector<long> statuses;
  try {
    statuses = ExpectedStatuses(expect);
  } catch (const std::exception&) {
    return Fail("with.expect.status: expected a status code or a list of them");
  }
  const auto timeout = GetDuration(w, "timeout", std::chrono::seconds(60));
  const auto interval = GetDuration(w, "interval", std::chrono::seconds(1));
  const auto max_latency = GetDuration(expect, "max_latency", std::chrono::milliseconds(0));
  const std::string body_contains = GetString(expect, "body_contains");
  HttpRequest req;
  req.method = GetString(w, "method", "GET");
  req.url = GetString(w, "url");
  req.headers = GetStringMap(w, "headers");
  req.body = GetString(w, "body");
  req.insecure = GetBool(w, "insecure", false);
  req.ca_file = GetString(w, "ca_file");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  int attempts = 0;
  while (true) {
    ++attempts;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    req.timeout = std::max(std::chrono::milliseconds(200), std::min(left, std::chrono::milliseconds(10'000)));
    auto r = HttpDo(req);
    if (!r) {
      last = r.error().message;
    } else {
      bool status_ok = false;
      for (long s : statuses) status_ok |= r->status == s;
      if (!status_ok) {
        last = "status " + std::to_string(r->status) + ", want " + Join(statuses);
      } else if (!body_contains.empty() && r->body.find(body_contains) == std::string::npos) {
        last = "status " + std::to_string(r->status) + " but the body does not contain '" + body_contains + "'";
      } else if (max_latency.count() > 0 && r->elapsed > max_latency) {
        last = "answered in " + pipeline::FormatDuration(r->elapsed) + ", more than " + pipeline::FormatDuration(max_latency);
      } else {
        pipeline::ApplyResult out;
        out.outputs = {{"status", std::to_string(r->status)},
                       {"latency_ms", std::to_string(r->elapsed.count())},
                       {"attempts", std::to_string(attempts)}};
        out.summary = req.url + " answered " + std::to_string(r->status) + " in " + pipeline::FormatDuration(r->elapsed);
        return out;
      }
    }
    if (std::chrono::steady_clock::now() + interval >= deadline || ctx.Cancelled())
      return Fail(req.method + " " + req.url + " did not meet expectations within " + pipeline::FormatDuration(timeout) +
                  " (" + std::to_string(attempts) + " attempts); last: " + last);
    ctx.Log("not yet: " + last, pipeline::Level::kDebug);
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace slipway::steps
