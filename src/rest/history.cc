// history: GET [base]/[type]/[id]/_history, [base]/[type]/_history, [base]/_history
// — http://hl7.org/fhir/R4/http.html#history. Newest first; _since, _at,
// _count; paging with an opaque cursor that stays correct while others write.
#include <algorithm>
#include <charconv>

#include "core/time.h"
#include "rest/engine.h"
#include "rest/handlers.h"
#include "rest/outcome.h"
#include "rest/respond.h"

namespace gm::rest {

namespace {

Status BadParam(const std::string& name, const std::string& why) {
  return Status::Error(ErrorCategory::kInvalid, "GM-REST-090", "value",
                       "invalid " + name + ": " + why, name);
}

std::string StatusLine(int status) {
  switch (status) {
    case 200:
      return "200 OK";
    case 201:
      return "201 Created";
    case 204:
      return "204 No Content";
    default:
      return std::to_string(status);
  }
}

}  // namespace

http::Response HandleHistory(Call& call) {
  store::HistoryQuery q;
  q.type = call.target.type;
  q.id = call.target.id;
  q.limit = call.ctx.options.default_count;
  for (const auto& [name, value] : call.params) {
    if (name == "_count") {
      size_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || p != value.data() + value.size()) {
        return ErrorResponse(BadParam("_count", "not a whole number"), call.format.pretty);
      }
      q.limit = std::clamp<size_t>(n, 1, call.ctx.options.max_count);
    } else if (name == "_since" || name == "_at") {
      auto r = time::ParseFhirDateTime(value);
      if (!r) return ErrorResponse(BadParam(name, "not a FHIR instant"), call.format.pretty);
      // _since: changes at or after the instant; _at: the state at the instant.
      if (name == "_since") {
        q.since_us = r->begin_us;
      } else {
        q.at_us = r->end_us - 1;
      }
    } else if (name == "_cursor") {
      q.after = value;
    } else if (name == "_list") {
      return ErrorResponse(BadParam("_list", "not supported on history"), call.format.pretty);
    }
  }
  auto page = call.ctx.store.History(q);
  if (!page.ok()) return ErrorResponse(page.status(), call.format.pretty);
  if (!q.id.empty() && page->versions.empty() && q.after.empty() && !q.since_us && !q.at_us) {
    auto exists = call.ctx.store.Read(q.type, q.id);
    if (exists.ok() && !exists->has_value()) {
      return ErrorResponse(Status::Error(ErrorCategory::kNotFound, "GM-REST-060", "not-found",
                                         "resource " + q.type + "/" + q.id + " is not known"),
                           call.format.pretty);
    }
  }

  std::string base = call.ctx.options.base_url;
  std::string self = base;
  if (!q.type.empty()) self += "/" + q.type;
  if (!q.id.empty()) self += "/" + q.id;
  self += "/_history";
  BundleWriter bundle("history", call.format);
  if (page->total) bundle.SetTotal(*page->total);
  std::string query = "?_count=" + std::to_string(q.limit);
  if (q.since_us) query += "&_since=" + PercentEncode(time::FormatInstant(*q.since_us));
  if (auto at = ParamValue(call.params, "_at")) query += "&_at=" + PercentEncode(*at);
  bundle.AddLink("self", self + query + (q.after.empty() ? "" : "&_cursor=" + PercentEncode(q.after)));
  if (!page->next.empty()) bundle.AddLink("next", self + query + "&_cursor=" + PercentEncode(page->next));
  for (const auto& v : page->versions) {
    json::Value request = json::Value::MakeObject();
    json::Value response = json::Value::MakeObject();
    int status;
    if (v.deleted) {
      request.set("method", "DELETE");
      request.set("url", v.type + "/" + v.id);
      status = 204;
    } else if (v.version == 1) {
      request.set("method", "POST");
      request.set("url", v.type);
      status = 201;
    } else {
      request.set("method", "PUT");
      request.set("url", v.type + "/" + v.id);
      status = 200;
    }
    response.set("status", StatusLine(status));
    response.set("etag", ETagFor(v.version));
    response.set("lastModified", time::FormatInstant(v.last_updated_us));
    bundle.AddEntry(ResourceUrl(call.ctx, v, false), v.deleted ? std::string_view() : v.json,
                    nullptr, &request, &response);
  }
  http::Response r;
  r.SetHeader("Content-Type", call.format.content_type + "; charset=utf-8");
  r.body = bundle.Finish();
  return r;
}

}  // namespace gm::rest
