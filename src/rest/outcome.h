// The one place where errors become HTTP: Status category → HTTP status, and
// Status issues → a FHIR OperationOutcome (severity, code, a stable grunnmur
// code in details.coding, diagnostics, expression).
#pragma once

#include <string>

#include "core/json.h"
#include "core/status.h"
#include "http/server.h"

namespace gm::rest {

// The stable system of grunnmur's issue codes in OperationOutcome.issue.details.
inline constexpr const char* kIssueCodeSystem = "https://grunnmur.no/fhir/CodeSystem/issue-code";

int HttpStatusFor(ErrorCategory category);
json::Value OperationOutcomeFor(const Status& status);
// An informational OperationOutcome (e.g. for Prefer: return=OperationOutcome).
json::Value InformationOutcome(const std::string& code, const std::string& text);
// A complete error response: status code, OperationOutcome body, content type.
http::Response ErrorResponse(const Status& status, bool pretty = false);
// For errors detected by the HTTP server itself (413, 431, 408 ...).
http::Response HttpErrorResponse(int http_status, const std::string& code, const std::string& text);

}  // namespace gm::rest
