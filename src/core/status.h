// Errors as values. Every fallible call inside grunnmur's core returns a
// Status or a Result<T>; exactly one place (rest/outcome.cc) maps them to an
// HTTP status and an OperationOutcome.
//
// A Status carries a category (what went wrong, in FHIR REST terms) and one or
// more issues. Each issue has a stable grunnmur code ("GM-JSON-003") so users
// and tests can rely on it, the FHIR issue-type code (invalid, structure,
// required, value, not-found, conflict, ...), a human-readable text and, where
// it applies, a FHIRPath expression pointing at the offending element.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace gm {

enum class ErrorCategory {
  kOk,
  kInvalid,               // 400: malformed request or content
  kUnauthorized,          // 401
  kForbidden,             // 403
  kNotFound,              // 404
  kMethodNotAllowed,      // 405
  kNotAcceptable,         // 406
  kConflict,              // 409: version conflict, duplicate id
  kGone,                  // 410: deleted
  kPreconditionFailed,    // 412: If-Match mismatch, multiple conditional matches
  kPayloadTooLarge,       // 413
  kUnsupportedMediaType,  // 415
  kUnprocessable,         // 422: valid syntax, fails validation rules
  kTooManyRequests,       // 429
  kInternal,              // 500
  kNotImplemented,        // 501
  kUnavailable,           // 503: storage full, shutting down
  kTimeout,               // 408/504
};

enum class Severity { kFatal, kError, kWarning, kInformation };

struct Issue {
  Severity severity = Severity::kError;
  std::string type = "processing";  // FHIR IssueType code
  std::string code;                 // stable grunnmur code, e.g. "GM-JSON-003"
  std::string text;                 // diagnostics, never containing health data
  std::string expression;           // FHIRPath location, may be empty
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCategory category, Issue issue) : category_(category) {
    issues_.push_back(std::move(issue));
  }
  Status(ErrorCategory category, std::vector<Issue> issues)
      : category_(category), issues_(std::move(issues)) {}

  static Status Ok() { return Status(); }
  static Status Error(ErrorCategory category, std::string code, std::string type,
                      std::string text, std::string expression = {}) {
    return Status(category, Issue{Severity::kError, std::move(type), std::move(code),
                                  std::move(text), std::move(expression)});
  }

  bool ok() const { return category_ == ErrorCategory::kOk; }
  ErrorCategory category() const { return category_; }
  const std::vector<Issue>& issues() const { return issues_; }
  std::vector<Issue>& issues() { return issues_; }
  // First issue's text, for logs and tests.
  std::string message() const { return issues_.empty() ? std::string() : issues_.front().text; }
  std::string code() const { return issues_.empty() ? std::string() : issues_.front().code; }

 private:
  ErrorCategory category_ = ErrorCategory::kOk;
  std::vector<Issue> issues_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Status& status() const { return std::get<1>(v_); }
  Status take_status() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Status> v_;
};

// Propagate an error Status from an expression returning Status.
#define GM_RETURN_IF_ERROR(expr)            \
  do {                                      \
    ::gm::Status gm_status_ = (expr);       \
    if (!gm_status_.ok()) return gm_status_; \
  } while (0)

#define GM_CONCAT_INNER(a, b) a##b
#define GM_CONCAT(a, b) GM_CONCAT_INNER(a, b)
// Assign the value of a Result<T> or return its Status.
#define GM_ASSIGN_OR_RETURN(lhs, expr)                                   \
  auto GM_CONCAT(gm_result_, __LINE__) = (expr);                         \
  if (!GM_CONCAT(gm_result_, __LINE__).ok())                             \
    return std::move(GM_CONCAT(gm_result_, __LINE__)).take_status();     \
  lhs = std::move(GM_CONCAT(gm_result_, __LINE__)).value()

}  // namespace gm
