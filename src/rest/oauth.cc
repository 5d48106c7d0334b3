// grunnmur's own authorization server, the endpoints that speak JSON:
//   POST /token       client_credentials (systems) and authorization_code
//                     (people, PKCE S256), both with private_key_jwt; optional
//                     DPoP binding (RFC 9449); id_token when "openid" was asked
//   POST /par         pushed authorization requests (RFC 9126), private_key_jwt
//   POST /introspect  RFC 7662, private_key_jwt; anything invalid: active=false
//   GET|POST /userinfo OIDC, with the access token (DPoP proof when bound)
// /authorize and the login page are in authorize.cc. Answers follow RFC 6749
// §5 (JSON, Cache-Control: no-store). Client secrets do not exist;
// assertions, codes and tokens are never logged. Flows: docs/trust-oauth.md.
#include <algorithm>

#include "core/json.h"
#include "no/identifiers.h"
#include "rest/auth.h"
#include "rest/oauth_internal.h"
#include "rest/request.h"
#include "trust/authcode.h"

namespace gm::rest {

namespace oauth {

http::Response Error(int status, std::string_view error, std::string description,
                     std::string_view interaction) {
  http::Response r;
  r.status = status;
  r.interaction = std::string(interaction);
  r.SetHeader("Content-Type", "application/json; charset=utf-8");
  r.SetHeader("Cache-Control", "no-store");
  json::Value e = json::Value::MakeObject();
  e.set("error", std::string(error));
  e.set("error_description", std::move(description));
  r.body = json::Write(e);
  if (status == 401) r.SetHeader("WWW-Authenticate", "Bearer realm=\"grunnmur\"");
  return r;
}

http::Response Json(const json::Value& body, std::string_view interaction, int status) {
  http::Response r;
  r.status = status;
  r.interaction = std::string(interaction);
  r.SetHeader("Content-Type", "application/json; charset=utf-8");
  r.SetHeader("Cache-Control", "no-store");
  r.body = json::Write(body);
  return r;
}

std::string Param(const Params& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

std::string PersonSubject(const std::string& pid) {
  return trust::Base64UrlEncode(trust::Sha256("grunnmur:person:" + pid)).substr(0, 32);
}

namespace {

std::optional<store::ResourceVersion> FindByPid(const Context& ctx, const std::string& type,
                                                const std::string& pid) {
  store::Query q;
  q.type = type;
  q.limit = 2;
  store::Clause id;
  id.op = store::Clause::Op::kTokenEq;
  id.param = "identifier";
  for (std::string_view system : {no::systems::kFnr, no::systems::kDnr}) {
    id.any_of.push_back(
        store::Clause::Value{.system = std::string(system), .system_given = true, .code = pid});
  }
  q.clauses.push_back(std::move(id));
  auto page = ctx.store.Search(q);
  if (!page.ok()) return std::nullopt;
  for (auto& v : page->resources) {
    if (!v.deleted && !v.json.empty()) return std::move(v);
  }
  return std::nullopt;
}

Person NameOf(const json::Value& resource) {
  Person p;
  const json::Value* names = resource.find("name");
  if (names == nullptr || !names->is_array() || names->empty()) return p;
  const json::Value* chosen = &names->array()[0];
  for (const auto& n : names->array()) {
    if (n.get_string("use") == "official") {
      chosen = &n;
      break;
    }
  }
  p.family_name = std::string(chosen->get_string("family"));
  if (const json::Value* given = chosen->find("given"); given && given->is_array()) {
    for (const auto& g : given->array()) {
      if (!g.is_string()) continue;
      if (!p.given_name.empty()) p.given_name += " ";
      p.given_name += g.str();
    }
  }
  p.name = std::string(chosen->get_string("text"));
  if (p.name.empty()) {
    p.name = p.given_name;
    if (!p.family_name.empty()) p.name += (p.name.empty() ? "" : " ") + p.family_name;
  }
  return p;
}

}  // namespace

std::optional<Person> FindPatient(const Context& ctx, const std::string& pid) {
  auto v = FindByPid(ctx, "Patient", pid);
  if (!v) return std::nullopt;
  auto doc = json::Parse(v->json);
  if (!doc.ok()) return std::nullopt;
  return NameOf(*doc);
}

std::optional<Person> FindPractitioner(const Context& ctx, const std::string& pid) {
  auto v = FindByPid(ctx, "Practitioner", pid);
  if (!v) return std::nullopt;
  auto doc = json::Parse(v->json);
  if (!doc.ok()) return std::nullopt;
  Person p = NameOf(*doc);
  if (const json::Value* ids = doc->find("identifier"); ids && ids->is_array()) {
    for (const auto& i : ids->array()) {
      auto system = no::IdentifySystem(i.get_string("system"));
      if (system && *system == no::IdSystem::kHpr && !i.get_string("value").empty()) {
        p.hpr_number = std::string(i.get_string("value"));
        break;
      }
    }
  }
  return p;
}

}  // namespace oauth

namespace {

using oauth::Error;
using oauth::Param;

constexpr std::string_view kJwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
constexpr int64_t kSystemTokenTtl = 600;
constexpr int64_t kPersonTokenTtl = 300;

// The form body of an OAuth POST: urlencoded, no repeated parameter.
Result<Params> ReadForm(const http::Request& req) {
  auto bad = [](std::string text) {
    return Status::Error(ErrorCategory::kInvalid, "GM-AUTH-070", "value", std::move(text));
  };
  if (req.method != "POST") return bad("use POST");
  std::string_view ct = req.Header("content-type");
  if (ct.substr(0, ct.find(';')) != "application/x-www-form-urlencoded") {
    return bad("the body must be application/x-www-form-urlencoded");
  }
  auto form = ParseForm(req.body);
  if (!form.ok()) return bad("the form body is malformed");
  for (size_t i = 0; i < form->size(); ++i) {
    for (size_t j = i + 1; j < form->size(); ++j) {
      if ((*form)[i].first == (*form)[j].first) return bad("a parameter is repeated");
    }
  }
  return form;
}

// private_key_jwt (RFC 7523) for any endpoint of this server.
Result<trust::AuthenticatedClient> AuthenticateClient(const Context& ctx, const Params& form,
                                                      std::string_view endpoint) {
  if (Param(form, "client_assertion_type") != kJwtBearer) {
    return Status::Error(ErrorCategory::kUnauthorized, "GM-AUTH-050", "login",
                         "clients authenticate with private_key_jwt (client_assertion_type "
                         "jwt-bearer)");
  }
  trust::AssertionCheck check;
  check.audiences = {ctx.issuer, ctx.options.base_url, ctx.options.base_url + "/token",
                     ctx.options.base_url + std::string(endpoint)};
  GM_ASSIGN_OR_RETURN(trust::AuthenticatedClient client,
                      trust::VerifyClientAssertion(Param(form, "client_assertion"), *ctx.clients,
                                                   check, ctx.clock, *ctx.assertion_jtis));
  std::string claimed_id = Param(form, "client_id");
  if (!claimed_id.empty() && claimed_id != client.client.client_id) {
    return Status::Error(ErrorCategory::kUnauthorized, "GM-AUTH-051", "login",
                         "client_id does not match the client assertion");
  }
  return client;
}

// The scopes without the system/… ones (which belong to client_credentials).
std::string WithoutSystemScopes(std::string_view granted) {
  std::string out;
  size_t i = 0;
  while (i < granted.size()) {
    size_t end = granted.find(' ', i);
    if (end == std::string_view::npos) end = granted.size();
    std::string_view s = granted.substr(i, end - i);
    i = end + 1;
    if (s.empty()) continue;
    auto rs = trust::ParseResourceScope(s);
    if (rs && rs->context == trust::ScopeContext::kSystem) continue;
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

bool HasScope(std::string_view scopes, std::string_view want) {
  size_t i = 0;
  while (i <= scopes.size()) {
    size_t end = scopes.find(' ', i);
    if (end == std::string_view::npos) end = scopes.size();
    if (scopes.substr(i, end - i) == want) return true;
    i = end + 1;
  }
  return false;
}

std::optional<int64_t> IntOf(const json::Value& o, std::string_view k) {
  const json::Value* v = o.find(k);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  double d = std::strtod(v->str().c_str(), nullptr);
  if (!(d > -1e15 && d < 1e15)) return std::nullopt;
  return static_cast<int64_t>(d);
}

// The claims of an access token issued by this server and valid now; nullopt
// for anything else (other issuers, id_tokens, expired, bad signature …).
std::optional<json::Value> OwnAccessToken(const Context& ctx, std::string_view token) {
  if (ctx.keys == nullptr || ctx.token_issuer == nullptr) return std::nullopt;
  auto jws = trust::DecodeJws(token);
  if (!jws.ok()) return std::nullopt;
  std::string_view typ = jws->header.get_string("typ");
  if (typ != "at+jwt" && typ != "application/at+jwt") return std::nullopt;
  for (const char* k : {"jku", "x5u", "jwk", "x5c"}) {
    if (jws->header.find(k) != nullptr) return std::nullopt;
  }
  const json::Value& c = jws->payload;
  if (c.get_string("iss") != ctx.issuer) return std::nullopt;
  auto key = ctx.keys->Find(jws->header.get_string("kid"));
  if (!key || !trust::VerifyJws(*jws, *key, {trust::Alg::kES256, trust::Alg::kRS256}).ok()) {
    return std::nullopt;
  }
  const json::Value* aud = c.find("aud");
  bool aud_ok = aud && aud->is_string() && aud->str() == ctx.token_issuer->audience();
  if (aud && aud->is_array() && aud->size() == 1 && aud->array()[0].is_string()) {
    aud_ok = aud->array()[0].str() == ctx.token_issuer->audience();
  }
  if (!aud_ok) return std::nullopt;
  const int64_t now = ctx.clock.NowUs() / 1'000'000;
  auto exp = IntOf(c, "exp");
  auto nbf = IntOf(c, "nbf");
  if (!exp || *exp < now) return std::nullopt;
  if (c.find("nbf") && (!nbf || *nbf > now + 5)) return std::nullopt;
  return c;
}

std::optional<std::string> DpopBinding(const Context& ctx, const http::Request& req,
                                       std::string_view path, Status* error) {
  std::string_view proof = req.Header("dpop");
  if (proof.empty()) return std::string();
  auto jkt = ctx.verifier == nullptr
                 ? Result<std::string>(Status::Error(ErrorCategory::kUnauthorized, "GM-AUTH-011",
                                                     "login", "DPoP is not available"))
                 : ctx.verifier->VerifyDpopProof(proof, "POST",
                                                 ctx.options.base_url + std::string(path),
                                                 std::nullopt);
  if (!jkt.ok()) {
    *error = jkt.status();
    return std::nullopt;
  }
  return *jkt;
}

http::Response TokenResponse(std::string access_token, const std::string& token_type, int64_t ttl,
                             const std::string& scope, std::string id_token = {}) {
  json::Value out = json::Value::MakeObject();
  out.set("access_token", std::move(access_token));
  out.set("token_type", token_type);
  out.set("expires_in", ttl);
  out.set("scope", scope);
  if (!id_token.empty()) out.set("id_token", std::move(id_token));
  return oauth::Json(out, "token");
}

http::Response ClientCredentials(const Context& ctx, const http::Request& req, const Params& form) {
  auto client = AuthenticateClient(ctx, form, "/token");
  if (!client.ok()) return Error(401, "invalid_client", client.status().message());
  if (!client->client.Allows("client_credentials")) {
    return Error(400, "unauthorized_client", "this client may not use client_credentials");
  }
  auto scope = trust::GrantScopes(Param(form, "scope"), client->client.allowed_scope);
  if (!scope) return Error(400, "invalid_scope", "a requested scope is not allowed for this client");

  trust::IssueRequest issue;
  issue.client_id = client->client.client_id;
  issue.subject = client->client.client_id;
  issue.scope = *scope;
  issue.orgnr_parent = client->client.orgnr_parent;
  issue.orgnr_child = client->client.orgnr_child;
  issue.ttl_seconds = kSystemTokenTtl;
  // The attestation travels in the signed assertion and is copied as it is.
  if (const json::Value* details = client->claims.find("authorization_details")) {
    auto parsed = trust::ParseAttestation(*details);
    if (!parsed.ok()) return Error(400, "invalid_authorization_details", parsed.status().message());
    issue.authorization_details = *details;
  }
  Status dpop_error;
  auto jkt = DpopBinding(ctx, req, "/token", &dpop_error);
  if (!jkt) return Error(400, "invalid_dpop_proof", dpop_error.message());
  issue.cnf_jkt = *jkt;
  return TokenResponse(ctx.token_issuer->Issue(issue), jkt->empty() ? "Bearer" : "DPoP",
                       kSystemTokenTtl, *scope);
}

std::string IdToken(const Context& ctx, const trust::CodeGrant& g, const std::string& client_id,
                    int64_t now) {
  json::Value h = json::Value::MakeObject();
  h.set("typ", "JWT");
  json::Value c = json::Value::MakeObject();
  c.set("iss", ctx.issuer);
  c.set("sub", oauth::PersonSubject(g.pid));
  c.set("aud", client_id);
  c.set("iat", now);
  c.set("exp", now + kPersonTokenTtl);
  c.set("auth_time", g.auth_time);
  if (!g.request.nonce.empty()) c.set("nonce", g.request.nonce);
  c.set(trust::kClaimPid, g.pid);
  c.set(trust::kClaimSecurityLevel, "4");
  if (!g.hpr_number.empty()) c.set(trust::kClaimHpr, g.hpr_number);
  if (!g.name.empty()) c.set("name", g.name);
  return trust::SignJws(std::move(h), c, ctx.keys->Current());
}

http::Response AuthorizationCode(const Context& ctx, const http::Request& req, const Params& form) {
  auto client = AuthenticateClient(ctx, form, "/token");
  if (!client.ok()) return Error(401, "invalid_client", client.status().message());
  if (!client->client.Allows("authorization_code") || ctx.auth_codes == nullptr) {
    return Error(400, "unauthorized_client", "this client may not use authorization_code");
  }
  // The code is spent by this attempt whatever happens next (RFC 6749 §4.1.2).
  auto grant = ctx.auth_codes->TakeCode(Param(form, "code"));
  // One answer for every failure: nothing tells which check failed.
  auto invalid = [] {
    return Error(400, "invalid_grant", "the code is invalid, expired, already used or not yours");
  };
  if (!grant) return invalid();
  if (grant->request.client_id != client->client.client_id) return invalid();
  if (Param(form, "redirect_uri") != grant->request.redirect_uri) return invalid();
  if (!trust::PkceS256Matches(Param(form, "code_verifier"), grant->request.code_challenge)) {
    return invalid();
  }
  Status dpop_error;
  auto jkt = DpopBinding(ctx, req, "/token", &dpop_error);
  if (!jkt) return Error(400, "invalid_dpop_proof", dpop_error.message());
  // A code bound to a DPoP key (dpop_jkt at /par) needs a proof by that key.
  if (!grant->request.dpop_jkt.empty() && *jkt != grant->request.dpop_jkt) return invalid();

  trust::IssueRequest issue;
  issue.client_id = client->client.client_id;
  issue.subject = oauth::PersonSubject(grant->pid);
  issue.scope = grant->scope;
  issue.pid = grant->pid;
  if (grant->clinician) issue.hpr_number = grant->hpr_number;
  issue.security_level = 4;
  issue.orgnr_parent = client->client.orgnr_parent;
  issue.orgnr_child = client->client.orgnr_child;
  issue.authorization_details = grant->request.authorization_details;
  issue.cnf_jkt = *jkt;
  issue.ttl_seconds = kPersonTokenTtl;
  const int64_t now = ctx.clock.NowUs() / 1'000'000;
  std::string id_token;
  if (HasScope(grant->scope, "openid")) {
    id_token = IdToken(ctx, *grant, client->client.client_id, now);
  }
  return TokenResponse(ctx.token_issuer->Issue(issue), jkt->empty() ? "Bearer" : "DPoP",
                       kPersonTokenTtl, grant->scope, std::move(id_token));
}

http::Response Token(const Context& ctx, const http::Request& req) {
  auto form = ReadForm(req);
  if (!form.ok()) return Error(400, "invalid_request", form.status().message());
  std::string grant = Param(*form, "grant_type");
  if (grant == "client_credentials") return ClientCredentials(ctx, req, *form);
  if (grant == "authorization_code") return AuthorizationCode(ctx, req, *form);
  return Error(400, "unsupported_grant_type",
               "grant types are client_credentials and authorization_code");
}

// A request object (RFC 9101) of the client: signed by one of its keys, typ
// oauth-authz-req+jwt (or JWT), iss = the client, aud = this server, exp in
// the next hour, jti (when present) used once. Returns its claims.
Result<json::Value> VerifyRequestObject(const Context& ctx, const trust::Client& client,
                                        std::string_view object) {
  auto bad = [](std::string text) {
    return Status::Error(ErrorCategory::kInvalid, "GM-AUTH-071", "value",
                         "request object: " + std::move(text));
  };
  auto jws = trust::DecodeJws(object);
  if (!jws.ok()) return bad("not a signed JWT");
  std::string typ(jws->header.get_string("typ"));
  for (char& ch : typ) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (typ != "oauth-authz-req+jwt" && typ != "jwt") return bad("typ must be oauth-authz-req+jwt");
  for (const char* k : {"jku", "x5u", "jwk", "x5c"}) {
    if (jws->header.find(k) != nullptr) return bad("it may not name its own keys");
  }
  std::string_view kid = jws->header.get_string("kid");
  bool verified = false;
  for (const auto& k : client.keys) {
    if (!kid.empty() && !k.kid().empty() && k.kid() != kid) continue;
    if (trust::VerifyJws(*jws, k, {trust::Alg::kES256, trust::Alg::kRS256}).ok()) {
      verified = true;
      break;
    }
  }
  if (!verified) return bad("no key of the client verifies it");
  const json::Value& c = jws->payload;
  if (c.get_string("iss") != client.client_id) return bad("iss must be the client_id");
  auto aud_ok = [&](std::string_view a) {
    return a == ctx.issuer || a == ctx.options.base_url || a == ctx.options.base_url + "/par";
  };
  const json::Value* aud = c.find("aud");
  bool ok = aud && aud->is_string() && aud_ok(aud->str());
  if (aud && aud->is_array() && aud->size() == 1 && aud->array()[0].is_string()) {
    ok = aud_ok(aud->array()[0].str());
  }
  if (!ok) return bad("aud must be this server");
  const int64_t now = ctx.clock.NowUs() / 1'000'000;
  auto exp = IntOf(c, "exp");
  if (!exp || *exp + 5 < now || *exp > now + 3600) return bad("exp missing, passed or too far ahead");
  auto nbf = IntOf(c, "nbf");
  if (c.find("nbf") && (!nbf || *nbf > now + 5)) return bad("not valid yet");
  if (std::string jti(c.get_string("jti")); !jti.empty()) {
    if (!ctx.assertion_jtis->FirstUse("ro:" + client.client_id + ":" + jti, *exp + 5, now)) {
      return bad("it was used before");
    }
  }
  if (c.find("request") || c.find("request_uri")) return bad("it may not nest requests");
  return c;
}

// RFC 9126: the client pushes its authorization request, authenticated.
http::Response PushedAuthorizationRequest(const Context& ctx, const http::Request& req) {
  auto err = [](int status, std::string_view e, std::string text) {
    return Error(status, e, std::move(text), "par");
  };
  if (ctx.auth_codes == nullptr) return err(400, "invalid_request", "no authorization-code flow");
  auto form = ReadForm(req);
  if (!form.ok()) return err(400, "invalid_request", form.status().message());
  auto client = AuthenticateClient(ctx, *form, "/par");
  if (!client.ok()) return err(401, "invalid_client", client.status().message());
  const trust::Client& c = client->client;
  if (!c.Allows("authorization_code") || c.client_id == ctx.token_issuer->audience()) {
    return err(400, "unauthorized_client", "this client may not use authorization_code");
  }
  if (!Param(*form, "request_uri").empty()) {
    return err(400, "invalid_request", "request_uri is not allowed in a pushed request");
  }
  // The authorization parameters: the form's, or only those of a signed
  // request object (RFC 9101; RFC 9126 §3) when one is sent.
  Params ap = *form;
  json::Value object_details;
  if (std::string object = Param(*form, "request"); !object.empty()) {
    auto claims = VerifyRequestObject(ctx, c, object);
    if (!claims.ok()) return err(400, "invalid_request_object", claims.status().message());
    ap.clear();
    for (const auto& [k, v] : claims->object()) {
      if (v.is_string()) ap.emplace_back(k, v.str());
    }
    if (std::string id = Param(ap, "client_id"); !id.empty() && id != c.client_id) {
      return err(400, "invalid_request_object", "client_id does not match the client");
    }
    if (const json::Value* d = claims->find("authorization_details")) object_details = *d;
  }
  if (Param(ap, "response_type") != "code") {
    return err(400, "unsupported_response_type", "response_type must be code");
  }
  trust::PushedRequest pr;
  pr.client_id = c.client_id;
  pr.redirect_uri = Param(ap, "redirect_uri");
  if (pr.redirect_uri.empty() || !c.HasRedirectUri(pr.redirect_uri)) {
    return err(400, "invalid_request", "redirect_uri must be one the client registered (exactly)");
  }
  std::string method = Param(ap, "code_challenge_method");
  pr.code_challenge = Param(ap, "code_challenge");
  if (pr.code_challenge.empty()) {
    return err(400, "invalid_request", "PKCE is required: send code_challenge (S256)");
  }
  if (method != "S256") {
    return err(400, "invalid_request", "code_challenge_method must be S256 (plain is refused)");
  }
  if (!trust::IsS256Challenge(pr.code_challenge)) {
    return err(400, "invalid_request", "code_challenge is not a base64url SHA-256 value");
  }
  // DPoP binding of the code (RFC 9449 §10): dpop_jkt, or a proof sent to /par.
  pr.dpop_jkt = Param(ap, "dpop_jkt");
  {
    Status dpop_error;
    auto jkt = DpopBinding(ctx, req, "/par", &dpop_error);
    if (!jkt) return err(400, "invalid_dpop_proof", dpop_error.message());
    if (!jkt->empty()) {
      if (!pr.dpop_jkt.empty() && pr.dpop_jkt != *jkt) {
        return err(400, "invalid_dpop_proof", "dpop_jkt is not the key of the DPoP proof");
      }
      pr.dpop_jkt = *jkt;
    }
  }
  pr.state = Param(ap, "state");
  pr.nonce = Param(ap, "nonce");
  if (pr.state.size() > 1024 || pr.nonce.size() > 256) {
    return err(400, "invalid_request", "state or nonce is too long");
  }
  std::string requested = Param(ap, "scope");
  const trust::ScopeSet requested_set = trust::ScopeSet::Parse(requested);
  for (const auto& r : requested_set.resources()) {
    if (r.context == trust::ScopeContext::kSystem) {
      return err(400, "invalid_scope", "system scopes are for client_credentials");
    }
  }
  auto scope = trust::GrantScopes(requested, c.allowed_scope);
  if (!scope) return err(400, "invalid_scope", "a requested scope is not allowed for this client");
  // People's flows carry no system scopes (an empty request grants all the
  // client's allowed scopes: the system ones among them are dropped).
  pr.scope = WithoutSystemScopes(*scope);
  // The trust-framework attestation: in the request object, the form or the
  // signed assertion.
  std::string details_text = Param(ap, "authorization_details");
  if (!object_details.is_null()) {
    pr.authorization_details = std::move(object_details);
  } else if (!details_text.empty()) {
    auto details = json::Parse(details_text);
    if (!details.ok() || !(details->is_array() || details->is_object())) {
      return err(400, "invalid_authorization_details", "authorization_details is not JSON");
    }
    pr.authorization_details = std::move(*details);
  } else if (const json::Value* d = client->claims.find("authorization_details")) {
    pr.authorization_details = *d;
  }
  if (!pr.authorization_details.is_null()) {
    auto parsed = trust::ParseAttestation(pr.authorization_details);
    if (!parsed.ok()) return err(400, "invalid_authorization_details", parsed.status().message());
  }
  auto uri = ctx.auth_codes->PushRequest(std::move(pr));
  if (!uri) return err(503, "temporarily_unavailable", "too many authorization requests pending");
  json::Value out = json::Value::MakeObject();
  out.set("request_uri", *uri);
  out.set("expires_in", ctx.auth_codes->options().request_ttl_s);
  return oauth::Json(out, "par", 201);
}

// RFC 7662: for anything but an active token of this server, {"active":false}.
http::Response Introspect(const Context& ctx, const http::Request& req) {
  auto form = ReadForm(req);
  if (!form.ok()) return Error(400, "invalid_request", form.status().message(), "introspect");
  auto client = AuthenticateClient(ctx, *form, "/introspect");
  if (!client.ok()) return Error(401, "invalid_client", client.status().message(), "introspect");
  json::Value out = json::Value::MakeObject();
  auto claims = OwnAccessToken(ctx, Param(*form, "token"));
  if (!claims) {
    out.set("active", false);
    return oauth::Json(out, "introspect");
  }
  out.set("active", true);
  for (std::string_view k : std::initializer_list<std::string_view>{"scope", "client_id", "sub", "aud", "iss", "exp", "iat", "nbf", "jti",
                             "cnf", trust::kClaimPid, trust::kClaimHpr, trust::kClaimSecurityLevel,
                             trust::kClaimOrgParent, trust::kClaimOrgChild,
                             "authorization_details"}) {
    if (const json::Value* v = claims->find(k)) out.set(std::string(k), *v);
  }
  const json::Value* cnf = claims->find("cnf");
  out.set("token_type", cnf != nullptr ? "DPoP" : "Bearer");
  return oauth::Json(out, "introspect");
}

// OIDC UserInfo: who the access token's person is.
http::Response UserInfo(const Context& ctx, const http::Request& req) {
  auto unauthorized = [](std::string_view error, std::string text) {
    http::Response r = Error(401, error, std::move(text), "userinfo");
    r.SetHeader("WWW-Authenticate", "DPoP algs=\"ES256 RS256\", Bearer realm=\"grunnmur\", error=\"" +
                                        std::string(error) + "\"");
    return r;
  };
  if (req.method != "GET" && req.method != "POST") {
    return Error(405, "invalid_request", "use GET or POST", "userinfo");
  }
  if (ctx.verifier == nullptr) return unauthorized("invalid_token", "tokens are not checked here");
  auto who = Authenticate(ctx, req);
  if (!who.ok()) return unauthorized("invalid_token", who.status().message());
  if (!who->scopes.Has("openid") || who->pid.empty()) {
    http::Response r = Error(403, "insufficient_scope",
                             "userinfo needs a person's token with the openid scope", "userinfo");
    return r;
  }
  json::Value out = json::Value::MakeObject();
  out.set("sub", who->subject);
  out.set(std::string(trust::kClaimPid), who->pid);
  if (who->security_level > 0) {
    out.set(std::string(trust::kClaimSecurityLevel), std::to_string(who->security_level));
  }
  std::optional<oauth::Person> person;
  if (!who->hpr_number.empty()) {
    out.set(std::string(trust::kClaimHpr), who->hpr_number);
    person = oauth::FindPractitioner(ctx, who->pid);
  }
  if (!person) person = oauth::FindPatient(ctx, who->pid);
  if (person) {
    if (!person->name.empty()) out.set("name", person->name);
    if (!person->given_name.empty()) out.set("given_name", person->given_name);
    if (!person->family_name.empty()) out.set("family_name", person->family_name);
  }
  return oauth::Json(out, "userinfo");
}

}  // namespace

std::optional<http::Response> TokenEndpoint(const Context& ctx, const http::Request& req) {
  const std::string& p = req.path;
  if (p != "/token" && p != "/par" && p != "/introspect" && p != "/userinfo" &&
      p != "/authorize" && p != "/authorize/login") {
    return std::nullopt;
  }
  if (p == "/userinfo") return UserInfo(ctx, req);
  if (ctx.clients == nullptr || ctx.token_issuer == nullptr || ctx.assertion_jtis == nullptr ||
      ctx.keys == nullptr) {
    return Error(400, "unsupported_grant_type", "this server issues no tokens");
  }
  if (p == "/token") return Token(ctx, req);
  if (p == "/par") return PushedAuthorizationRequest(ctx, req);
  if (p == "/introspect") return Introspect(ctx, req);
  return oauth::Authorize(ctx, req);
}

}  // namespace gm::rest
