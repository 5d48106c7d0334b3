// delete: DELETE [base]/[type]/[id] — http://hl7.org/fhir/R4/http.html#delete
// The deletion is a new version without content; history keeps the rest and a
// later read answers 410 Gone. Conditional delete: DELETE [base]/[type]?criteria
// (single match only; several matches → 412).
#include "rest/engine.h"
#include "rest/handlers.h"
#include "rest/outcome.h"
#include "rest/respond.h"

namespace gm::rest {

http::Response HandleDelete(Call& call) {
  std::optional<int64_t> if_match;
  if (auto h = call.req.Header("if-match"); !h.empty()) {
    if_match = ParseETag(h);
    if (!if_match) {
      return ErrorResponse(Status::Error(ErrorCategory::kInvalid, "GM-REST-071", "value",
                                         "If-Match must be an ETag such as W/\"3\""),
                           call.format.pretty);
    }
  }
  const bool conditional = call.target.route == Route::kType;
  WriteResult result;
  bool nothing_matched = false;
  Status st = call.ctx.store.Write([&](store::Txn& txn) -> Status {
    std::string id = call.target.id;
    nothing_matched = false;
    if (conditional) {
      // A person's match is confined to the patient the criteria name.
      auto ids = MatchConfined(call.ctx, txn, call.target.type, call.req.query, 2,
                               call.patient_scope);
      if (!ids.ok()) return ids.status();
      if (ids->size() > 1) {
        return Status::Error(ErrorCategory::kPreconditionFailed, "GM-REST-074", "multiple-matches",
                             "the conditional delete criteria match more than one resource");
      }
      if (ids->empty()) {
        nothing_matched = true;
        return Status::Ok();
      }
      id = ids->front();
    }
    GM_RETURN_IF_ERROR(CheckWrite(call, txn, call.target.type, id, nullptr));
    auto r = DoDelete(call.ctx, txn, call.target.type, id, if_match);
    if (!r.ok()) return r.status();
    result = std::move(*r);
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st, call.format.pretty);
  http::Response r;
  r.status = 204;
  if (nothing_matched) return r;
  if (result.version.deleted && result.version.version > 0) AfterCommit(call.ctx, result.version);
  if (result.version.version > 0) r.SetHeader("ETag", ETagFor(result.version.version));
  if (call.prefer.ret == PreferReturn::kOperationOutcome) {
    r.status = 200;
    r.SetHeader("Content-Type", call.format.content_type + "; charset=utf-8");
    r.body = RenderJson(InformationOutcome("GM-REST-100", "deleted"), call.format);
  }
  return r;
}

}  // namespace gm::rest
