#include "rest/outcome.h"

namespace gm::rest {

int HttpStatusFor(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::kOk:
      return 200;
    case ErrorCategory::kInvalid:
      return 400;
    case ErrorCategory::kUnauthorized:
      return 401;
    case ErrorCategory::kForbidden:
      return 403;
    case ErrorCategory::kNotFound:
      return 404;
    case ErrorCategory::kMethodNotAllowed:
      return 405;
    case ErrorCategory::kNotAcceptable:
      return 406;
    case ErrorCategory::kConflict:
      return 409;
    case ErrorCategory::kGone:
      return 410;
    case ErrorCategory::kPreconditionFailed:
      return 412;
    case ErrorCategory::kPayloadTooLarge:
      return 413;
    case ErrorCategory::kUnsupportedMediaType:
      return 415;
    case ErrorCategory::kUnprocessable:
      return 422;
    case ErrorCategory::kTooManyRequests:
      return 429;
    case ErrorCategory::kInternal:
      return 500;
    case ErrorCategory::kNotImplemented:
      return 501;
    case ErrorCategory::kUnavailable:
      return 503;
    case ErrorCategory::kTimeout:
      return 408;
  }
  return 500;
}

namespace {

const char* SeverityCode(Severity s) {
  switch (s) {
    case Severity::kFatal:
      return "fatal";
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kInformation:
      return "information";
  }
  return "error";
}

json::Value IssueJson(const Issue& issue) {
  json::Value i = json::Value::MakeObject();
  i.set("severity", SeverityCode(issue.severity));
  i.set("code", issue.type.empty() ? "processing" : issue.type);
  if (!issue.code.empty()) {
    json::Value coding = json::Value::MakeObject();
    coding.set("system", kIssueCodeSystem);
    coding.set("code", issue.code);
    json::Value details = json::Value::MakeObject();
    details.set("coding", json::Array{std::move(coding)});
    i.set("details", std::move(details));
  }
  if (!issue.text.empty()) {
    i.set("diagnostics", issue.code.empty() ? issue.text : issue.code + ": " + issue.text);
  }
  if (!issue.expression.empty()) i.set("expression", json::Array{json::Value(issue.expression)});
  return i;
}

}  // namespace

json::Value OperationOutcomeFor(const Status& status) {
  json::Value oo = json::Value::MakeObject();
  oo.set("resourceType", "OperationOutcome");
  json::Array issues;
  for (const Issue& issue : status.issues()) issues.push_back(IssueJson(issue));
  if (issues.empty()) {
    issues.push_back(IssueJson(Issue{Severity::kError, "exception", "GM-HTTP-000",
                                     "request failed", ""}));
  }
  oo.set("issue", std::move(issues));
  return oo;
}

json::Value InformationOutcome(const std::string& code, const std::string& text) {
  json::Value oo = json::Value::MakeObject();
  oo.set("resourceType", "OperationOutcome");
  oo.set("issue", json::Array{IssueJson(Issue{Severity::kInformation, "informational", code,
                                              text, ""})});
  return oo;
}

http::Response ErrorResponse(const Status& status, bool pretty) {
  http::Response r;
  r.status = HttpStatusFor(status.category());
  r.SetHeader("Content-Type", "application/fhir+json; charset=utf-8");
  r.body = json::Write(OperationOutcomeFor(status), {.pretty = pretty});
  return r;
}

http::Response HttpErrorResponse(int http_status, const std::string& code,
                                 const std::string& text) {
  std::string type = "processing";
  if (http_status == 413 || http_status == 431) type = "too-costly";
  if (http_status == 408) type = "timeout";
  if (http_status == 400) type = "structure";
  if (http_status >= 500) type = "exception";
  Status s(ErrorCategory::kInvalid, Issue{Severity::kError, type, code, text, ""});
  http::Response r;
  r.status = http_status;
  r.SetHeader("Content-Type", "application/fhir+json; charset=utf-8");
  r.body = json::Write(OperationOutcomeFor(s));
  return r;
}

}  // namespace gm::rest
