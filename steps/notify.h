#pragma once
#include "pipeline/step.h"

namespace slipway::steps {

/// `notify`: POSTs a Slack-compatible JSON message to a webhook (give its URL from a secret).
///   with: {webhook: "{{ secrets.SLACK_WEBHOOK }}", text: "...", username, channel, icon_emoji,
///          fields: {Plan: ..., Status: ...}, timeout: 10s}
/// The payload is {"text", "username"?, "channel"?, "icon_emoji"?, "attachments": [{"fields": [{title, value,
/// short}]}]?}. A non-2xx answer fails the step. Never runs in a dry-run; no rollback.
class NotifyStep : public pipeline::StepKind {
 public:
  std::string Name() const override { return "notify"; }
  void Validate(const pipeline::StepSpec& step, pipeline::Diagnostics& diag) const override;
  std::optional<std::vector<std::string>> Outputs(const pipeline::StepSpec&) const override {
    return std::vector<std::string>{"status"};
  }
  std::vector<std::string> Describe(const pipeline::StepContext& ctx) const override;
  Expected<pipeline::ApplyResult> Apply(const pipeline::StepContext& ctx) const override;
};

/// The Slack-compatible payload for a notify step's `with:`.
pipeline::Json NotifyPayload(const pipeline::Json& with);

}  // namespace slipway::steps
