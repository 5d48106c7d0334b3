// create: POST [base]/[type] — http://hl7.org/fhir/R4/http.html#create
// Conditional create with If-None-Exist
// (http://hl7.org/fhir/R4/http.html#ccreate): the match and the create run in
// one store transaction, so concurrent identical requests create one resource.
#include "rest/engine.h"
#include "rest/handlers.h"
#include "rest/outcome.h"
#include "rest/respond.h"

namespace gm::rest {

http::Response HandleCreate(Call& call) {
  auto kind = ClassifyBody(call.req, false, false);
  if (!kind.ok()) return ErrorResponse(kind.status(), call.format.pretty);
  auto resource = ParseResource(call.ctx, call.req.body, call.target.type);
  if (!resource.ok()) return ErrorResponse(resource.status(), call.format.pretty);
  std::string criteria(call.req.Header("if-none-exist"));
  std::string id = call.ctx.new_id();

  WriteResult result;
  Status st = call.ctx.store.Write([&](store::Txn& txn) -> Status {
    if (!criteria.empty()) {
      auto ids = MatchCriteria(call.ctx, txn, call.target.type, criteria, 2);
      if (!ids.ok()) return ids.status();
      if (ids->size() > 1) {
        return Status::Error(ErrorCategory::kPreconditionFailed, "GM-REST-070", "multiple-matches",
                             "If-None-Exist matches more than one resource");
      }
      if (ids->size() == 1) {
        auto current = txn.Current(call.target.type, ids->front());
        if (!current.ok()) return current.status();
        result = WriteResult{**current, 200, true};
        return Status::Ok();
      }
    }
    auto r = DoCreate(call.ctx, txn, *resource, id);
    if (!r.ok()) return r.status();
    result = std::move(*r);
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st, call.format.pretty);
  if (!result.matched_existing) AfterCommit(call.ctx, result.version);
  return WriteResponse(call.ctx, call.format, call.prefer, result.version, result.status);
}

}  // namespace gm::rest
