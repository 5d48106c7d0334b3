#include "rest/service.h"

#include "rest/auth.h"
#include "rest/handlers.h"
#include "rest/outcome.h"

namespace gm::rest {

namespace {

Status MethodNotAllowed(const std::string& method) {
  return Status::Error(ErrorCategory::kMethodNotAllowed, "GM-REST-004", "not-supported",
                       "method " + method.substr(0, 16) + " is not allowed here");
}

http::Response PlainText(int status, std::string body, const char* type = "text/plain") {
  http::Response r;
  r.status = status;
  r.SetHeader("Content-Type", std::string(type) + "; charset=utf-8");
  r.body = std::move(body);
  return r;
}

}  // namespace

Service::Service(Context ctx, std::function<std::string()> metrics_text)
    : ctx_(std::move(ctx)), metrics_text_(std::move(metrics_text)) {}

http::Response Service::Handle(http::Request& req, bool trusted) {
  if (!ready_.load(std::memory_order_acquire)) {
    http::Response r = ErrorResponse(Status::Error(ErrorCategory::kUnavailable, "GM-REST-006",
                                                   "transient", "the server is starting"));
    r.SetHeader("Retry-After", "1");
    return r;
  }
  if (auto d = Discovery(ctx_, req)) return std::move(*d);
  if (auto t = TokenEndpoint(ctx_, req)) return std::move(*t);
  auto target = ParseTarget(ctx_.model, req.path);
  if (!target.ok()) {
    // Unknown paths answer the same to everyone (404), before authentication:
    // they reveal nothing, and a 401 would only hide a typo.
    http::Response r = ErrorResponse(target.status());
    r.interaction = "unknown";
    return r;
  }
  const std::string& m = req.method;
  // Default deny: a token is required and checked before any handler runs.
  Requirement need = RequirementFor(*target, m);
  std::optional<trust::Principal> principal;
  std::vector<std::string> patient_scope;
  if (!need.is_public && ctx_.verifier != nullptr && !trusted) {
    auto who = Authenticate(ctx_, req);
    if (!who.ok()) {
      http::Response r = Unauthorized(who.status());
      r.interaction = "unauthorized";
      return r;
    }
    if (Status allowed = Authorize(*who, need); !allowed.ok()) {
      http::Response r = ErrorResponse(allowed);
      r.interaction = "forbidden";
      return r;
    }
    AccessMode mode = need.permissions == 0 ? AccessMode::kSystem : ModeFor(*who, need);
    if (mode == AccessMode::kUser) {
      http::Response r = ErrorResponse(Status::Error(
          ErrorCategory::kForbidden, "GM-AUTH-041", "forbidden",
          "clinician access (user scopes) needs a care relationship checked by the policy "
          "decision point, which this server does not have yet"));
      r.interaction = "forbidden";
      return r;
    }
    if (mode == AccessMode::kPatient) {
      if (Status ok = PatientAccess(ctx_, *who, *target, m, patient_scope); !ok.ok()) {
        http::Response r = ErrorResponse(ok);
        r.interaction = ok.category() == ErrorCategory::kNotFound ? "read" : "forbidden";
        return r;
      }
    }
    principal = std::move(*who);
  }
  const bool head = m == "HEAD";
  const bool get = m == "GET" || head;

  switch (target->route) {
    case Route::kHealth: {
      http::Response r = PlainText(200, "ok\n");
      r.interaction = "health";
      return r;
    }
    case Route::kReady: {
      auto stats = ctx_.store.Stats();
      http::Response r = draining_.load() || !stats.ok() ? PlainText(503, "not ready\n")
                                                          : PlainText(200, "ready\n");
      r.interaction = "health";
      return r;
    }
    case Route::kMetrics: {
      http::Response r = PlainText(200, metrics_text_ ? metrics_text_() : std::string(),
                                   "text/plain; version=0.0.4");
      r.interaction = "metrics";
      return r;
    }
    default:
      break;
  }

  auto params = ParseForm(req.query);
  if (!params.ok()) return ErrorResponse(params.status());
  auto format = NegotiateFormat(req, *params);
  if (!format.ok()) return ErrorResponse(format.status());
  if (principal) format->viewer_pid = principal->pid;
  Call call{ctx_, req, *target, std::move(*params), std::move(*format),
            ParsePrefer(req.Header("prefer")), principal ? &*principal : nullptr,
            std::move(patient_scope)};

  http::Response r;
  std::string interaction;
  auto not_allowed = [&] { return ErrorResponse(MethodNotAllowed(m), call.format.pretty); };
  switch (target->route) {
    case Route::kMetadata:
      interaction = "capabilities";
      r = get ? HandleCapabilities(call) : not_allowed();
      break;
    case Route::kSystem:
      interaction = "batch-transaction";
      r = m == "POST" ? HandleBundle(call) : get ? HandleSearch(call) : not_allowed();
      if (get) interaction = "search-system";
      break;
    case Route::kSystemHistory:
    case Route::kTypeHistory:
    case Route::kInstanceHistory:
      interaction = target->route == Route::kSystemHistory  ? "history-system"
                    : target->route == Route::kTypeHistory ? "history-type"
                                                           : "history-instance";
      r = get ? HandleHistory(call) : not_allowed();
      break;
    case Route::kSystemSearch:
    case Route::kTypeSearch:
      interaction = target->route == Route::kSystemSearch ? "search-system" : "search-type";
      r = m == "POST" ? HandleSearch(call) : not_allowed();
      break;
    case Route::kCompartmentSearch:
      interaction = "search-compartment";
      r = get ? HandleSearch(call) : not_allowed();
      break;
    case Route::kType:
      if (get) {
        interaction = "search-type";
        r = HandleSearch(call);
      } else if (m == "POST") {
        interaction = "create";
        r = HandleCreate(call);
      } else if (m == "PUT") {
        interaction = "update-conditional";
        r = HandleUpdate(call);
      } else if (m == "DELETE") {
        interaction = "delete-conditional";
        r = HandleDelete(call);
      } else {
        r = not_allowed();
      }
      break;
    case Route::kInstance:
      if (get) {
        interaction = "read";
        r = HandleRead(call);
      } else if (m == "PUT") {
        interaction = "update";
        r = HandleUpdate(call);
      } else if (m == "PATCH") {
        interaction = "patch";
        r = HandlePatch(call);
      } else if (m == "DELETE") {
        interaction = "delete";
        r = HandleDelete(call);
      } else {
        r = not_allowed();
      }
      break;
    case Route::kVersion:
      interaction = "vread";
      r = get ? HandleVRead(call) : not_allowed();
      break;
    case Route::kTypeOperation:
      interaction = "operation";
      if (target->operation == "validate" && m == "POST") {
        interaction = "validate";
        r = HandleValidate(call);
      } else {
        r = ErrorResponse(Status::Error(ErrorCategory::kNotFound, "GM-REST-005", "not-supported",
                                        "unknown operation $" + target->operation.substr(0, 40)),
                          call.format.pretty);
      }
      break;
    case Route::kInstanceOperation:
      if (target->type == "Patient" && target->operation == "everything" && (get || m == "POST")) {
        interaction = "operation";
        r = HandleEverything(call);
        break;
      }
      [[fallthrough]];
    case Route::kSystemOperation:
      interaction = "operation";
      r = ErrorResponse(Status::Error(ErrorCategory::kNotFound, "GM-REST-005", "not-supported",
                                      "unknown operation $" + target->operation.substr(0, 40)),
                        call.format.pretty);
      break;
    default:
      r = not_allowed();
  }
  if (r.status == 405) {
    r.SetHeader("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE");
  }
  if (head) r.body.clear();
  r.interaction = interaction.empty() ? "other" : interaction;
  return r;
}

}  // namespace gm::rest
