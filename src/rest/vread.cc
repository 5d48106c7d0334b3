// vread: GET [base]/[type]/[id]/_history/[vid] — http://hl7.org/fhir/R4/http.html#vread
#include <charconv>

#include "rest/handlers.h"
#include "rest/outcome.h"
#include "rest/respond.h"

namespace gm::rest {

http::Response HandleVRead(Call& call) {
  const std::string& vid = call.target.version;
  int64_t version = 0;
  auto [p, ec] = std::from_chars(vid.data(), vid.data() + vid.size(), version);
  auto not_found = [&] {
    return ErrorResponse(Status::Error(ErrorCategory::kNotFound, "GM-REST-062", "not-found",
                                       "version " + vid.substr(0, 20) + " of " +
                                           call.target.type + "/" + call.target.id +
                                           " is not known"),
                         call.format.pretty);
  };
  if (ec != std::errc() || p != vid.data() + vid.size() || version < 1) return not_found();
  auto v = call.ctx.store.ReadVersion(call.target.type, call.target.id, version);
  if (!v.ok()) return ErrorResponse(v.status(), call.format.pretty);
  if (!v->has_value()) return not_found();
  if ((*v)->deleted) {
    return ErrorResponse(Status::Error(ErrorCategory::kGone, "GM-REST-063", "deleted",
                                       "this version records a deletion"),
                         call.format.pretty);
  }
  return ResourceResponse(call.ctx, call.format, **v);
}

}  // namespace gm::rest
