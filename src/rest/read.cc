// read: GET [base]/[type]/[id] — http://hl7.org/fhir/R4/http.html#read
// Conditional read with If-None-Match / If-Modified-Since (304).
#include "core/time.h"
#include "rest/engine.h"
#include "rest/handlers.h"
#include "rest/outcome.h"
#include "rest/respond.h"

namespace gm::rest {

http::Response HandleRead(Call& call) {
  auto v = call.ctx.store.Read(call.target.type, call.target.id);
  if (!v.ok()) return ErrorResponse(v.status(), call.format.pretty);
  if (!v->has_value()) {
    return ErrorResponse(Status::Error(ErrorCategory::kNotFound, "GM-REST-060", "not-found",
                                       "resource " + call.target.type + "/" + call.target.id +
                                           " is not known"),
                         call.format.pretty);
  }
  const store::ResourceVersion& rv = **v;
  if (rv.deleted) {
    http::Response r = ErrorResponse(
        Status::Error(ErrorCategory::kGone, "GM-REST-061", "deleted",
                      "resource " + call.target.type + "/" + call.target.id + " was deleted"),
        call.format.pretty);
    r.SetHeader("ETag", ETagFor(rv.version));
    return r;
  }
  if (auto inm = call.req.Header("if-none-match"); !inm.empty()) {
    if (auto tag = ParseETag(inm); tag && *tag == rv.version) {
      http::Response r;
      r.status = 304;
      r.SetHeader("ETag", ETagFor(rv.version));
      return r;
    }
  } else if (auto ims = call.req.Header("if-modified-since"); !ims.empty()) {
    // HTTP dates have whole seconds: modified means a later second.
    if (auto since = time::ParseHttpDate(ims); since && rv.last_updated_us / 1000000 <= *since / 1000000) {
      http::Response r;
      r.status = 304;
      r.SetHeader("ETag", ETagFor(rv.version));
      r.SetHeader("Last-Modified", time::FormatHttpDate(rv.last_updated_us));
      return r;
    }
  }
  return ResourceResponse(call.ctx, call.format, rv);
}

}  // namespace gm::rest
