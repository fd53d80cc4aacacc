#include "steps/loadtest/template.h"

#include <charconv>
#include <cstdlib>

namespace slipway::steps::loadtest {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool ParseInt(std::string_view s, std::int64_t& out) {
  s = Trim(s);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

void AppendInt(std::string& out, std::int64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, p);
}

}  // namespace

Expected<Template> Template::Parse(std::string_view text) {
  Template t;
  t.text_ = std::string(text);
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      t.parts_.push_back({Kind::kLiteral, pos, text.size() - pos, 0, 0});
      break;
    }
    if (open > pos) t.parts_.push_back({Kind::kLiteral, pos, open - pos, 0, 0});
    std::size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) return Fail("unclosed '{{' at offset " + std::to_string(open));
    std::string_view expr = Trim(text.substr(open + 2, close - open - 2));
    Part part;
    if (expr == "request.index") {
      part.kind = Kind::kRequestIndex;
    } else if (expr == "worker.index") {
      part.kind = Kind::kWorkerIndex;
    } else if (expr == "random.int") {
      part.kind = Kind::kRandomInt;
      part.lo = 0;
      part.hi = 2147483647;
    } else if (expr.substr(0, 10) == "random.int" && Trim(expr.substr(10)).substr(0, 1) == "(") {
      std::string_view args = Trim(expr.substr(10));
      if (args.back() != ')') return Fail("malformed '" + std::string(expr) + "' (expected random.int(A, B))");
      args = args.substr(1, args.size() - 2);
      std::size_t comma = args.find(',');
      if (comma == std::string_view::npos || !ParseInt(args.substr(0, comma), part.lo) ||
          !ParseInt(args.substr(comma + 1), part.hi) || part.lo > part.hi)
        return Fail("malformed '" + std::string(expr) + "' (expected random.int(A, B) with integers A <= B)");
      part.kind = Kind::kRandomInt;
    } else {
      return Fail("unknown template variable '" + std::string(expr) +
                  "' (supported: request.index, worker.index, random.int, random.int(A, B))");
    }
    t.parts_.push_back(part);
    t.static_ = false;
    pos = close + 2;
  }
  return t;
}

void Template::Render(const TemplateContext& ctx, std::string& out) const {
  out.clear();
  for (const Part& p : parts_) {
    switch (p.kind) {
      case Kind::kLiteral:
        out.append(text_, p.offset, p.length);
        break;
      case Kind::kRequestIndex:
        AppendInt(out, static_cast<std::int64_t>(ctx.request_index));
        break;
      case Kind::kWorkerIndex:
        AppendInt(out, ctx.worker_index);
        break;
      case Kind::kRandomInt: {
        auto span = static_cast<std::uint64_t>(p.hi - p.lo) + 1;
        std::uint64_t r = ctx.rng ? (span == 0 ? ctx.rng->Next() : ctx.rng->Below(span)) : 0;
        AppendInt(out, p.lo + static_cast<std::int64_t>(r));
        break;
      }
    }
  }
}

}  // namespace slipway::steps::loadtest
