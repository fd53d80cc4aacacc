#include "steps/notify.h"

#include "steps/http_client.h"
#include "steps/with.h"

namespace slipway::steps {

pipeline::Json NotifyPayload(const Json& w) {
  Json payload{{"text", GetString(w, "text")}};
  for (const char* k : {"username", "channel", "icon_emoji"})
    if (w.contains(k)) payload[k] = GetString(w, k);
  auto fields = GetStringMap(w, "fields");
  if (!fields.empty()) {
    Json list = Json::array();
    for (const auto& [k, v] : fields) list.push_back({{"title", k}, {"value", v}, {"short", v.size() < 40}});
    payload["attachments"] = Json::array({{{"fields", list}}});
  }
  return payload;
}

void NotifyStep::Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const {
  CheckWithKeys(step, diag, {"webhook", "text", "username", "channel", "icon_emoji", "fields", "timeout"},
                {"webhook", "text"});
  CheckWithDuration(step, diag, "timeout");
}

std::vector<std::string> NotifyStep::Describe(const pipeline::StepContext& ctx) const {
  // The webhook URL is a credential: show only its scheme and host.
  std::string url = GetString(ctx.With(), "webhook");
  size_t host_end = url.find('/', url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  std::string shown = host_end == std::string::npos ? url : url.substr(0, host_end) + "/…";
  return {"POST " + shown + " " + NotifyPayload(ctx.With()).dump()};
}

Expected<pipeline::ApplyResult> NotifyStep::Apply(const pipeline::StepContext& ctx) const {
  const Json& w = ctx.With();
  HttpRequest req;
  req.method = "POST";
  req.url = GetString(w, "webhook");
  req.headers = {{"Content-Type", "application/json"}};
  req.body = NotifyPayload(w).dump();
  req.timeout = GetDuration(w, "timeout", std::chrono::seconds(10));
  auto r = HttpDo(req);
  if (!r) return Fail("notify: " + r.error().message);
  if (r->status < 200 || r->status >= 300)
    return Fail("notify: the webhook answered " + std::to_string(r->status) +
                (r->body.empty() ? "" : ": " + r->body.substr(0, 200)));
  pipeline::ApplyResult out;
  out.outputs = {{"status", std::to_string(r->status)}};
  out.summary = "notified (" + std::to_string(r->status) + ")";
  return out;
}

}  // namespace slipway::steps
