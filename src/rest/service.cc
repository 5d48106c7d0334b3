#include "rest/service.h"

#include <algorithm>

#include "audit/log.h"
#include "rest/audit_outbox.h"
#include "rest/auth.h"
#include "rest/eresept_ops.h"
#include "labs/svarrapport.h"
#include "rest/handlers.h"
#include "rest/outcome.h"
#include "rest/provesvar_access.h"

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
  // Default deny: a token is required and checked before any handler runs,
  // then the policy decision point decides (rest/auth.h DecideRequest).
  Requirement need = RequirementFor(*target, m);
  std::optional<trust::Principal> principal;
  std::optional<RequestPolicy> policy;
  const bool needs_decision = !need.is_public && ctx_.verifier != nullptr && !trusted;
  if (needs_decision) {
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
    // Pasientens prøvesvar's national search API: access-basis, person-id.
    if (Status pvs = PrepareProvesvarSearch(ctx_, req, *target, mode); !pvs.ok()) {
      http::Response r = ErrorResponse(pvs);
      r.interaction = "forbidden";
      return r;
    }
    auto query = ParseForm(req.query);
    policy = DecideRequest(ctx_, *who, mode, *target, m, query.ok() ? *query : Params{}, req);
    principal = std::move(*who);
    if (!policy->status.ok()) {
      http::Response r = ErrorResponse(policy->status);
      if (Status audited = AuditAccess(ctx_, *principal, *policy, *target, req,
                                       AuditInteraction(*target, m), r, true);
          !audited.ok()) {
        r = ErrorResponse(audited);
      }
      r.interaction = policy->status.category() == ErrorCategory::kNotFound ? "read" : "forbidden";
      return r;
    }
  }
  // No route reaches a handler without a decision.
  if (needs_decision && !(policy && policy->decided)) {
    return ErrorResponse(Status::Error(ErrorCategory::kInternal, "GM-AUTH-049", "exception",
                                       "the request was not decided by the policy"));
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
  if (policy && !policy->everything_types.empty()) {
    // $everything limited to the kinds of data the policy allows: one _type
    // that is the intersection with what the caller asked for.
    std::vector<std::string> asked;
    Params kept;
    for (auto& [k, v] : *params) {
      if (k != "_type") {
        kept.emplace_back(std::move(k), std::move(v));
        continue;
      }
      size_t start = 0;
      while (start <= v.size()) {
        size_t comma = v.find(',', start);
        if (comma == std::string::npos) comma = v.size();
        asked.push_back(v.substr(start, comma - start));
        start = comma + 1;
      }
    }
    std::string types;
    for (const auto& t : policy->everything_types) {
      if (!asked.empty() && std::find(asked.begin(), asked.end(), t) == asked.end()) continue;
      types += (types.empty() ? "" : ",") + t;
    }
    if (types.empty()) {
      return ErrorResponse(Status::Error(ErrorCategory::kForbidden, "GM-AUTH-045", "forbidden",
                                         "none of the requested kinds of data may be shown"));
    }
    kept.emplace_back("_type", std::move(types));
    *params = std::move(kept);
  }
  Call call{ctx_, req, *target, std::move(*params), std::move(*format),
            ParsePrefer(req.Header("prefer")), principal ? &*principal : nullptr,
            policy ? policy->patient_scope : std::vector<std::string>{}};
  if (policy) ApplyPolicy(ctx_, *policy, call);  // write confinement, batch verdicts

  // A write's audit is staged in the write's own transaction (rest/audit_outbox.h).
  std::optional<WriteAuditScope> write_audit;
  if (policy && principal && ctx_.audit != nullptr && !get && policy->rule != RouteRule::kPublic &&
      policy->rule != RouteRule::kNoData) {
    const std::string audit_interaction = AuditInteraction(*target, m);
    if (!audit_interaction.empty()) {
      write_audit.emplace(
          [this, &principal, &policy, &target, &req,
           audit_interaction](const std::vector<std::string>& patients) {
            return AccessEvents(ctx_, *principal, *policy, *target, req, audit_interaction,
                                patients, audit::Outcome::kAllowed, "");
          },
          ctx_.new_id);
    }
  }

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
      } else if (IsEreseptOperation(*target)) {
        r = HandleEreseptOperation(call);
      } else {
        r = ErrorResponse(Status::Error(ErrorCategory::kNotFound, "GM-REST-005", "not-supported",
                                        "unknown operation $" + target->operation.substr(0, 40)),
                          call.format.pretty);
      }
      break;
    case Route::kInstanceOperation:
      if (IsEreseptOperation(*target)) {
        interaction = "operation";
        r = HandleEreseptOperation(call);
        break;
      }
      if (target->type == "Patient" && target->operation == "everything" && (get || m == "POST")) {
        interaction = "operation";
        r = HandleEverything(call);
        break;
      }
      if (target->type == "Patient" && target->operation == "access-log" && get) {
        interaction = "operation";
        r = HandleAccessLog(call);
        break;
      }
      [[fallthrough]];
    case Route::kSystemOperation:
      interaction = "operation";
      if (target->route == Route::kSystemOperation && target->operation == "svarrapport" &&
          m == "POST") {  // Pasientens prøvesvar: labs/svarrapport.h, run as a transaction
        interaction = "svarrapport";
        Status may = principal ? Authorize(*principal, Requirement{false, "*", trust::kCreate |
                                           trust::kUpdate | trust::kRead | trust::kSearch})
                               : Status::Ok();
        auto bundle = may.ok() ? labs::IngestRequest(req.Header("content-type"), req.body, ctx_.store)
                               : Result<json::Value>(may);
        if (!bundle.ok()) {
          r = ErrorResponse(bundle.status(), call.format.pretty);
          break;
        }
        req.body = json::Write(*bundle);
        for (auto& [name, value] : req.headers) {
          if (name == "content-type") value = "application/fhir+json";
        }
        r = HandleBundle(call);
        break;
      }
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
  if (policy && principal) {
    // Lab results hidden from this person (NORS, NORU): 404 or left out.
    FilterResultsForViewer(ctx_, ViewerFor(ctx_, *policy, req, *target), *target,
                           policy->patient_scope.empty() ? policy->patients
                                                         : policy->patient_scope,
                           r);
  }
  if (policy && principal) {
    // The audit: one AuditEvent per patient touched, durable before the
    // answer leaves; if it cannot be written, no data leaves either.
    std::vector<std::string> written;
    if (write_audit && write_audit->staged()) {
      // Durable already (outbox, same transaction as the write); chained now,
      // or by the relay if the chain refuses it at this moment.
      (void)write_audit->Publish(*ctx_.audit);
      written = write_audit->patients();
    }
    const bool plain_write = r.status < 300 && !written.empty() &&
                             (target->route == Route::kInstance || target->route == Route::kType);
    // (Batches may also read: their answer is still looked at, less what was written.)
    if (!plain_write) {
      if (Status audited = AuditAccess(ctx_, *principal, *policy, *target, req,
                                       AuditInteraction(*target, m), r, false, written);
          !audited.ok()) {
        r = ErrorResponse(audited, call.format.pretty);
      }
    }
  }
  if (head) r.body.clear();
  r.interaction = interaction.empty() ? "other" : interaction;
  return r;
}

}  // namespace gm::rest
