// update: PUT [base]/[type]/[id] — http://hl7.org/fhir/R4/http.html#update
// Update-as-create is allowed; If-Match gives version-aware updates
// (http://hl7.org/fhir/R4/http.html#concurrency).
// Conditional update: PUT [base]/[type]?criteria
// (http://hl7.org/fhir/R4/http.html#cond-update).
#include "rest/engine.h"
#include "rest/handlers.h"
#include "rest/outcome.h"
#include "rest/respond.h"

namespace gm::rest {

namespace {

Result<std::optional<int64_t>> IfMatch(const http::Request& req) {
  std::string_view h = req.Header("if-match");
  if (h.empty()) return std::optional<int64_t>();
  auto v = ParseETag(h);
  if (!v) {
    return Status::Error(ErrorCategory::kInvalid, "GM-REST-071", "value",
                         "If-Match must be an ETag such as W/\"3\"");
  }
  return std::optional<int64_t>(*v);
}

}  // namespace

http::Response HandleUpdate(Call& call) {
  auto kind = ClassifyBody(call.req, false, false);
  if (!kind.ok()) return ErrorResponse(kind.status(), call.format.pretty);
  auto if_match = IfMatch(call.req);
  if (!if_match.ok()) return ErrorResponse(if_match.status(), call.format.pretty);
  auto resource = ParseResource(call.ctx, call.req.body, call.target.type);
  if (!resource.ok()) return ErrorResponse(resource.status(), call.format.pretty);
  const bool conditional = call.target.route == Route::kType;
  std::string criteria = conditional ? call.req.query : std::string();
  std::string new_id = call.ctx.new_id();

  WriteResult result;
  Status st = call.ctx.store.Write([&](store::Txn& txn) -> Status {
    std::string id = call.target.id;
    json::Value body = *resource;
    if (conditional) {
      auto ids = MatchCriteria(call.ctx, txn, call.target.type, criteria, 2);
      if (!ids.ok()) return ids.status();
      if (ids->size() > 1) {
        return Status::Error(ErrorCategory::kPreconditionFailed, "GM-REST-072", "multiple-matches",
                             "the conditional update criteria match more than one resource");
      }
      std::string_view body_id = body.get_string("id");
      if (ids->size() == 1) {
        id = ids->front();
        if (!body_id.empty() && body_id != id) {
          return Status::Error(ErrorCategory::kInvalid, "GM-REST-073", "invalid",
                               "the id in the body is not the id of the matching resource",
                               call.target.type + ".id");
        }
      } else {
        id = body_id.empty() ? new_id : std::string(body_id);
      }
      body.set("id", id);
    }
    auto r = DoUpdate(call.ctx, txn, call.target.type, id, std::move(body), *if_match);
    if (!r.ok()) return r.status();
    result = std::move(*r);
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st, call.format.pretty);
  if (!result.matched_existing) AfterCommit(call.ctx, result.version);
  return WriteResponse(call.ctx, call.format, call.prefer, result.version, result.status);
}

}  // namespace gm::rest
