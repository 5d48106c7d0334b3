// patch: PATCH [base]/[type]/[id] — http://hl7.org/fhir/R4/http.html#patch
// Body: JSON Patch (application/json-patch+json, RFC 6902), or FHIRPath Patch
// (a Parameters resource as application/fhir+json,
// http://hl7.org/fhir/R4/fhirpatch.html). The patch is applied to the current
// version inside the write transaction, the result is validated like any
// update, and If-Match makes it version-aware.
#include "fhir/json_patch.h"
#include "patch/fhirpath_patch.h"
#include "rest/engine.h"
#include "rest/handlers.h"
#include "rest/outcome.h"
#include "rest/respond.h"

namespace gm::rest {

http::Response HandlePatch(Call& call) {
  auto kind = ClassifyBody(call.req, false, true);
  if (!kind.ok()) return ErrorResponse(kind.status(), call.format.pretty);
  if (*kind != BodyKind::kJsonPatch && *kind != BodyKind::kFhirJson) {
    return ErrorResponse(
        Status::Error(ErrorCategory::kUnsupportedMediaType, "GM-REST-080", "not-supported",
                      "PATCH takes a JSON Patch document (application/json-patch+json) or a "
                      "FHIRPath Patch Parameters resource (application/fhir+json)"),
        call.format.pretty);
  }
  const bool fhirpath_patch = *kind == BodyKind::kFhirJson;
  std::optional<int64_t> if_match;
  if (auto h = call.req.Header("if-match"); !h.empty()) {
    if_match = ParseETag(h);
    if (!if_match) {
      return ErrorResponse(Status::Error(ErrorCategory::kInvalid, "GM-REST-071", "value",
                                         "If-Match must be an ETag such as W/\"3\""),
                           call.format.pretty);
    }
  }
  auto patch = json::Parse(call.req.body,
                           json::ParseOptions{.max_depth = call.ctx.options.max_json_depth});
  if (!patch.ok()) return ErrorResponse(patch.status(), call.format.pretty);
  if (fhirpath_patch && (!patch->is_object() || patch->get_string("resourceType") != "Parameters")) {
    return ErrorResponse(
        Status::Error(ErrorCategory::kInvalid, "GM-REST-082", "invalid",
                      "a PATCH with a FHIR body takes a Parameters resource (FHIRPath Patch)",
                      "resourceType"),
        call.format.pretty);
  }

  WriteResult result;
  Status st = call.ctx.store.Write([&](store::Txn& txn) -> Status {
    auto current = txn.Current(call.target.type, call.target.id);
    if (!current.ok()) return current.status();
    if (!current->has_value()) {
      return Status::Error(ErrorCategory::kNotFound, "GM-REST-060", "not-found",
                           "resource " + call.target.type + "/" + call.target.id +
                               " is not known");
    }
    const store::ResourceVersion& cur = **current;
    if (cur.deleted) {
      return Status::Error(ErrorCategory::kGone, "GM-REST-061", "deleted",
                           "resource " + call.target.type + "/" + call.target.id +
                               " was deleted");
    }
    if (if_match && *if_match != cur.version) {
      return Status::Error(ErrorCategory::kPreconditionFailed, "GM-REST-043", "conflict",
                           "If-Match version " + std::to_string(*if_match) +
                               " is not the current version");
    }
    auto doc = json::Parse(cur.json, json::ParseOptions{.max_depth = 1024});
    if (!doc.ok()) return doc.status();
    json::Value* patched = &*doc;
    if (fhirpath_patch) {
      GM_RETURN_IF_ERROR(
          patch::ApplyFhirPathPatch(*patch, *doc, patch::FhirPathPatchOptions{.model = &call.ctx.model}));
    } else {
      GM_RETURN_IF_ERROR(fhir::ApplyJsonPatch(*patch, *doc));
    }
    if (patched->get_string("resourceType") != call.target.type ||
        patched->get_string("id") != call.target.id) {
      return Status::Error(ErrorCategory::kUnprocessable, "GM-REST-081", "invalid",
                           "a patch may not change resourceType or id");
    }
    GM_RETURN_IF_ERROR(ValidateResource(call.ctx, *patched));
    // A person's patch may not move the resource into (or touch) a record
    // this request was not decided for.
    GM_RETURN_IF_ERROR(CheckWrite(call, txn, call.target.type, call.target.id, patched));
    auto r = DoUpdate(call.ctx, txn, call.target.type, call.target.id, std::move(*patched),
                      cur.version);
    if (!r.ok()) return r.status();
    result = std::move(*r);
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st, call.format.pretty);
  if (!result.matched_existing) AfterCommit(call.ctx, result.version);
  return WriteResponse(call.ctx, call.format, call.prefer, result.version, result.status);
}

}  // namespace gm::rest
