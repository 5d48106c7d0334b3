#include "rest/auth.h"

#include <algorithm>

#include "no/identifiers.h"
#include "rest/outcome.h"

namespace gm::rest {

namespace {

constexpr uint8_t kAll = trust::kCreate | trust::kRead | trust::kUpdate | trust::kDelete |
                         trust::kSearch;

std::string PermissionText(uint8_t p) {
  std::string out;
  static constexpr std::string_view kOrder = "cruds";
  for (size_t i = 0; i < kOrder.size(); ++i) {
    if (p & (1u << i)) out += kOrder[i];
  }
  return out;
}

}  // namespace

Requirement RequirementFor(const Target& t, const std::string& method) {
  const bool get = method == "GET" || method == "HEAD";
  Requirement r;
  r.type = t.type.empty() ? "*" : t.type;
  switch (t.route) {
    case Route::kMetadata:
    case Route::kHealth:
    case Route::kReady:
    case Route::kMetrics:
      r.is_public = true;
      return r;
    case Route::kSystem:
      r.type = "*";
      r.permissions = get ? trust::kSearch : kAll;  // batch/transaction: anything inside
      return r;
    case Route::kSystemHistory:
      r.type = "*";
      r.permissions = trust::kRead | trust::kSearch;
      return r;
    case Route::kSystemSearch:
      r.type = "*";
      r.permissions = trust::kSearch;
      return r;
    case Route::kType:
      if (get) r.permissions = trust::kSearch;
      else if (method == "POST") r.permissions = trust::kCreate;
      else if (method == "PUT") r.permissions = trust::kUpdate | trust::kSearch;
      else if (method == "DELETE") r.permissions = trust::kDelete | trust::kSearch;
      else r.permissions = kAll;
      return r;
    case Route::kTypeSearch:
    case Route::kCompartmentSearch:
      r.permissions = trust::kSearch;
      // Patient/1/Observation searches Observations (compartment_type "*": all).
      if (t.route == Route::kCompartmentSearch) {
        r.type = t.compartment_type.empty() ? "*" : t.compartment_type;
      }
      return r;
    case Route::kTypeHistory:
      r.permissions = trust::kRead | trust::kSearch;
      return r;
    case Route::kInstance:
      if (get) r.permissions = trust::kRead;
      else if (method == "PUT") r.permissions = trust::kUpdate;
      else if (method == "PATCH") r.permissions = trust::kUpdate;
      else if (method == "DELETE") r.permissions = trust::kDelete;
      else r.permissions = kAll;
      return r;
    case Route::kInstanceHistory:
    case Route::kVersion:
      r.permissions = trust::kRead;
      return r;
    case Route::kTypeOperation:
      // $validate stores nothing and returns no data: any valid token.
      r.permissions = t.operation == "validate" ? 0 : kAll;
      return r;
    case Route::kInstanceOperation:
    case Route::kSystemOperation:
      // $everything reads a whole compartment: read and search on every type.
      r.type = "*";
      r.permissions = trust::kRead | trust::kSearch;
      return r;
  }
  r.permissions = kAll;
  return r;
}

Result<trust::Principal> Authenticate(const Context& ctx, const http::Request& req) {
  std::string_view target = req.target;
  if (size_t q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  std::string url = ctx.options.base_url + std::string(target);
  return ctx.verifier->Verify(trust::RequestAuth{req.Header("authorization"), req.Header("dpop"),
                                                 req.method, url});
}

Status Authorize(const trust::Principal& principal, const Requirement& need) {
  if (need.is_public || need.permissions == 0) return Status::Ok();
  for (uint8_t bit : {trust::kCreate, trust::kRead, trust::kUpdate, trust::kDelete,
                      trust::kSearch}) {
    if (!(need.permissions & bit)) continue;
    if (!principal.scopes.Allows(need.type, static_cast<trust::Permission>(bit))) {
      return Status::Error(ErrorCategory::kForbidden, "GM-AUTH-040", "forbidden",
                           "the token's scopes do not grant '" + PermissionText(bit) + "' on " +
                               (need.type == "*" ? std::string("all types") : need.type));
    }
  }
  return Status::Ok();
}

AccessMode ModeFor(const trust::Principal& principal, const Requirement& need) {
  auto grants = [&](trust::ScopeContext context) {
    for (uint8_t bit : {trust::kCreate, trust::kRead, trust::kUpdate, trust::kDelete,
                        trust::kSearch}) {
      if ((need.permissions & bit) &&
          !principal.scopes.Allows(need.type, static_cast<trust::Permission>(bit), {context})) {
        return false;
      }
    }
    return true;
  };
  if (grants(trust::ScopeContext::kSystem)) return AccessMode::kSystem;
  if (grants(trust::ScopeContext::kUser)) return AccessMode::kUser;
  return AccessMode::kPatient;
}

Status PatientAccess(const Context& ctx, const trust::Principal& principal, const Target& target,
                     const std::string& method, std::vector<std::string>& patient_ids) {
  auto forbidden = [](std::string text) {
    return Status::Error(ErrorCategory::kForbidden, "GM-AUTH-042", "forbidden", std::move(text));
  };
  auto not_found = [&] {
    return Status::Error(ErrorCategory::kNotFound, "GM-REST-060", "not-found",
                         "resource " + target.type + "/" + target.id + " is not known");
  };
  if (principal.pid.empty()) return forbidden("patient scopes need a person (pid) in the token");
  // The person's Patient resources, by fødselsnummer or D-nummer.
  store::Query q;
  q.type = "Patient";
  q.limit = 10;
  store::Clause id;
  id.op = store::Clause::Op::kTokenEq;
  id.param = "identifier";
  for (std::string_view system : {no::systems::kFnr, no::systems::kDnr}) {
    id.any_of.push_back(store::Clause::Value{
        .system = std::string(system), .system_given = true, .code = principal.pid});
  }
  q.clauses.push_back(std::move(id));
  GM_ASSIGN_OR_RETURN(store::QueryPage page, ctx.store.Search(q));
  for (const auto& v : page.resources) patient_ids.push_back(v.id);
  if (patient_ids.empty()) return forbidden("no patient record belongs to this person");
  auto own = [&](const std::string& pid) {
    return std::find(patient_ids.begin(), patient_ids.end(), pid) != patient_ids.end();
  };
  const bool get = method == "GET" || method == "HEAD";
  switch (target.route) {
    case Route::kInstance:
    case Route::kVersion:
    case Route::kInstanceHistory: {
      if (!get) return forbidden("citizens read their own record here; they do not change it");
      if (target.type == "Patient" && own(target.id)) return Status::Ok();
      // In one of the person's compartments? (index-backed: _id + compartment)
      store::Query in;
      in.type = target.type;
      in.limit = 1;
      store::Clause by_id;
      by_id.op = store::Clause::Op::kId;
      by_id.param = "_id";
      by_id.any_of.push_back(store::Clause::Value{.code = target.id});
      store::Clause comp;
      comp.op = store::Clause::Op::kCompartment;
      for (const auto& p : patient_ids) comp.any_of.push_back(store::Clause::Value{.code = p});
      in.clauses.push_back(std::move(by_id));
      in.clauses.push_back(std::move(comp));
      GM_ASSIGN_OR_RETURN(store::QueryPage hit, ctx.store.Search(in));
      if (hit.resources.empty()) return not_found();  // the same answer as for an unknown id
      return Status::Ok();
    }
    case Route::kType:
    case Route::kTypeSearch:
      if (!(get || (target.route == Route::kTypeSearch && method == "POST"))) {
        return forbidden("citizens read their own record here; they do not change it");
      }
      return Status::Ok();  // restricted to the compartments by the search handler
    case Route::kCompartmentSearch:
    case Route::kInstanceOperation:
      if (target.type == "Patient" && own(target.id)) return Status::Ok();
      return Status::Error(ErrorCategory::kNotFound, "GM-REST-060", "not-found",
                           "resource Patient/" + target.id + " is not known");
    default:
      return forbidden("this route is not open to citizens");
  }
}

http::Response Unauthorized(const Status& status) {
  http::Response r = ErrorResponse(status);
  r.status = 401;
  std::string error = status.code() == "GM-AUTH-001" ? "" : ", error=\"invalid_token\"";
  r.SetHeader("WWW-Authenticate",
              "DPoP algs=\"ES256 RS256\"" + error + ", Bearer realm=\"grunnmur\"" + error);
  return r;
}

std::optional<http::Response> Discovery(const Context& ctx, const http::Request& req) {
  if (req.path != "/.well-known/openid-configuration" && req.path != "/jwks" &&
      req.path != "/.well-known/jwks.json") {
    return std::nullopt;
  }
  http::Response r;
  r.interaction = "discovery";
  r.SetHeader("Content-Type", "application/json; charset=utf-8");
  r.SetHeader("Cache-Control", "max-age=300");
  if (req.method != "GET" && req.method != "HEAD") {
    return ErrorResponse(Status::Error(ErrorCategory::kMethodNotAllowed, "GM-REST-004",
                                       "not-supported", "only GET is allowed here"));
  }
  if (req.path == "/.well-known/openid-configuration") {
    json::Value d = json::Value::MakeObject();
    d.set("issuer", ctx.issuer);
    d.set("jwks_uri", ctx.options.base_url + "/jwks");
    d.set("token_endpoint", ctx.options.base_url + "/token");
    json::Value grants = json::Value::MakeArray();
    grants.push_back("client_credentials");
    d.set("grant_types_supported", grants);
    json::Value methods = json::Value::MakeArray();
    methods.push_back("private_key_jwt");
    d.set("token_endpoint_auth_methods_supported", methods);
    json::Value algs = json::Value::MakeArray();
    algs.push_back("ES256");
    algs.push_back("RS256");
    d.set("dpop_signing_alg_values_supported", algs);
    d.set("token_endpoint_auth_signing_alg_values_supported", algs);
    json::Value scopes = json::Value::MakeArray();
    for (const char* s : {"openid", "patient/*.rs", "user/*.cruds", "system/*.cruds"}) {
      scopes.push_back(s);
    }
    d.set("scopes_supported", scopes);
    r.body = json::Write(d);
    return r;
  }
  r.body = ctx.keys ? json::Write(ctx.keys->PublicJwks()) : std::string("{\"keys\":[]}");
  return r;
}

}  // namespace gm::rest
