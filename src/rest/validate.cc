// $validate: POST [base]/[type]/$validate —
// http://hl7.org/fhir/R4/resource-operation-validate.html
// Runs exactly the checks a create would, stores nothing, and always answers
// 200 with an OperationOutcome (errors as issues) when the body was understood.
// ?profile=URL (or a Parameters "profile") adds a profile to validate against
// (an unknown one is an error issue, GM-PROF-011).
#include "rest/engine.h"
#include "rest/handlers.h"
#include "rest/outcome.h"
#include "rest/respond.h"

namespace gm::rest {

http::Response HandleValidate(Call& call) {
  auto kind = ClassifyBody(call.req, false, false);
  if (!kind.ok()) return ErrorResponse(kind.status(), call.format.pretty);
  auto parsed = json::Parse(call.req.body,
                            json::ParseOptions{.max_depth = call.ctx.options.max_json_depth});
  if (!parsed.ok()) return ErrorResponse(parsed.status(), call.format.pretty);
  std::string body;
  // profile=URL (query) or a "profile" parameter: validate against it too.
  std::vector<std::string> extra_profiles;
  for (const auto& [name, value] : call.params) {
    if (name == "profile" && !value.empty()) extra_profiles.push_back(value);
  }
  // A Parameters body carries the resource in parameter "resource".
  if (parsed->get_string("resourceType") == "Parameters") {
    const json::Value* params = parsed->find("parameter");
    const json::Value* resource = nullptr;
    if (params && params->is_array()) {
      for (const auto& p : params->array()) {
        if (p.get_string("name") == "resource") resource = p.find("resource");
        if (p.get_string("name") == "profile") {
          for (const char* k : {"valueUri", "valueCanonical", "valueString"}) {
            if (!p.get_string(k).empty()) extra_profiles.emplace_back(p.get_string(k));
          }
        }
      }
    }
    if (resource == nullptr) {
      return ErrorResponse(Status::Error(ErrorCategory::kInvalid, "GM-REST-130", "required",
                                         "Parameters must carry the resource in 'resource'"),
                           call.format.pretty);
    }
    body = json::Write(*resource);
  }
  // Parsed without validation here; Validate below reports errors and warnings.
  auto resource = ParseResourceUnvalidated(call.ctx, body.empty() ? std::string_view(call.req.body)
                                                                  : std::string_view(body),
                                           call.target.type);
  http::Response r;
  r.SetHeader("Content-Type", call.format.content_type + "; charset=utf-8");
  if (!resource.ok()) {
    if (resource.status().category() == ErrorCategory::kUnprocessable ||
        resource.status().category() == ErrorCategory::kInvalid) {
      r.status = 200;
      r.body = RenderJson(OperationOutcomeFor(resource.status()), call.format);
      return r;
    }
    return ErrorResponse(resource.status(), call.format.pretty);
  }
  validation::ValidationResult v = Validate(call.ctx, *resource, extra_profiles);
  if (!v.status.ok()) {
    r.body = RenderJson(OperationOutcomeFor(v.status), call.format);
    return r;
  }
  std::vector<Issue> issues;
  issues.push_back(Issue{Severity::kInformation, "informational", "GM-REST-131",
                         v.warnings.empty() ? "validation passed: no issues"
                                            : "validation passed: no errors, only warnings",
                         ""});
  issues.insert(issues.end(), v.warnings.begin(), v.warnings.end());
  r.body = RenderJson(OperationOutcomeFor(Status(ErrorCategory::kInvalid, std::move(issues))),
                      call.format);
  return r;
}

}  // namespace gm::rest
